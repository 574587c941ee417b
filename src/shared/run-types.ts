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
  /** Finished steps of earlier runs, in completion order. */
  rows: StepRow[];
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
