import { digestResult } from '../shared/digest';
import type { Plan } from '../shared/plan';
import { findRefs, isRefError } from '../shared/refs';
import {
  COMPACT_PROGRESS_STEPS,
  packRows,
  stepRow,
  unpackRows,
  type Continuation,
  type McpCallOutput,
  type RunProgress,
  type RunSummary,
  type StepProgress,
  type StepStatus,
} from '../shared/run-types';

/** Largest sum of result sizes a compact report carries (beyond what later steps need). */
const REPORT_RESULT_BYTES = 256 * 1024;

/**
 * Bookkeeping of one run: step states, timings, results and readiness. Plain class, no Temporal APIs,
 * so the workflow stays a short scheduler and this logic is testable on its own.
 *
 * Readiness is counted, not searched: each step keeps the number of needs not yet done, and a
 * completion moves the dependents that reach zero to the ready queue. Scheduling is then linear in
 * steps and edges, whatever the width (the old per-step `condition()` re-checked every waiting step on
 * every workflow activation: quadratic on long pipelines).
 */
export class RunState {
  readonly progress: RunProgress;
  readonly results: Record<string, unknown> = {};
  private readonly waitingOn = new Map<string, number>();
  private readonly orderIndex = new Map<string, number>();
  /** Ready to start, in plan order among those that became ready together. */
  private readonly readyQueue: string[] = [];
  private readyHead = 0;
  private readonly newlyReady: string[] = [];
  private readonly resultBytes = new Map<string, number>();
  /** Steps whose results something may still reference: args or waits of later steps, compensations. */
  private readonly referencedBy = new Map<string, string[]>();
  private readonly compensationRefs = new Set<string>();
  readonly runs: RunSummary[] = [];
  reused?: { fromWorkflowId: string; ids: string[] };
  /** Steps finished in this run (the carried ones excluded). */
  finishedHere = 0;

  constructor(
    readonly plan: Plan,
    workflowId: string,
    now: number,
  ) {
    const steps: Record<string, StepProgress> = {};
    plan.order.forEach((id, i) => {
      const s = plan.steps[id]!;
      steps[id] = { id, server: s.server, tool: s.tool, description: s.description, phase: s.phase, needs: s.needs, status: 'waiting' };
      this.orderIndex.set(id, i);
      this.waitingOn.set(id, s.needs.length);
      if (s.needs.length === 0) this.readyQueue.push(id);
      const refs = (v: unknown) => findRefs(v).flatMap(({ ref }) => (!isRefError(ref) && ref.kind === 'step' ? [ref.step] : []));
      for (const src of [...refs(s.args), ...refs(s.wait?.match), ...refs(s.wait?.poll?.args)]) {
        const users = this.referencedBy.get(src) ?? [];
        users.push(id);
        this.referencedBy.set(src, users);
      }
      if (s.compensate) for (const src of [id, ...refs(s.compensate.args)]) this.compensationRefs.add(src);
    });
    this.progress = { workflowId, pipeline: plan.name, status: 'running', paused: false, startedAt: now, steps, completionOrder: [], toolSchemas: { ...plan.toolSchemas } };
  }

  step(id: string): StepProgress {
    return this.progress.steps[id]!;
  }

  status(id: string): StepStatus {
    return this.step(id).status;
  }

  /** True when every need of the step is done. */
  ready(id: string): boolean {
    return this.waitingOn.get(id) === 0;
  }

  get failed(): boolean {
    return this.progress.error !== undefined;
  }

  /** Steps not yet done (waiting, running, failed…). */
  get remaining(): number {
    return this.plan.order.length - this.progress.completionOrder.length;
  }

