import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleSpec,
} from '@temporalio/client';
import { runSearchAttributes } from '../../client/search-attributes';
import { orchestratorQueue, PIPELINE_WORKFLOW } from '../../shared/constants';
import { parseDuration } from '../../shared/duration';
import type { Plan } from '../../shared/plan';
import { ToolError } from '../kit';
import { pipelineStartOptions, RPC_DEADLINE_MS } from './temporal-runs';

/** Overlap policies offered to callers (what happens when a run is still going at the next time). */
export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'allow_all'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** Shortest interval accepted: a pipeline every second would flood the stack. */
export const MIN_INTERVAL_MS = 1000;

/** Where and how often a pipeline runs. Exactly one of `every` and `cron`. */
export interface ScheduleTiming {
  /** Interval such as `30s`, `15m`, `1h`, `1d` (see `parseDuration`). */
  every?: string;
  /** Five-field cron expression in UTC, e.g. `0 6 * * 1-5`. */
  cron?: string;
}

/**
 * Turns `every`/`cron` into a Temporal schedule spec, naming the offending field on a mistake.
 * Pure, for unit tests.
 */
export function scheduleSpecFor(t: ScheduleTiming): ScheduleSpec {
  if ((t.every === undefined) === (t.cron === undefined)) {
    throw new ToolError(
      'give exactly one of every (e.g. "1h") and cron (e.g. "0 6 * * *")',
      'invalid_schedule',
    );
  }
  if (t.every !== undefined) {
    const ms = parseDuration(t.every);
    if (ms === undefined)
      throw new ToolError(
        `every '${t.every}' is not a duration: use a number and a unit ms, s, m, h or d, e.g. "30s" or "1h"`,
        'invalid_schedule',
      );
    if (ms < MIN_INTERVAL_MS)
      throw new ToolError(
        `every '${t.every}' is shorter than the minimum of ${MIN_INTERVAL_MS / 1000} s`,
        'invalid_schedule',
      );
    return { intervals: [{ every: ms }] };
  }
  const cron = t.cron!.trim();
  const fields = cron.split(/\s+/);
  // Temporal also takes @daily-style shorthands; anything else must have 5 fields (minute … weekday).
  if (!(cron.startsWith('@') || fields.length === 5) || !/^[\w\s*/,@?#-]+$/.test(cron)) {
    throw new ToolError(
      `cron '${t.cron}' must have 5 fields (minute hour day-of-month month day-of-week), e.g. "0 6 * * 1-5", or be a shorthand such as @daily`,
      'invalid_schedule',
    );
  }
  return { cronExpressions: [cron] };
}

/** Schedule ids are Temporal ids that also head the workflow ids of the runs they start. */
export const SCHEDULE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Memo on each schedule we create: lets `list` keep to this server's task queue. */
interface ScheduleMemo {
  pipeline: string;
  taskQueue: string;
  createdBy: string;
}

export interface ScheduleSummaryOut {
  scheduleId: string;
  pipeline?: string;
  paused: boolean;
  note?: string;
  spec: string;
  nextRuns: string[];
  recentRuns: Array<{ workflowId: string; runId: string; scheduledAt: string; startedAt: string }>;
}

function describeSpec(
  spec:
    { intervals?: Array<{ every: unknown }>; cronExpressions?: string[]; calendars?: unknown[] } | undefined,
): string {
  if (!spec) return 'unknown';
  const parts: string[] = [];
  for (const i of spec.intervals ?? [])
    parts.push(`every ${typeof i.every === 'number' ? `${i.every / 1000}s` : String(i.every)}`);
  for (const c of spec.cronExpressions ?? []) parts.push(`cron ${c}`);
  if (!parts.length && spec.calendars?.length) parts.push(`${spec.calendars.length} calendar rule(s)`);
  return parts.join('; ') || 'none';
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Temporal Schedules whose action starts `pipelineWorkflow` with a planned spec: the same workflow
 * type, queue, input and memo as a run started by hand, so scheduled runs are ordinary runs.
 */
export class ScheduleControl {
  constructor(
    private readonly client: Client,
    readonly taskQueuePrefix: string,
  ) {}

  /** Creates a schedule; the runs it starts are named `<pipeline>-<scheduleId>-<time>` by Temporal. */
  async create(
    plan: Plan,
    o: ScheduleTiming & {
      scheduleId?: string;
      note?: string;
      paused?: boolean;
      overlap?: OverlapPolicy;
      triggerNow?: boolean;
    },
  ): Promise<{ scheduleId: string; workflowIdPrefix: string; spec: string; nextRuns: string[] }> {
    const spec = scheduleSpecFor(o);
    const scheduleId = o.scheduleId ?? `${plan.name}-every-${Math.random().toString(36).slice(2, 8)}`;
    if (!SCHEDULE_ID_PATTERN.test(scheduleId)) {
      throw new ToolError(
        `schedule_id '${scheduleId}' must be 1–128 letters, digits, . _ - starting with a letter or digit`,
        'invalid_schedule',
      );
    }
    const workflowId = scheduleId.startsWith(`${plan.name}-`) ? scheduleId : `${plan.name}-${scheduleId}`;
    const start = pipelineStartOptions(plan, this.taskQueuePrefix);
    const memo: ScheduleMemo = { pipeline: plan.name, taskQueue: start.taskQueue, createdBy: 'mcp-orch' };
    try {
      const typedSearchAttributes = await runSearchAttributes(this.client, this.client.options.namespace, plan.name);
      const handle = await this.rpc(() =>
        this.client.schedule.create({
          scheduleId,
          spec,
          action: { type: 'startWorkflow', workflowType: PIPELINE_WORKFLOW, workflowId, ...start, typedSearchAttributes },
          policies: {
            overlap:
              ScheduleOverlapPolicy[
                (o.overlap ?? 'skip').toUpperCase() as keyof typeof ScheduleOverlapPolicy
              ],
            catchupWindow: '1m',
          },
          state: { paused: o.paused ?? false, note: o.note, triggerImmediately: o.triggerNow ?? false },
          memo: { mcpOrch: memo },
        }),
      );
      const d = await this.rpc(() => handle.describe());
      return {
        scheduleId,
        workflowIdPrefix: `${workflowId}-`,
        spec: describeSpec(d.spec),
        nextRuns: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
      };
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning)
        throw new ToolError(
          `schedule_id '${scheduleId}' already exists: delete it first or pick another id`,
          'already_exists',
        );
      throw new ToolError(
        `cannot create schedule '${scheduleId}': Temporal answered: ${errMessage(err)}`,
        'temporal_error',
      );
    }
  }

  /** Schedules this server created on its task queue, at most `limit`, with their next and recent runs. */
  async list(limit: number): Promise<{ schedules: ScheduleSummaryOut[]; truncated: boolean }> {
    const queue = orchestratorQueue(this.taskQueuePrefix);
    const out: ScheduleSummaryOut[] = [];
    let truncated = false;
    try {
      await this.rpc(async () => {
        for await (const s of this.client.schedule.list({ pageSize: 100 })) {
          const memo = s.memo?.mcpOrch as Partial<ScheduleMemo> | undefined;
          if (memo?.taskQueue !== queue) continue;
          if (out.length >= limit) {
            truncated = true;
            break;
          }
          out.push({
            scheduleId: s.scheduleId,
            pipeline: memo.pipeline,
            paused: s.state.paused,
            note: s.state.note,
            spec: describeSpec(s.spec as never),
            nextRuns: s.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
            recentRuns: s.info.recentActions.slice(-10).map((a) => ({
              workflowId: a.action.workflow.workflowId,
              runId: a.action.workflow.firstExecutionRunId,
              scheduledAt: a.scheduledAt.toISOString(),
              startedAt: a.takenAt.toISOString(),
            })),
          });
        }
      });
    } catch (err) {
      throw new ToolError(`cannot list schedules: Temporal answered: ${errMessage(err)}`, 'temporal_error');
    }
    return { schedules: out, truncated };
  }

  /** Describes one schedule (including runs it started), refusing ids that are not ours by name. */
  async describe(scheduleId: string): Promise<ScheduleSummaryOut & { actionsTaken: number }> {
    try {
      const d = await this.rpc(() => this.client.schedule.getHandle(scheduleId).describe());
      const memo = d.memo?.mcpOrch as Partial<ScheduleMemo> | undefined;
      return {
        scheduleId,
        pipeline: memo?.pipeline,
        paused: d.state.paused,
        note: d.state.note,
        spec: describeSpec(d.spec as never),
        nextRuns: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
        recentRuns: d.info.recentActions.slice(-10).map((a) => ({
          workflowId: a.action.workflow.workflowId,
          runId: a.action.workflow.firstExecutionRunId,
          scheduledAt: a.scheduledAt.toISOString(),
          startedAt: a.takenAt.toISOString(),
        })),
        actionsTaken: d.info.numActionsTaken,
      };
    } catch (err) {
      throw this.mapError('describe', scheduleId, err);
    }
  }

  /** Deletes a schedule; runs it already started keep going. */
  async delete(scheduleId: string): Promise<void> {
    try {
      await this.rpc(() => this.client.schedule.getHandle(scheduleId).delete());
    } catch (err) {
      throw this.mapError('delete', scheduleId, err);
    }
  }

  /** Starts the schedule's action now (overlap policy still applies). */
  async trigger(scheduleId: string): Promise<void> {
    try {
      await this.rpc(() => this.client.schedule.getHandle(scheduleId).trigger());
    } catch (err) {
      throw this.mapError('trigger', scheduleId, err);
    }
  }

  private rpc<T>(fn: () => Promise<T>): Promise<T> {
    return this.client.schedule.withDeadline(Date.now() + RPC_DEADLINE_MS, fn);
  }

  private mapError(what: string, scheduleId: string, err: unknown): ToolError {
    if (err instanceof ScheduleNotFoundError || /not found/i.test(errMessage(err))) {
      return new ToolError(
        `no schedule with schedule_id '${scheduleId}' (list_schedules shows the known ones)`,
        'not_found',
      );
    }
    return new ToolError(
      `cannot ${what} schedule '${scheduleId}': Temporal answered: ${errMessage(err)}`,
      'temporal_error',
    );
  }
}
