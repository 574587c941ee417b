import type { PackedPlan, Plan } from './plan';

/** Input of one MCP tool-call activity. */
export interface McpCallInput {
  server: string;
  tool: string;
  args: Record<string, unknown>;
  /** Workflow id + step id (+ phase): the server does the effect once per key. */
  idempotencyKey: string;
  /** For logs and traces. */
  workflowId: string;
  stepId: string;
}

/** Output of one MCP tool-call activity. Small by design: results travel by reference. */
export interface McpCallOutput {
  /** The tool's structured content (or its text when it has none). */
  result: unknown;
  /** Time inside the server's tool handler, as the server measured it. */
  toolTimeMs?: number;
  /** Time of the MCP call as the activity saw it (network + server). */
  callMs: number;
  /** Which Temporal attempt succeeded (1 = first). */
  attempt: number;
  /** Endpoint URL that answered. */
  endpoint: string;
  /** True when the server replayed a stored result for this idempotency key. */
  replayed: boolean;
  /** Size of `result` as JSON. */
  bytes: number;
  /** Hash of the tool's input and output schemas on the endpoint that answered (schema pinning). */
  schemaHash?: string;
}

/** A tool whose schema differed, when a step called it, from the one pinned at run start. */
export interface SchemaChange {
  stepId: string;
  /** `server/tool`. */
  tool: string;
  pinned: string;
  seen: string;
  at: number;
}

export type StepStatus =
  | 'waiting'
  | 'running'
  | 'done'
  | 'failed'
  | 'skipped'
  | 'cancelled'
  | 'compensating'
  | 'compensated'
  | 'compensation_failed';

export interface StepProgress {
  id: string;
  server: string;
  tool: string;
  description?: string;
  needs: string[];
  status: StepStatus;
  /** Attempt that succeeded, when known. */
  attempts?: number;
  /** Workflow time (epoch ms) when the step was scheduled and when its outcome was recorded. */
  startedAt?: number;
  endedAt?: number;
  toolTimeMs?: number;
  callMs?: number;
  replayed?: boolean;
  resultBytes?: number;
  error?: { type?: string; message: string };
  /** A few telling fields of the result (see `digestResult`). */
  summary?: Record<string, string | number | boolean>;
  /** Phase of the pipeline (from the spec), for the run log. */
  phase?: string;
  /** Set when the result was reused from an earlier run (`mcp-orch retry`) instead of calling the tool. */
  reusedFrom?: string;
  compensation?: { status: 'pending' | 'running' | 'done' | 'failed'; error?: string; startedAt?: number; endedAt?: number };
}

export type RunStatus = 'running' | 'paused' | 'compensating' | 'completed' | 'failed' | 'cancelled';

export interface RunProgress {
  workflowId: string;
  pipeline: string;
  status: RunStatus;
  paused: boolean;
  startedAt: number;
  endedAt?: number;
  steps: Record<string, StepProgress>;
  /** Step ids in completion order. */
  completionOrder: string[];
  error?: { stepId?: string; type?: string; message: string };
  /** Schema hashes pinned for this run (`server/tool` → hash): from the plan, else the first call. */
  toolSchemas?: Record<string, string>;
  /** Calls that met a tool whose schema changed since it was pinned. */
  schemaChanges?: SchemaChange[];
  /**
   * Large runs only (more than {@link COMPACT_PROGRESS_STEPS} steps): the finished steps as compact rows,
   * in completion order. `steps` then holds only the steps that are not in the table (running, failed,
   * waiting, …), and `completionOrder` is the table's id column. Read a run through {@link stepsOf}.
   */
  table?: StepTable;
  /** Runs of this workflow before the current one (continue-as-new), oldest first. */
  runs?: RunSummary[];
  /** History events of the current run so far. */
  historyEvents?: number;
  /** Results left out of the report (large runs keep only results that later steps, compensations or the last level need). */
  resultsOmitted?: number;
}