  /**
   * The next step to start, or undefined. Steps that became ready together are taken in plan order,
   * which is the order the per-step conditions of earlier versions scheduled them in (replay-safe).
   */
  nextReady(): string | undefined {
    if (this.newlyReady.length > 0) {
      this.newlyReady.sort((a, b) => this.orderIndex.get(a)! - this.orderIndex.get(b)!);
      this.readyQueue.push(...this.newlyReady);
      this.newlyReady.length = 0;
    }
    while (this.readyHead < this.readyQueue.length) {
      const id = this.readyQueue[this.readyHead++]!;
      if (this.status(id) === 'waiting') return id;
    }
    return undefined;
  }

  /** Puts back a step taken by {@link nextReady} that could not start (cap or history budget). */
  unshiftReady(): void {
    this.readyHead--;
  }

  start(id: string, now: number): void {
    Object.assign(this.step(id), { status: 'running', startedAt: now });
  }

  complete(id: string, out: McpCallOutput, now: number): void {
    if (out.schemaHash) this.checkSchema(id, `${this.plan.steps[id]!.server}/${this.plan.steps[id]!.tool}`, out.schemaHash, now);
    this.results[id] = out.result;
    this.resultBytes.set(id, out.bytes);
    Object.assign(this.step(id), {
      status: 'done',
      endedAt: now,
      attempts: out.attempt,
      toolTimeMs: out.toolTimeMs,
      callMs: out.callMs,
      replayed: out.replayed,
      resultBytes: out.bytes,
      summary: digestResult(out.result),
    });
    this.progress.completionOrder.push(id);
    this.finishedHere++;
    this.release(id);
  }

  /**
   * Schema pinning: the first hash seen (or the plan's) is the tool's contract for the whole run; a
   * different one is recorded, not fatal — the call already succeeded, the operator decides.
   */
  checkSchema(stepId: string, tool: string, hash: string, now: number): void {
    const pins = (this.progress.toolSchemas ??= {});
    const pinned = pins[tool];
    if (pinned === undefined) pins[tool] = hash;
    else if (pinned !== hash) (this.progress.schemaChanges ??= []).push({ stepId, tool, pinned, seen: hash, at: now });
  }

  private release(id: string): void {
    for (const d of this.plan.steps[id]!.dependents) {
      const left = this.waitingOn.get(d)! - 1;
      this.waitingOn.set(d, left);
      if (left === 0) this.newlyReady.push(d);
    }
  }

  fail(id: string, error: { type?: string; message: string }, now: number, cancelled = false): void {
    Object.assign(this.step(id), { status: cancelled ? 'cancelled' : 'failed', endedAt: now, error });
    if (!cancelled && !this.progress.error) this.progress.error = { stepId: id, ...error };
  }

  /** Steps never started are marked skipped when the run stops early. */
  skipRemaining(): void {
    for (const s of Object.values(this.progress.steps)) if (s.status === 'waiting') s.status = 'skipped';
  }

  /** Completed steps with a compensation, latest completion first. */
  compensable(): string[] {
    return [...this.progress.completionOrder].reverse().filter((id) => this.plan.steps[id]!.compensate);
  }

  /** Marks steps reused from an earlier workflow as done without calling their tools. */
  seed(fromWorkflowId: string, steps: Record<string, Omit<McpCallOutput, 'replayed'>>, now: number): void {
    const ids: string[] = [];
    for (const [id, seed] of Object.entries(steps)) {
      if (!this.plan.steps[id]) continue;
      this.start(id, now);
      this.complete(id, { ...seed, replayed: true }, now);
      this.step(id).reusedFrom = fromWorkflowId;
      ids.push(id);
    }
    this.finishedHere -= ids.length;
    if (ids.length > 0) this.reused = { fromWorkflowId, ids };
  }

