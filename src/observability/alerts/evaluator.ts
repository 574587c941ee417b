import { isLoopbackAddress } from '../metrics/server-metrics';
import { bucketDelta, histograms, labelKey, parseExposition, quantile, select, type HistogramBuckets, type Sample } from '../metrics/parse';
import { BREAKER_STATE_VALUE } from '../metrics/worker-metrics';
import type { Notifier } from './notifier';
import { ALERT_METRICS, defaultAlertRules, sameRule, type AlertThresholds } from './rules';

/** Something the evaluator samples each tick. */
export interface AlertTarget {
  kind: 'server' | 'worker';
  /** `data`, `storage`, … (the `server` or `worker` label of its samples). */
  name: string;
  /** Servers: `GET` answers 200 when the server is up. */
  healthUrl?: string;
  /** Prometheus endpoint; for a worker, answering at all means up. */
  metricsUrl: string;
}

/** One gauge sample pushed to the notification server. */
export interface PushedPoint {
  name: string;
  value: number;
  labels: Record<string, string>;
  timestamp: string;
}

export interface AlertEvaluatorOptions extends AlertThresholds {
  /** Where to look this tick (re-read every tick: workers come and go). */
  targets: () => AlertTarget[] | Promise<AlertTarget[]>;
  notifier: Notifier;
  /** Dashboard the gauges land on. @default 'Operations' */
  dashboard?: string;
  /** Bearer for scraping targets that are not on loopback (the stack's service token). */
  serviceToken?: string;
  log?: (line: string) => void;
}

export interface TickReport {
  at: string;
  points: PushedPoint[];
  /** Alert transitions the push caused (from dashboard_update). */
  alertEvents: Array<{ alertId: string; kind: string; seriesKey: string; value: number }>;
  errors: string[];
}

const PUSH_CHUNK = 500;

function ratio(used: number | undefined, limit: number | undefined): number | undefined {
  if (used === undefined || limit === undefined || !(limit > 0)) return undefined;
  return Math.min(1, Math.max(0, used / limit));
}

function one(samples: Sample[], name: string): number | undefined {
  const s = select(samples, name);
  return s.length ? s.reduce((a, x) => a + x.value, 0) : undefined;
}

/**
 * The alert loop: every interval it checks each server's `/healthz` and scrapes each server's and
 * worker's `/metrics`, turns them into a few gauges (up, tool p95 over the interval's calls, resource
 * usage ratios, breaker states), pushes them to the notification server in one `dashboard_update`,
 * whose rules (ensured at start, see {@link defaultAlertRules}) fire to Slack.
 */
