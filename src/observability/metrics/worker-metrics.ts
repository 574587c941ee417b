import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolStatus } from '../../mcp/pool';
import { registerProcessMetrics } from './process-metrics';
import { TOOL_DURATION_BUCKETS } from './server-metrics';

/** Numeric breaker state for dashboards and alerts: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 };

/** What the worker's metrics read the task queue's backlog from (a NativeConnection or a Connection). */
export interface TaskQueueStatsSource {
  workflowService: {
    describeTaskQueue(req: {
      namespace: string;
      taskQueue: { name: string };
      taskQueueType: number;
      reportStats: boolean;
    }): Promise<{ stats?: { approximateBacklogCount?: unknown; approximateBacklogAge?: { seconds?: unknown; nanos?: number | null } | null } | null }>;
  };
}

export interface WorkerMetricsOptions {
  /** Server group (`data`, …) or `orchestrator`: the `worker` label of every series. */
  group: string;
  /** The task queue this worker polls. */
  taskQueue: string;
  /**
   * The worker's MCP client pool: breakers, rate budgets, health and load are sampled from it at
   * scrape time. May be attached later with {@link WorkerMetrics.attachPool}.
   */
  pool?: { poolStatus(): PoolStatus };
  /** Backlog of `taskQueue` via DescribeTaskQueue (reportStats), sampled at most every `backlogEveryMs`. */
  temporal?: { source: TaskQueueStatsSource; namespace: string; taskQueueType: 'activity' | 'workflow' };
  /** @default 5000 */
  backlogEveryMs?: number;
}

/** The input of `mcpCallTool` (src/shared/run-types McpCallInput), read defensively: any activity may pass here. */
function callLabels(args: unknown[], activityType: string): { server: string; tool: string } {
  const a = args[0] as { server?: unknown; tool?: unknown } | undefined;
  if (a && typeof a.server === 'string' && typeof a.tool === 'string') return { server: a.server, tool: a.tool };
  return { server: 'none', tool: activityType };
}

