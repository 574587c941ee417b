import { WorkflowFailedError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { QUERIES } from '../../shared/constants';
import { computeRunMetrics, type RunMetrics } from '../../shared/metrics';
import type { RunProgress, RunReport, StepProgress, StepStatus } from '../../shared/run-types';

/**
 * What an operator sees of a step: the workflow's status, plus `retrying` when Temporal reports the
 * step's activity on a later attempt after a failure (the workflow itself only learns of the attempt
 * number when the call finally succeeds).
 */
export type StepView = StepStatus | 'retrying';

export interface StepLive {
  state: StepView;
  /** Current attempt of a pending activity (from Temporal), else the attempt that succeeded. */
  attempt?: number;
  /** Last failure of a retried attempt, as Temporal recorded it. */
  lastFailure?: string;
}

export interface RunView {
  workflowId: string;
  runId: string;
  /** Temporal's execution status (Running, Completed, Failed, Canceled, Terminated, TimedOut…). */
  execution: string;
  progress?: RunProgress;
  live: Record<string, StepLive>;
  metrics?: RunMetrics;
  /** Set when the progress could not be read (e.g. a terminated run has none). */
  note?: string;
  /** Server time of this view (epoch ms), so open bars can be drawn up to now. */
  now: number;
}

/** Maps activity ids to step ids (and call ids to servers) of one run, learned from its history and kept. */
export class ActivityStepIndex {
  private readonly byRun = new Map<string, { steps: Map<string, string>; servers: Map<string, string> }>();

  private async load(client: Client, workflowId: string, runId: string) {
    // Bounded: one entry per run looked at, and an operator looks at few runs.
    if (this.byRun.size > 200) this.byRun.clear();
    const entry = this.byRun.get(runId) ?? { steps: new Map<string, string>(), servers: new Map<string, string>() };
    this.byRun.set(runId, entry);
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    for (const e of history.events ?? []) {
      const a = e.activityTaskScheduledEventAttributes;
      const payload = a?.input?.payloads?.[0];
      if (!a?.activityId || !payload) continue;
      try {
        const input = defaultPayloadConverter.fromPayload<{ stepId?: string; server?: string }>(payload as never);
        if (input?.stepId) entry.steps.set(a.activityId, input.stepId);
        if (input?.stepId && input.server) entry.servers.set(input.stepId, input.server);
      } catch {
        // an activity of another shape (not an MCP call): not a step
      }
    }
    return entry;
  }

  /** Step id of an activity; reads the history again only for an activity not seen yet. */
  async stepOf(client: Client, workflowId: string, runId: string, activityId: string): Promise<string | undefined> {
    const known = this.byRun.get(runId);
    if (known?.steps.has(activityId)) return known.steps.get(activityId);
    return (await this.load(client, workflowId, runId)).steps.get(activityId);
  }

  /** Server of each call id (`<step>` or `<step>.compensate`) scheduled so far, for the steps asked about. */
  async serversOf(client: Client, workflowId: string, runId: string, callIds: string[]): Promise<Map<string, string>> {
    let entry = this.byRun.get(runId);
    if (!entry || callIds.some((id) => !entry!.servers.has(id))) entry = await this.load(client, workflowId, runId);
    return entry.servers;
  }
}

/** The final progress of a failed run travels in the failure's details. */
export function progressFromFailure(err: unknown): RunProgress | undefined {
  const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
  const details = (cause as { details?: unknown[] } | undefined)?.details;
  const p = details?.[0] as RunProgress | undefined;
  return p && typeof p === 'object' && p.steps ? p : undefined;
}

/** Results of closed runs never change: kept by run id so history charts do not refetch them. */
export class ClosedRunCache {
  private readonly cache = new Map<string, RunProgress | null>();

  async progress(client: Client, workflowId: string, runId: string): Promise<RunProgress | undefined> {
    const hit = this.cache.get(runId);
    if (hit !== undefined) return hit ?? undefined;
    const handle = client.workflow.getHandle(workflowId, runId);
    let p: RunProgress | undefined = await handle.result().then(
      (r: RunReport) => stripResults(r),
      (err: unknown) => progressFromFailure(err),
    );
    // A cancelled run carries no details; its progress query still answers while a worker is up.
    p ??= await handle.query<RunProgress>(QUERIES.progress).catch(() => undefined);
    if (this.cache.size > 1000) this.cache.clear();
    this.cache.set(runId, p ?? null);
    return p;
  }
}

/** Results are references the dashboard does not show; dropping them keeps payloads small. */
function stripResults(r: RunReport): RunProgress {
  const { results: _results, ...progress } = r;
  return progress;
}

function liveOf(s: StepProgress): StepLive {
  if (s.compensation?.status === 'running') return { state: 'compensating', attempt: s.attempts };
  // A running step is on its first attempt until Temporal reports a later one.
  return { state: s.status, attempt: s.attempts ?? (s.status === 'running' ? 1 : undefined) };
}

/**
 * Reads a run as the operator sees it: Temporal's status, the workflow's progress (query while it
 * runs, result or failure details once closed), retries of pending activities, and the run metrics.
 */
export async function readRun(client: Client, workflowId: string, deps: { index: ActivityStepIndex; closed: ClosedRunCache }): Promise<RunView> {
  const handle = client.workflow.getHandle(workflowId);
  const desc = await handle.describe();
  const view: RunView = { workflowId, runId: desc.runId, execution: desc.status.name, live: {}, now: Date.now() };
  if (desc.status.name === 'RUNNING') {
    view.progress = await handle.query<RunProgress>(QUERIES.progress).catch((err: unknown) => {
      // Before the first workflow task, or with no orchestrator worker polling, a query cannot answer.
      view.note = `progress not available yet: ${err instanceof Error ? err.message : String(err)}`;
      return undefined;
    });
  } else {
    view.progress = await deps.closed.progress(client, workflowId, desc.runId);
    if (!view.progress) view.note = `the run ended ${desc.status.name.toLowerCase()} without a progress record`;
  }
  if (!view.progress) return view;
  for (const s of Object.values(view.progress.steps)) view.live[s.id] = liveOf(s);
  for (const pa of desc.raw.pendingActivities ?? []) {
    const attempt = pa.attempt ?? 1;
    if (attempt <= 1 || !pa.activityId) continue;
    const stepId = await deps.index.stepOf(client, workflowId, desc.runId, pa.activityId).catch(() => undefined);
    // A retried compensation call is reported under `<step>.compensate`; its step stays `compensating`.
    const live = stepId ? view.live[stepId] : undefined;
    if (!live || live.state !== 'running') continue;
    live.state = 'retrying';
    live.attempt = attempt;
    live.lastFailure = pa.lastFailure?.message ?? undefined;
  }
  view.metrics = computeRunMetrics(view.progress);
  return view;
}
