import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { runSearchAttributes } from '../../client/search-attributes';
import { computeRunMetrics, type RunMetrics } from '../../shared/metrics';
import { orchestratorQueue, PIPELINE_WORKFLOW, QUERIES, SIGNALS } from '../../shared/constants';
import { planForWire, type Plan } from '../../shared/plan';
import type { PipelineWorkflowInput, RunProgress, RunReport } from '../../shared/run-types';
import { ToolError } from '../kit';

/** Temporal's execution status names, as visibility and `describe()` report them. */
export const TEMPORAL_STATUSES = [
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
] as const;
export type TemporalStatus = (typeof TEMPORAL_STATUSES)[number];

/** Visibility spelling of each status (`ExecutionStatus = 'Running'`). */
const VISIBILITY_STATUS: Record<TemporalStatus, string> = {
  RUNNING: 'Running',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  CANCELLED: 'Canceled',
  TERMINATED: 'Terminated',
  CONTINUED_AS_NEW: 'ContinuedAsNew',
  TIMED_OUT: 'TimedOut',
};

/** A progress query must not hang a tool call when no orchestrator worker is polling. */
const QUERY_TIMEOUT_MS = 5000;

/**
 * Deadline of one short Temporal call (start, describe, signal, list page): without it an unreachable
 * server keeps a tool call waiting through the client's connection retries.
 */
export const RPC_DEADLINE_MS = 8000;

/** The workflow id the CLI would pick: `<pipeline>-<UTC time>-<4 random chars>`. */
export function defaultWorkflowId(pipeline: string, now = new Date()): string {
  return `${pipeline}-${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${Math.random().toString(36).slice(2, 6)}`;
}

/** What starting a run needs besides the plan; shared by runs and schedules so both start alike. */
export function pipelineStartOptions(plan: Plan, taskQueuePrefix: string) {
  const input: PipelineWorkflowInput = { plan: planForWire(plan), taskQueuePrefix };
  return {
    taskQueue: orchestratorQueue(taskQueuePrefix),
    args: [input] as [PipelineWorkflowInput],
    staticSummary: `${plan.name}: ${plan.order.length} steps on ${new Set(Object.values(plan.steps).map((s) => s.server)).size} servers`,
    staticDetails: plan.description,
    // Memo, not a custom search attribute: the dev server and Cloud namespaces need no registration.
    memo: { pipeline: plan.name, startedBy: 'mcp-orch workflow server' },
  };
}