/** Above this many steps, progress and reports use a {@link StepTable} so they stay well under 2 MB. */
export const COMPACT_PROGRESS_STEPS = 2000;

/** One finished step: id, status, startedAt, endedAt, toolTimeMs, callMs, attempts (null = unknown). */
export type StepRow = [id: string, status: StepStatus, startedAt: number | null, endedAt: number | null, toolTimeMs: number | null, callMs: number | null, attempts: number | null];

export interface StepTable {
  columns: ['id', 'status', 'startedAt', 'endedAt', 'toolTimeMs', 'callMs', 'attempts'];
  rows: StepRow[];
}

/** One run of a workflow that continued as new: how long its history got and how many steps it finished. */
export interface RunSummary {
  runId: string;
  /** Events in the run's history, its final continue-as-new event included. */
  events: number;
  /** Steps finished in the run. */
  steps: number;
}

export function stepRow(s: StepProgress): StepRow {
  return [s.id, s.status, s.startedAt ?? null, s.endedAt ?? null, s.toolTimeMs ?? null, s.callMs ?? null, s.attempts ?? null];
}

/** Status codes of {@link PackedRows}: a step's status is its index here. Append only: runs in flight carry these. */
const ROW_STATUSES: readonly StepStatus[] = ['waiting', 'running', 'done', 'failed', 'skipped', 'cancelled', 'compensating', 'compensated', 'compensation_failed'];

/**
 * Finished steps in completion order, column by column and in small integers, as a continuation carries
 * them. Every run of a long pipeline hands them all to the next, in its start event and again in its
 * continue-as-new event, so their size adds up: as rows of ids and epoch times they took ≈80 bytes a
 * step (10,000 steps: 0.8 MB of a 2 MB payload, and history pages above gRPC's 4 MB). Here ≈20.
 * Unknown values are null. Tool and call times keep 0.1 ms.
 */
export interface PackedRows {
  /** Position of the step in the plan's order, minus the previous row's (the first: minus 0). */
  step: number[];
  /** Index into the status codes. */
  status: number[];
  /** startedAt minus the previous known startedAt (the first: minus the run's startedAt). */
  start: Array<number | null>;
  /** endedAt minus this row's startedAt (or the run's, when the start is unknown). */
  end: Array<number | null>;
  /** toolTimeMs × 10, rounded. */
  tool: Array<number | null>;
  /** callMs × 10, rounded. */
  call: Array<number | null>;
  attempts: Array<number | null>;
}

const tenths = (v: number | null): number | null => (v === null ? null : Math.round(v * 10));
const fromTenths = (v: number | null): number | null => (v === null ? null : v / 10);

/** Packs rows (completion order) against the plan's order and the run's start; {@link unpackRows} reverses it. */
export function packRows(rows: readonly StepRow[], order: readonly string[], runStartedAt: number): PackedRows {
  const position = new Map<string, number>();
  order.forEach((id, i) => position.set(id, i));
  const out: PackedRows = { step: [], status: [], start: [], end: [], tool: [], call: [], attempts: [] };
  let prevPos = 0;
  let prevStart = runStartedAt;
  for (const [id, status, startedAt, endedAt, toolTimeMs, callMs, attempts] of rows) {
    const pos = position.get(id);
    const code = ROW_STATUSES.indexOf(status);
    if (pos === undefined || code < 0) throw new Error(`packRows: step '${id}' (${status}) is not in the plan`);
    out.step.push(pos - prevPos);
    prevPos = pos;
    out.status.push(code);
    out.start.push(startedAt === null ? null : startedAt - prevStart);
    if (startedAt !== null) prevStart = startedAt;
    out.end.push(endedAt === null ? null : endedAt - (startedAt ?? runStartedAt));
    out.tool.push(tenths(toolTimeMs));
    out.call.push(tenths(callMs));
    out.attempts.push(attempts);
  }
  return out;
}

