import { readMetricsAnnouncements } from '../observability/metrics/endpoint';
import { parseExposition, select, type Sample } from '../observability/metrics/parse';

/** One endpoint as the worker that calls it sees it: breaker, health, load and rate budget. */
export interface WorkerEndpointView {
  group: string;
  endpoint: string;
  breaker: 'closed' | 'half-open' | 'open' | 'unknown';
  breakerOpens?: number;
  up?: boolean;
  inFlight?: number;
  latencyMs?: number;
  calls?: number;
  transportFailures?: number;
  rateBudgetPerMinute?: number;
  rateBudgetTokens?: number;
}

const BREAKER = ['closed', 'half-open', 'open'] as const;

/** Pure: the per-endpoint rows of one worker's `/metrics` scrape. */
export function endpointViewsFromSamples(samples: readonly Sample[]): WorkerEndpointView[] {
  const rows = new Map<string, WorkerEndpointView>();
  const row = (s: Sample) => {
    const key = `${s.labels.group}\0${s.labels.endpoint}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { group: s.labels.group ?? '?', endpoint: s.labels.endpoint ?? '?', breaker: 'unknown' }));
    return r;
  };
  for (const s of select(samples, 'mcp_worker_breaker_state')) row(s).breaker = BREAKER[s.value] ?? 'unknown';
  const fields: Array<[string, (r: WorkerEndpointView, v: number) => void]> = [
    ['mcp_worker_breaker_opens', (r, v) => (r.breakerOpens = v)],
    ['mcp_worker_endpoint_up', (r, v) => (r.up = v === 1)],
    ['mcp_worker_endpoint_in_flight', (r, v) => (r.inFlight = v)],
    ['mcp_worker_endpoint_latency_seconds', (r, v) => (r.latencyMs = v * 1000)],
    ['mcp_worker_endpoint_calls', (r, v) => (r.calls = v)],
    ['mcp_worker_endpoint_transport_failures', (r, v) => (r.transportFailures = v)],
    ['mcp_worker_rate_budget_per_minute', (r, v) => (r.rateBudgetPerMinute = v)],
    ['mcp_worker_rate_budget_tokens', (r, v) => (r.rateBudgetTokens = v)],
  ];
  for (const [name, set] of fields) for (const s of select(samples, name)) set(row(s), s.value);
  return [...rows.values()];
}

/**
 * Breaker states and load live in the group workers' pools, not in the CLI: read them from the
 * workers' `/metrics` endpoints, found through their announcements in `<root>/run/`.
 */
export async function workerEndpointViews(root: string, timeoutMs = 2000): Promise<{ views: WorkerEndpointView[]; unreachable: string[] }> {
  const views: WorkerEndpointView[] = [];
  const unreachable: string[] = [];
  await Promise.all(
    readMetricsAnnouncements(root)
      .filter((a) => a.group !== 'orchestrator')
      .map(async (a) => {
        try {
          const res = await fetch(a.url, { signal: AbortSignal.timeout(timeoutMs) });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          views.push(...endpointViewsFromSamples(parseExposition(await res.text())));
        } catch {
          unreachable.push(a.group);
        }
      }),
  );
  views.sort((x, y) => x.group.localeCompare(y.group) || x.endpoint.localeCompare(y.endpoint));
  return { views, unreachable };
}

/** Table lines for `mcp-orch servers`. */
export function workerViewLines(views: readonly WorkerEndpointView[]): string[] {
  const fmt = (v: number | undefined, unit = '') => (v === undefined ? '-' : `${Number.isInteger(v) ? v : v.toFixed(1)}${unit}`);
  return views.map(
    (v) =>
      `  ${v.group.padEnd(13)} ${v.endpoint.padEnd(34)} breaker ${v.breaker.padEnd(9)} ${v.up === false ? 'DOWN' : 'up  '} in-flight ${fmt(v.inFlight)}  last ${fmt(v.latencyMs, ' ms')}  calls ${fmt(v.calls)}  transport failures ${fmt(v.transportFailures)}  rate budget ${v.rateBudgetPerMinute ? `${fmt(v.rateBudgetTokens)}/${v.rateBudgetPerMinute} per min` : 'none'}`,
  );
}