/** Escapes a value for a single-quoted visibility query literal. */
export function quoteVisibility(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface RunFilter {
  status?: TemporalStatus;
  pipeline?: string;
  workflowIdPrefix?: string;
  scheduleId?: string;
  startedAfter?: Date;
}

/**
 * The visibility query of `list_runs`: always pipeline runs on this server's orchestrator task queue
 * (so stacks sharing a namespace through prefixes do not see each other's runs), narrowed by the filter.
 * Pure, for unit tests.
 */
export function buildRunsQuery(taskQueuePrefix: string, f: RunFilter = {}): string {
  const parts = [
    `WorkflowType = ${quoteVisibility(PIPELINE_WORKFLOW)}`,
    `TaskQueue = ${quoteVisibility(orchestratorQueue(taskQueuePrefix))}`,
  ];
  if (f.status) parts.push(`ExecutionStatus = ${quoteVisibility(VISIBILITY_STATUS[f.status])}`);
  // Runs started by the CLI, this server or a schedule are all named `<pipeline>-…`.
  if (f.pipeline) parts.push(`WorkflowId STARTS_WITH ${quoteVisibility(`${f.pipeline}-`)}`);
  if (f.workflowIdPrefix) parts.push(`WorkflowId STARTS_WITH ${quoteVisibility(f.workflowIdPrefix)}`);
  // Temporal stamps every run a schedule starts with this built-in search attribute.
  if (f.scheduleId) parts.push(`TemporalScheduledById = ${quoteVisibility(f.scheduleId)}`);
  if (f.startedAfter) parts.push(`StartTime > ${quoteVisibility(f.startedAfter.toISOString())}`);
  return parts.join(' AND ');
}

/** One run as `list_runs` shows it. */
export interface RunSummary {
  workflowId: string;
  runId: string;
  status: string;
  pipeline?: string;
  startedAt: string;
  closedAt?: string;
  durationMs?: number;
  scheduleId?: string;
  historyLength: number;
}

/** A run's state as `pipeline_status` reports it. */
export interface RunStatusReport {
  workflowId: string;
  runId: string;
  temporalStatus: string;
  description: WorkflowExecutionDescription;
  progress?: RunProgress;
  metrics?: RunMetrics;
  error?: string;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The final progress of a failed run travels in the failure's details (see `pipelineWorkflow`). */
function progressFromFailure(err: unknown): RunProgress | undefined {
  const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
  const details = (cause as { details?: unknown[] } | undefined)?.details;
  const first = details?.[0] as RunProgress | undefined;
  return first && typeof first === 'object' && 'steps' in first ? first : undefined;
}

function failureMessage(err: unknown): string {
  const cause = err instanceof WorkflowFailedError ? (err.cause ?? err) : err;
  return errMessage(cause);
}

/**
 * Starts, inspects and steers pipeline runs on Temporal, the way `mcp-orch run|status|pause|resume|cancel`
 * do, mapping Temporal's errors to `ToolError`s that name the run.
 */
export class RunControl {
  constructor(
    private readonly client: Client,
    readonly taskQueuePrefix: string,
  ) {}

  /** Starts `pipelineWorkflow` on the orchestrator queue; refuses a workflow id that is already running. */
  async start(
    plan: Plan,
    workflowId = defaultWorkflowId(plan.name),
  ): Promise<{ workflowId: string; runId: string }> {
    try {
      const typedSearchAttributes = await runSearchAttributes(this.client, this.client.options.namespace, plan.name);
      const handle = await this.rpc(() =>
        this.client.workflow.start(PIPELINE_WORKFLOW, {
          workflowId,
          ...pipelineStartOptions(plan, this.taskQueuePrefix),
          typedSearchAttributes,
        }),
      );
      return { workflowId, runId: handle.firstExecutionRunId };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new ToolError(
          `workflow_id '${workflowId}' is already running: pick another id or omit it`,
          'already_started',
        );
      }
      throw this.temporalError('start the run', err);
    }
  }

  /** Describes a run and reads its progress: the live query while running, the result or failure once closed. */
  async status(workflowId: string): Promise<RunStatusReport> {
    const handle = this.client.workflow.getHandle<() => Promise<RunReport>>(workflowId);
    const description = await this.describe(handle, workflowId);
    const temporalStatus = description.status.name;
    let progress: RunProgress | undefined;
    let error: string | undefined;
    if (temporalStatus === 'RUNNING') {
      progress = await this.queryProgress(handle);
    } else {
      const outcome = await withTimeout(
        handle.result().then(
          (report) => ({ report, error: undefined as unknown }),
          (e: unknown) => ({ report: undefined, error: e }),
        ),
        QUERY_TIMEOUT_MS,
      );
      if (outcome?.report) progress = outcome.report;
      if (outcome?.error !== undefined) {
        progress = progressFromFailure(outcome.error);
        error = failureMessage(outcome.error);
      }
      // A cancelled run carries no progress in its failure; the query replays it from history.
      progress ??= await this.queryProgress(handle);
    }
    return {
      workflowId,
      runId: description.runId,
      temporalStatus,
      description,
      progress,
      metrics: progress ? computeRunMetrics(progress) : undefined,
      error: error ?? progress?.error?.message,
    };
  }

  /** Waits until the run closes or `ms` pass, whichever is first; `onTick` sees progress meanwhile. */
  async waitForClose(
    workflowId: string,
    ms: number,
    onTick: (p: RunProgress | undefined) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const handle = this.client.workflow.getHandle(workflowId);
    const closed = handle.result().then(
      () => true,
      () => true,
    );
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !signal.aborted) {
      const done = await Promise.race([
        closed,
        new Promise<false>((r) =>
          setTimeout(() => r(false), Math.min(1000, Math.max(0, deadline - Date.now()))),
        ),
      ]);
      if (done) return;
      await onTick(await this.queryProgress(handle));
    }
  }

  /** Pages through visibility with `buildRunsQuery`, newest first, at most `limit` runs. */
  async list(
    filter: RunFilter,
    limit: number,
  ): Promise<{ runs: RunSummary[]; query: string; truncated: boolean }> {
    const query = buildRunsQuery(this.taskQueuePrefix, filter);
    const runs: RunSummary[] = [];
    let truncated = false;
    try {
      await this.rpc(async () => {
        for await (const wf of this.client.workflow.list({ query, pageSize: Math.min(limit + 1, 1000) })) {
          if (runs.length >= limit) {
            truncated = true;
            break;
          }
          const scheduled = wf.searchAttributes?.TemporalScheduledById;
          runs.push({
            workflowId: wf.workflowId,
            runId: wf.runId,
            status: wf.status.name,
            pipeline: typeof wf.memo?.pipeline === 'string' ? wf.memo.pipeline : undefined,
            startedAt: wf.startTime.toISOString(),
            closedAt: wf.closeTime?.toISOString(),
            durationMs: wf.closeTime ? wf.closeTime.getTime() - wf.startTime.getTime() : undefined,
            scheduleId:
              Array.isArray(scheduled) && typeof scheduled[0] === 'string' ? scheduled[0] : undefined,
            historyLength: wf.historyLength,
          });
        }
      });
    } catch (err) {
      throw this.temporalError('list runs', err);
    }
    return { runs, query, truncated };
  }

  /** Counts runs matching a filter (server_info's live figures). */
  async count(filter: RunFilter = {}): Promise<number> {
    return (await this.rpc(() => this.client.workflow.count(buildRunsQuery(this.taskQueuePrefix, filter))))
      .count;
  }

  /** Sends pause/resume to a running run; refuses unknown or closed runs by name. */
  async signal(
    workflowId: string,
    what: 'pause' | 'resume',
  ): Promise<{ runId: string; progress?: RunProgress }> {
    const handle = this.client.workflow.getHandle(workflowId);
    const d = await this.describe(handle, workflowId);
    if (d.status.name !== 'RUNNING') {
      throw new ToolError(
        `cannot ${what} '${workflowId}': the run is ${d.status.name}, not RUNNING`,
        'not_running',
      );
    }
    try {
      await this.rpc(() => handle.signal(what === 'pause' ? SIGNALS.pause : SIGNALS.resume));
    } catch (err) {
      throw this.temporalError(`${what} '${workflowId}'`, err);
    }
    return { runId: d.runId, progress: await this.queryProgress(handle) };
  }

  /** Requests cancellation: the workflow cancels running steps and compensates completed ones. */
  async cancel(workflowId: string): Promise<{ runId: string; previousStatus: string }> {
    const handle = this.client.workflow.getHandle(workflowId);
    const d = await this.describe(handle, workflowId);
    if (d.status.name !== 'RUNNING') {
      throw new ToolError(
        `cannot cancel '${workflowId}': the run is already ${d.status.name}`,
        'not_running',
      );
    }
    try {
      await this.rpc(() => handle.cancel());
    } catch (err) {
      throw this.temporalError(`cancel '${workflowId}'`, err);
    }
    return { runId: d.runId, previousStatus: d.status.name };
  }

  private async describe(handle: WorkflowHandle, workflowId: string): Promise<WorkflowExecutionDescription> {
    try {
      const d = await this.rpc(() => handle.describe());
      if (d.type !== PIPELINE_WORKFLOW) {
        throw new ToolError(`'${workflowId}' is a ${d.type} workflow, not a pipeline run`, 'not_a_pipeline');
      }
      return d;
    } catch (err) {
      if (err instanceof ToolError) throw err;
      if (err instanceof WorkflowNotFoundError || /not found/i.test(errMessage(err))) {
        throw new ToolError(
          `no run with workflow_id '${workflowId}' (list_runs shows the known runs)`,
          'not_found',
        );
      }
      throw this.temporalError(`describe '${workflowId}'`, err);
    }
  }

  private async queryProgress(handle: WorkflowHandle): Promise<RunProgress | undefined> {
    return withTimeout(
      handle.query<RunProgress>(QUERIES.progress).catch(() => undefined),
      QUERY_TIMEOUT_MS,
    );
  }

  private rpc<T>(fn: () => Promise<T>): Promise<T> {
    return this.client.workflow.withDeadline(Date.now() + RPC_DEADLINE_MS, fn);
  }

  private temporalError(what: string, err: unknown): ToolError {
    return new ToolError(
      `cannot ${what}: Temporal answered: ${errMessage(err)} (is Temporal up? see TEMPORAL_ADDRESS)`,
      'temporal_unavailable',
    );
  }
}
