import type { Client } from '@temporalio/client';
import { PIPELINE_WORKFLOW } from '../../shared/constants';
import type { ClosedRunCache } from './run-view';

/** Temporal execution statuses an operator can filter on (visibility's names). */
export const EXECUTION_STATUSES = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'TimedOut', 'ContinuedAsNew'] as const;

/** Pipeline names and run ids are identifiers; anything else is refused rather than quoted into a query. */
const SAFE = /^[A-Za-z0-9_.-]{1,100}$/;

export class BadFilterError extends Error {}

export interface RunRow {
  workflowId: string;
  runId: string;
  /** Pipeline name as guessed from the workflow id (`<pipeline>-<suffix>`); the run's own progress names it exactly. */
  pipeline: string;
  status: string;
  startTime: string;
  closeTime?: string;
  durationMs?: number;
  historyLength: number;
}

/** `hello-20250701T101010-ab12` (CLI) or `hello-1a2b3c4d` (tests) → `hello`. */
export function pipelineOfWorkflowId(id: string): string {
  const cli = /^(.*)-\d{8}T\d{6}-[a-z0-9]{4}$/.exec(id);
  if (cli?.[1]) return cli[1];
  const i = id.lastIndexOf('-');
  return i > 0 ? id.slice(0, i) : id;
}

/** The visibility query of the runs list. Throws BadFilterError for a filter that is not an identifier or a known status. */
export function runsQuery(filter: { pipeline?: string; status?: string }): string {
  const parts = [`WorkflowType = '${PIPELINE_WORKFLOW}'`];
  if (filter.pipeline) {
    if (!SAFE.test(filter.pipeline)) throw new BadFilterError(`pipeline '${filter.pipeline}' is not a pipeline name (letters, digits, _ . - only)`);
    parts.push(`WorkflowId STARTS_WITH '${filter.pipeline}-'`);
  }
  if (filter.status) {
    if (!(EXECUTION_STATUSES as readonly string[]).includes(filter.status)) throw new BadFilterError(`status '${filter.status}' is not one of ${EXECUTION_STATUSES.join(', ')}`);
    parts.push(`ExecutionStatus = '${filter.status}'`);
  }
  return parts.join(' AND ');
}

/** Recent runs, newest first (visibility's order), at most `limit`. */
export async function listRuns(client: Client, filter: { pipeline?: string; status?: string; limit?: number }): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
  for await (const wf of client.workflow.list({ query: runsQuery(filter), pageSize: limit })) {
    rows.push({
      workflowId: wf.workflowId,
      runId: wf.runId,
      pipeline: pipelineOfWorkflowId(wf.workflowId),
      status: wf.status.name,
      startTime: wf.startTime.toISOString(),
      closeTime: wf.closeTime?.toISOString(),
      durationMs: wf.closeTime ? wf.closeTime.getTime() - wf.startTime.getTime() : undefined,
      historyLength: wf.historyLength,
    });
    if (rows.length >= limit) break;
  }
  return rows;
}

export interface ToolLatency {
  tool: string;
  /** Completed calls seen. */
  n: number;
  minMs: number;
  medianMs: number;
  maxMs: number;
}

export interface PipelineHistory {
  pipeline: string;
  /** Completed runs, oldest first: wall-clock duration as Temporal recorded it. */
  runs: Array<{ workflowId: string; startTime: string; durationMs: number }>;
  /** Tool time per server/tool across those runs (the servers' own measurement). */
  tools: ToolLatency[];
}

function median(sorted: number[]): number {
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Capacity-planning history of one pipeline: durations of its last completed runs (visibility) and
 * per-tool latency from those runs' reports (`handle.result()`, cached: closed runs never change).
 */
export async function pipelineHistory(client: Client, pipeline: string, closed: ClosedRunCache, opts: { runs?: number; reports?: number } = {}): Promise<PipelineHistory> {
  const rows = await listRuns(client, { pipeline, status: 'Completed', limit: opts.runs ?? 30 });
  const perTool = new Map<string, number[]>();
  for (const r of rows.slice(0, opts.reports ?? 15)) {
    const p = await closed.progress(client, r.workflowId, r.runId).catch(() => undefined);
    for (const s of Object.values(p?.steps ?? {})) {
      const ms = s.toolTimeMs ?? s.callMs;
      if (s.status !== 'done' || ms === undefined) continue;
      const key = `${s.server}/${s.tool}`;
      const list = perTool.get(key) ?? [];
      list.push(ms);
      perTool.set(key, list);
    }
  }
  const tools = [...perTool.entries()]
    .map(([tool, ms]) => {
      ms.sort((a, b) => a - b);
      return { tool, n: ms.length, minMs: ms[0] ?? 0, medianMs: median(ms), maxMs: ms[ms.length - 1] ?? 0 };
    })
    .sort((a, b) => b.medianMs - a.medianMs);
  return {
    pipeline,
    runs: rows
      .filter((r) => r.durationMs !== undefined)
      .reverse()
      .map((r) => ({ workflowId: r.workflowId, startTime: r.startTime, durationMs: r.durationMs! })),
    tools,
  };
}