/** The `ApplicationFailure` type of an activity error (what Temporal's retry policy decides on). */
export function errorTypeOf(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.type ?? 'ApplicationFailure';
  if (err instanceof CancelledFailure) return 'Cancelled';
  if (err instanceof Error) return err.name || 'Error';
  return 'unknown';
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v && typeof (v as { toNumber: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  if (typeof v === 'string' && v !== '') return Number(v);
  return undefined;
}

/**
 * Prometheus metrics of one worker process: per tool call (through an activity interceptor) latency,
 * errors by ApplicationFailure type, retries and in-flight calls; per endpoint (sampled from the pool
 * at scrape time) breaker state, rate-budget tokens, health and load; the task queue backlog; process
 * resources. Temporal core's own metrics (slots, schedule-to-start latency, polls) are served by
 * the SDK runtime and appended by {@link startMetricsEndpoint}.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly group: string;
  private readonly duration: Histogram<'worker' | 'server' | 'tool' | 'outcome'>;
  private readonly errors: Counter<'worker' | 'server' | 'tool' | 'type'>;
  private readonly retries: Counter<'worker' | 'server' | 'tool'>;
  private readonly inFlight: Gauge<'worker' | 'server' | 'tool'>;
  private backlog?: { at: number; value?: { count?: number; ageS?: number } };
  private pool?: { poolStatus(): PoolStatus };

  constructor(private readonly opts: WorkerMetricsOptions) {
    this.group = opts.group;
    const registers = [this.registry];
    const worker = opts.group;
    new Gauge({
      name: 'mcp_worker_info',
      help: 'Always 1; labels name the worker group and its task queue.',
      labelNames: ['worker', 'task_queue'],
      registers,
    }).set({ worker, task_queue: opts.taskQueue }, 1);
    this.duration = new Histogram({
      name: 'mcp_worker_tool_call_duration_seconds',
      help: 'Duration of one tool-call activity attempt (queueing for a rate budget included), by outcome.',
      labelNames: ['worker', 'server', 'tool', 'outcome'],
      buckets: TOOL_DURATION_BUCKETS,
      registers,
    });
    this.errors = new Counter({
      name: 'mcp_worker_tool_call_errors_total',
      help: 'Failed tool-call attempts, by ApplicationFailure type (McpToolError, ServerUnavailable, CircuitOpen, …).',
      labelNames: ['worker', 'server', 'tool', 'type'],
      registers,
    });
    this.retries = new Counter({
      name: 'mcp_worker_tool_call_retries_total',
      help: 'Tool-call attempts that were retries (Temporal attempt > 1).',
      labelNames: ['worker', 'server', 'tool'],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'mcp_worker_tool_calls_in_flight',
      help: 'Tool-call activities running now.',
      labelNames: ['worker', 'server', 'tool'],
      registers,
    });
    this.pool = opts.pool;
    this.registerPoolGauges();
    if (opts.temporal) this.registerBacklogGauges(opts.temporal);
    registerProcessMetrics(this.registry, { worker });
  }

  /** Records one finished attempt. */
  observeCall(labels: { server: string; tool: string }, seconds: number, attempt: number, error?: unknown): void {
    const l = { worker: this.group, ...labels };
    const outcome = error === undefined ? 'ok' : error instanceof CancelledFailure ? 'cancelled' : 'error';
    this.duration.observe({ ...l, outcome }, seconds);
    if (error !== undefined) this.errors.inc({ ...l, type: errorTypeOf(error) });
    if (attempt > 1) this.retries.inc(l);
  }

  /**
   * The activity interceptor that feeds the per-call series; pass it to `Worker.create` as
   * `interceptors: { activity: [metrics.activityInterceptor()] }`.
   */
  activityInterceptor(): ActivityInterceptorsFactory {
    return (ctx) => ({
      inbound: {
        execute: async (input, next) => {
          const labels = callLabels(input.args, ctx.info.activityType);
          const gaugeLabels = { worker: this.group, ...labels };
          this.inFlight.inc(gaugeLabels);
          const started = performance.now();
          try {
            const result = await next(input);
            this.observeCall(labels, (performance.now() - started) / 1000, ctx.info.attempt);
            return result;
          } catch (err) {
            this.observeCall(labels, (performance.now() - started) / 1000, ctx.info.attempt, err);
            throw err;
          } finally {
            this.inFlight.dec(gaugeLabels);
          }
        },
      },
    });
  }

  /** Samples `pool` from now on (the pool is created after the worker's interceptors). */
  attachPool(pool: { poolStatus(): PoolStatus }): void {
    this.pool = pool;
  }

  private registerPoolGauges(): void {
    const registers = [this.registry];
    const labelNames = ['worker', 'group', 'endpoint'] as const;
    type Row = { group: string; endpoint: string; e: PoolStatus['groups'][number]['endpoints'][number] };
    // The pool knows every group of the registry; this worker only ever calls its own.
    const rows = (): Row[] =>
      (this.pool?.poolStatus() ?? { groups: [] }).groups
        .filter((g) => g.group === this.group)
        .flatMap((g) => g.endpoints.map((e) => ({ group: g.group, endpoint: e.url, e })));
    // Gauge.collect runs with the gauge as `this`, so the worker label is captured here.
    const worker = this.group;
    const defs: Array<[string, string, (r: Row) => number | undefined]> = [
      ['mcp_worker_breaker_state', 'Circuit breaker per endpoint: 0 closed, 1 half-open, 2 open.', (r) => BREAKER_STATE_VALUE[r.e.breaker.state]],
      ['mcp_worker_breaker_opens', 'Times the endpoint\'s breaker opened since the worker started.', (r) => r.e.breaker.opens],
      ['mcp_worker_rate_budget_per_minute', 'Client-side rate budget of the endpoint (requests/minute; 0: none).', (r) => r.e.rateBudget.perMinute],
      [
        'mcp_worker_rate_budget_tokens',
        'Rate-budget tokens available now (absent when the endpoint has no budget).',
        (r) => (r.e.rateBudget.perMinute > 0 && r.e.rateBudget.available !== null ? r.e.rateBudget.available : undefined),
      ],
      ['mcp_worker_rate_budget_waiting', 'Calls waiting for a rate-budget token.', (r) => r.e.rateBudget.waiting],
      ['mcp_worker_endpoint_up', 'Last background health check of the endpoint: 1 up, 0 down.', (r) => (r.e.healthy ? 1 : 0)],
      ['mcp_worker_endpoint_in_flight', 'Calls in flight to the endpoint.', (r) => r.e.inFlight],
      [
        'mcp_worker_endpoint_latency_seconds',
        'Latency of the last call or health check of the endpoint.',
        (r) => (r.e.lastLatencyMs === undefined ? undefined : r.e.lastLatencyMs / 1000),
      ],
      ['mcp_worker_endpoint_calls', 'Calls made to the endpoint since the worker started.', (r) => r.e.calls],
      ['mcp_worker_endpoint_transport_failures', 'Transport failures of the endpoint since the worker started.', (r) => r.e.transportFailures],
    ];
    for (const [name, help, value] of defs) {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const r of rows()) {
            const v = value(r);
            if (v !== undefined) this.set({ worker, group: r.group, endpoint: r.endpoint }, v);
          }
        },
      });
    }
  }

  private registerBacklogGauges(t: NonNullable<WorkerMetricsOptions['temporal']>): void {
    const every = this.opts.backlogEveryMs ?? 5000;
    const labels = { worker: this.group, task_queue: this.opts.taskQueue };
    const sample = async (): Promise<{ count?: number; ageS?: number } | undefined> => {
      if (this.backlog && Date.now() - this.backlog.at < every) return this.backlog.value;
      let value: { count?: number; ageS?: number } | undefined;
      try {
        const r = await Promise.race([
          t.source.workflowService.describeTaskQueue({
            namespace: t.namespace,
            taskQueue: { name: this.opts.taskQueue },
            taskQueueType: t.taskQueueType === 'activity' ? 2 : 1,
            reportStats: true,
          }),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('DescribeTaskQueue timed out')), 2000).unref()),
        ]);
        const age = r.stats?.approximateBacklogAge;
        value = {
          count: toNumber(r.stats?.approximateBacklogCount) ?? 0,
          ageS: age ? (toNumber(age.seconds) ?? 0) + (age.nanos ?? 0) / 1e9 : 0,
        };
      } catch {
        // An unreachable frontend leaves the series absent for this scrape instead of reporting 0.
        value = undefined;
      }
      this.backlog = { at: Date.now(), value };
      return value;
    };
    new Gauge({
      name: 'mcp_worker_task_queue_backlog',
      help: 'Approximate tasks waiting in the task queue (DescribeTaskQueue stats, sampled at most every 5 s).',
      labelNames: ['worker', 'task_queue'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const v = await sample();
        if (v?.count !== undefined) this.set(labels, v.count);
      },
    });
    new Gauge({
      name: 'mcp_worker_task_queue_backlog_age_seconds',
      help: 'Age of the oldest task waiting in the task queue.',
      labelNames: ['worker', 'task_queue'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const v = await sample();
        if (v?.ageS !== undefined) this.set(labels, v.ageS);
      },
    });
  }
}