  /** Restores what earlier runs of this workflow did (continue-as-new). */
  restore(c: Continuation): void {
    this.progress.startedAt = c.startedAt;
    this.progress.paused = c.paused;
    if (c.paused) this.progress.status = 'paused';
    this.runs.push(...c.runs);
    this.reused = c.reused;
    if (c.toolSchemas) this.progress.toolSchemas = { ...c.toolSchemas };
    if (c.schemaChanges) this.progress.schemaChanges = [...c.schemaChanges];
    const reused = new Set(c.reused?.ids ?? []);
    Object.assign(this.results, c.results);
    const rows = Array.isArray(c.rows) ? c.rows : unpackRows(c.rows, this.plan.order, c.startedAt);
    for (const row of rows) {
      const [id, status, startedAt, endedAt, toolTimeMs, callMs, attempts] = row;
      const s = this.step(id);
      s.status = status;
      if (startedAt !== null) s.startedAt = startedAt;
      if (endedAt !== null) s.endedAt = endedAt;
      if (toolTimeMs !== null) s.toolTimeMs = toolTimeMs;
      if (callMs !== null) s.callMs = callMs;
      if (attempts !== null) s.attempts = attempts;
      if (reused.has(id)) s.reusedFrom = c.reused!.fromWorkflowId;
      this.progress.completionOrder.push(id);
      this.release(id);
    }
  }

  /** Results a later run still needs: referenced by a step not done yet, or by a compensation. */
  private neededResults(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const id of Object.keys(this.results)) {
      const laterUse = (this.referencedBy.get(id) ?? []).some((u) => this.status(u) !== 'done');
      if (laterUse || this.compensationRefs.has(id)) out[id] = this.results[id];
    }
    return out;
  }

  /** What the next run needs, to continue where this one stops. Call with no step in flight. */
  continuation(received: Continuation['received'], thisRun: RunSummary): Continuation {
    return {
      startedAt: this.progress.startedAt,
      paused: this.progress.paused,
      rows: packRows(
        this.progress.completionOrder.map((id) => stepRow(this.step(id))),
        this.plan.order,
        this.progress.startedAt,
      ),
      results: this.neededResults(),
      received,
      runs: [...this.runs, thisRun],
      ...(this.reused ? { reused: this.reused } : {}),
      ...(this.progress.toolSchemas ? { toolSchemas: this.progress.toolSchemas } : {}),
      ...(this.progress.schemaChanges ? { schemaChanges: this.progress.schemaChanges } : {}),
    };
  }

  /**
   * Progress as a query or the report shows it. Small runs: the live record. Large runs: finished
   * steps as compact rows, so the payload stays far below Temporal's limits.
   */
  snapshot(historyEvents?: number): RunProgress {
    const extra = { ...(this.runs.length > 0 ? { runs: this.runs } : {}), ...(historyEvents !== undefined ? { historyEvents } : {}) };
    if (this.plan.order.length <= COMPACT_PROGRESS_STEPS) return Object.assign(this.progress, extra);
    const finished = new Set(this.progress.completionOrder);
    const steps: Record<string, StepProgress> = {};
    for (const [id, s] of Object.entries(this.progress.steps)) if (!finished.has(id)) steps[id] = s;
    return {
      ...this.progress,
      ...extra,
      steps,
      table: { columns: ['id', 'status', 'startedAt', 'endedAt', 'toolTimeMs', 'callMs', 'attempts'], rows: this.progress.completionOrder.map((id) => stepRow(this.step(id))) },
    };
  }

  /**
   * Results for the final report. Large runs keep those of the last steps (no dependents) while they
   * fit in {@link REPORT_RESULT_BYTES}; the rest are counted in `resultsOmitted`.
   */
  reportResults(): { results: Record<string, unknown>; omitted: number } {
    if (this.plan.order.length <= COMPACT_PROGRESS_STEPS) return { results: this.results, omitted: 0 };
    const results: Record<string, unknown> = {};
    let bytes = 0;
    for (const id of this.plan.order) {
      if (!(id in this.results) || this.plan.steps[id]!.dependents.length > 0) continue;
      const b = this.resultBytes.get(id) ?? JSON.stringify(this.results[id] ?? null).length;
      if (bytes + b > REPORT_RESULT_BYTES) continue;
      bytes += b;
      results[id] = this.results[id];
    }
    return { results, omitted: this.progress.completionOrder.length - Object.keys(results).length };
  }
}