export function unpackRows(p: PackedRows, order: readonly string[], runStartedAt: number): StepRow[] {
  const rows: StepRow[] = [];
  let pos = 0;
  let prevStart = runStartedAt;
  for (let i = 0; i < p.step.length; i++) {
    pos += p.step[i]!;
    const id = order[pos];
    const status = ROW_STATUSES[p.status[i]!];
    if (id === undefined || status === undefined) throw new Error(`unpackRows: row ${i} names no step of the plan`);
    const ds = p.start[i] ?? null;
    const startedAt = ds === null ? null : prevStart + ds;
    if (startedAt !== null) prevStart = startedAt;
    const de = p.end[i] ?? null;
    rows.push([id, status, startedAt, de === null ? null : (startedAt ?? runStartedAt) + de, fromTenths(p.tool[i] ?? null), fromTenths(p.call[i] ?? null), p.attempts[i] ?? null]);
  }
  return rows;
}

/**
 * Every step of a progress or report as a {@link StepProgress}, whether it is compact or not. Rows of a
 * compact table carry no server, tool or needs; pass the plan to fill them in.
 */
export function stepsOf(p: RunProgress, plan?: Pick<Plan, 'steps'>): Record<string, StepProgress> {
  if (!p.table) return p.steps;
  const out: Record<string, StepProgress> = {};
  for (const [id, status, startedAt, endedAt, toolTimeMs, callMs, attempts] of p.table.rows) {
    const planned = plan?.steps[id];
    out[id] = {
      id,
      server: planned?.server ?? '',
      tool: planned?.tool ?? '',
      needs: planned?.needs ?? [],
      status,
      ...(startedAt !== null ? { startedAt } : {}),
      ...(endedAt !== null ? { endedAt } : {}),
      ...(toolTimeMs !== null ? { toolTimeMs } : {}),
      ...(callMs !== null ? { callMs } : {}),
      ...(attempts !== null ? { attempts } : {}),
    };
  }
  return Object.assign(out, p.steps);
}

/** What the workflow returns: the progress at the end plus the results by reference. */
export interface RunReport extends RunProgress {
  results: Record<string, unknown>;
}

/** Input of `pipelineWorkflow`. */
export interface PipelineWorkflowInput {
  /** The plan; large plans travel packed (`packPlan`), since a payload must stay under 2 MB. */
  plan: Plan | PackedPlan;
  /** Prefix of the group task queues (see `taskQueueFor`). @default '' */
  taskQueuePrefix?: string;
  /** Completed steps of an earlier run to reuse instead of running them again (`mcp-orch retry`). */
  resume?: ResumeSeed;
  /** Cap on steps in flight; overrides the plan's. @default plan.maxInFlight ?? 1000 */
  maxInFlight?: number;
  /**
   * The run continues as new before its history passes this many events (Temporal suggests 4,096).
   * @default 4000
   */
  maxHistoryEvents?: number;
  /** Set by the workflow itself when it continues as new: what the previous runs did. */
  continued?: Continuation;
}

/** What a run hands to the next one when it continues as new. Small: compact rows, needed results only. */
export interface Continuation {
  startedAt: number;
  paused: boolean;
  /** Finished steps of earlier runs, in completion order ({@link packRows}; runs started before it: rows). */
  rows: PackedRows | StepRow[];
  /** Results that steps still to run or compensations may reference. */
  results: Record<string, unknown>;
  /** Signals received and not yet consumed by a wait step. */
  received: Array<{ name: string; payload: unknown }>;
  runs: RunSummary[];
  /** Steps reused from an earlier workflow (`mcp-orch retry`), and which. */
  reused?: { fromWorkflowId: string; ids: string[] };
  toolSchemas?: Record<string, string>;
  schemaChanges?: SchemaChange[];
}

/** What a retry carries over from the failed run: results of completed, not compensated steps. */
export interface ResumeSeed {
  fromWorkflowId: string;
  steps: Record<string, { result: unknown; toolTimeMs?: number; callMs: number; attempt: number; endpoint: string; bytes: number }>;
}