export class AlertEvaluator {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;
  private rulesReady = false;
  /** Histogram buckets at the previous scrape, so p95 covers only the interval's calls. */
  private readonly lastBuckets = new Map<string, HistogramBuckets['buckets']>();
  private readonly dashboard: string;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: AlertEvaluatorOptions) {
    this.dashboard = opts.dashboard ?? 'Operations';
    this.log = opts.log ?? ((l) => process.stderr.write(`alerts: ${l}\n`));
  }

  /**
   * Makes sure the rules exist as specified: a missing or different rule is (re)created, an identical
   * one is left alone so its firing state survives an evaluator restart. Returns the ids created.
   */
  async ensureRules(): Promise<string[]> {
    const { alerts } = await this.opts.notifier.call<{ alerts: Array<Record<string, unknown>> }>('list_alerts', { limit: 100 });
    const created: string[] = [];
    for (const rule of defaultAlertRules(this.opts)) {
      const stored = alerts.find((a) => a.id === rule.id);
      if (stored && sameRule(stored, rule)) continue;
      await this.opts.notifier.call('create_alert', rule);
      created.push(rule.id);
    }
    return created;
  }

  /** Ensures the rules (retrying until the notification server answers), then ticks every interval. */
  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      this.running = (async () => {
        try {
          if (!this.rulesReady) {
            const created = await this.ensureRules();
            this.rulesReady = true;
            this.log(`rules ready${created.length ? ` (created ${created.join(', ')})` : ''}`);
          }
          const r = await this.tick();
          for (const e of r.alertEvents) this.log(`${e.kind} ${e.alertId} ${e.seriesKey} = ${e.value}`);
          for (const e of r.errors) this.log(e);
        } catch (err) {
          this.log(`tick failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      })();
      await this.running;
      // Chained, not setInterval: a slow tick never overlaps the next, and samples stay ≥ one interval apart.
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.opts.intervalS * 1000);
    };
    void loop();
  }

  /** Stops the loop after the tick in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One evaluation: sample every target, push the gauges. */
  async tick(): Promise<TickReport> {
    const at = new Date().toISOString();
    const points: PushedPoint[] = [];
    const errors: string[] = [];
    const targets = await this.opts.targets();
    await Promise.all(
      targets.map((t) =>
        this.sample(t, at, points).catch((err: unknown) => errors.push(`${t.kind} ${t.name}: ${err instanceof Error ? err.message : String(err)}`)),
      ),
    );
    const alertEvents: TickReport['alertEvents'] = [];
    for (let i = 0; i < points.length; i += PUSH_CHUNK) {
      const r = await this.opts.notifier.call<{ alertEvents: TickReport['alertEvents'] }>('dashboard_update', {
        dashboard: this.dashboard,
        metrics: points.slice(i, i + PUSH_CHUNK),
      });
      alertEvents.push(...r.alertEvents);
    }
    return { at, points, alertEvents, errors };
  }

  private async fetchText(url: string): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = {};
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    if (this.opts.serviceToken && !(host === 'localhost' || isLoopbackAddress(host))) headers.authorization = `Bearer ${this.opts.serviceToken}`;
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(Math.max(500, Math.min(5000, this.opts.intervalS * 1000))) });
    return { status: res.status, text: await res.text() };
  }

  private async sample(t: AlertTarget, at: string, points: PushedPoint[]): Promise<void> {
    const push = (name: string, value: number | undefined, labels: Record<string, string>) => {
      if (value !== undefined && Number.isFinite(value)) points.push({ name, value, labels, timestamp: at });
    };
    const who: Record<string, string> = t.kind === 'server' ? { server: t.name } : { worker: t.name };
    if (t.kind === 'server' && t.healthUrl) {
      const up = await this.fetchText(t.healthUrl).then((r) => (r.status === 200 ? 1 : 0), () => 0);
      push(ALERT_METRICS.serverUp, up, who);
      if (!up) return;
    }
    let samples: Sample[];
    try {
      const r = await this.fetchText(t.metricsUrl);
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      samples = parseExposition(r.text);
    } catch (err) {
      if (t.kind === 'worker') push(ALERT_METRICS.workerUp, 0, who);
      // A server without /metrics (404) is still watched through /healthz.
      if (t.kind === 'server' && !(err instanceof Error && /HTTP 404/.test(err.message))) throw new Error(`scrape ${t.metricsUrl}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (t.kind === 'worker') push(ALERT_METRICS.workerUp, 1, who);

    // Tool p95 over the calls since the last tick (all outcomes but aborted), per tool.
    const histogram = t.kind === 'server' ? 'mcp_server_tool_duration_seconds' : 'mcp_worker_tool_call_duration_seconds';
    const perTool = new Map<string, { labels: Record<string, string>; buckets: Map<number, number> }>();
    for (const h of histograms(samples, histogram)) {
      if (h.labels.outcome === 'aborted' || h.labels.outcome === 'cancelled') continue;
      const labels: Record<string, string> = { ...who, tool: h.labels.tool ?? 'unknown' };
      if (t.kind === 'worker' && h.labels.server) labels.mcp_server = h.labels.server;
      const key = `${t.kind}:${t.name}|${labelKey(labels)}`;
      const entry = perTool.get(key) ?? { labels, buckets: new Map<number, number>() };
      for (const b of h.buckets) entry.buckets.set(b.le, (entry.buckets.get(b.le) ?? 0) + b.count);
      perTool.set(key, entry);
    }
    for (const [key, { labels, buckets }] of perTool) {
      const now = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
      const delta = bucketDelta(now, this.lastBuckets.get(key));
      this.lastBuckets.set(key, now);
      push(ALERT_METRICS.toolP95, quantile(0.95, delta), labels);
    }

    // Resources: memory vs its limit, heap vs V8's limit, disk of the data folder.
    push(ALERT_METRICS.resourceUsage, ratio(one(samples, 'process_resident_memory_bytes'), one(samples, 'process_memory_limit_bytes')), { ...who, resource: 'memory' });
    push(ALERT_METRICS.resourceUsage, ratio(one(samples, 'nodejs_heap_size_used_bytes'), one(samples, 'nodejs_heap_size_limit_bytes')), { ...who, resource: 'heap' });
    const free = one(samples, 'mcp_data_disk_free_bytes');
    const size = one(samples, 'mcp_data_disk_size_bytes');
    if (free !== undefined && size !== undefined && size > 0) push(ALERT_METRICS.resourceUsage, 1 - free / size, { ...who, resource: 'disk' });

    if (t.kind === 'worker') {
      // Rate budget per endpoint: the share of the bucket spent; callers waiting means all of it.
      for (const pm of select(samples, 'mcp_worker_rate_budget_per_minute')) {
        if (!(pm.value > 0)) continue;
        const ep = { endpoint: pm.labels.endpoint ?? '', group: pm.labels.group ?? '' };
        const tokens = select(samples, 'mcp_worker_rate_budget_tokens', ep)[0]?.value;
        const waiting = select(samples, 'mcp_worker_rate_budget_waiting', ep)[0]?.value ?? 0;
        const used = waiting > 0 ? 1 : tokens === undefined ? undefined : 1 - Math.min(tokens, pm.value) / pm.value;
        push(ALERT_METRICS.resourceUsage, used, { ...who, resource: 'rate_budget', ...ep });
      }
      for (const b of select(samples, 'mcp_worker_breaker_state')) {
        push(ALERT_METRICS.breakerState, b.value, { ...who, group: b.labels.group ?? '', endpoint: b.labels.endpoint ?? '' });
      }
    }
  }
}

/** Exposed for tests and dashboards: the breaker encoding the worker metrics use. */
export { BREAKER_STATE_VALUE };
