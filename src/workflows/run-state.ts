import { digestResult } from '../shared/digest';
import type { Plan } from '../shared/plan';
import type { McpCallOutput, RunProgress, StepProgress, StepStatus } from '../shared/run-types';

/**
 * Bookkeeping of one run: step states, timings and results. Plain class, no Temporal APIs, so the
 * workflow stays a short scheduler and this logic is testable on its own.
 */
export class RunState {
  readonly progress: RunProgress;
  readonly results: Record<string, unknown> = {};

  constructor(
    readonly plan: Plan,
    workflowId: string,
    now: number,
  ) {
    const steps: Record<string, StepProgress> = {};
    for (const id of plan.order) {
      const s = plan.steps[id]!;
      steps[id] = { id, server: s.server, tool: s.tool, description: s.description, phase: s.phase, needs: s.needs, status: 'waiting' };
    }
    this.progress = { workflowId, pipeline: plan.name, status: 'running', paused: false, startedAt: now, steps, completionOrder: [] };
  }

  step(id: string): StepProgress {
    return this.progress.steps[id]!;
  }

  status(id: string): StepStatus {
    return this.step(id).status;
  }

  /** True when every need of the step is done. */
  ready(id: string): boolean {
    return this.plan.steps[id]!.needs.every((n) => this.status(n) === 'done');
  }

  get failed(): boolean {
    return this.progress.error !== undefined;
  }

  start(id: string, now: number): void {
    Object.assign(this.step(id), { status: 'running', startedAt: now });
  }

  complete(id: string, out: McpCallOutput, now: number): void {
    this.results[id] = out.result;
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
}
