import type { Plan } from './plan';

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
}

/** What the workflow returns: the progress at the end plus the results by reference. */
export interface RunReport extends RunProgress {
  results: Record<string, unknown>;
}

/** Input of `pipelineWorkflow`. */
export interface PipelineWorkflowInput {
  plan: Plan;
  /** Prefix of the group task queues (see `taskQueueFor`). @default '' */
  taskQueuePrefix?: string;
  /** Completed steps of an earlier run to reuse instead of running them again (`mcp-orch retry`). */
  resume?: ResumeSeed;
}

/** What a retry carries over from the failed run: results of completed, not compensated steps. */
export interface ResumeSeed {
  fromWorkflowId: string;
  steps: Record<string, { result: unknown; toolTimeMs?: number; callMs: number; attempt: number; endpoint: string; bytes: number }>;
}
