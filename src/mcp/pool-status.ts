import type { PoolStatus } from './pool';

/**
 * Renders {@link PoolStatus} as the `mcp-orch servers` table: one row per endpoint with health,
 * latency, breaker state, load and rate budget. Pure, so the CLI (and tests) can print any snapshot.
 */
export function formatPoolStatus(status: PoolStatus): string {
  const rows: string[][] = [['group', 'endpoint', 'prio', 'health', 'latency', 'breaker', 'in-flight', 'calls', 'faults', 'rate budget']];
  for (const g of status.groups) {
    for (const e of g.endpoints) {
      const breaker = e.breaker.state === 'open' ? `open (${Math.ceil(e.breaker.msUntilHalfOpen / 1000)} s)` : e.breaker.state;
      const budget = e.rateBudget.perMinute === 0 ? '—' : `${e.rateBudget.available ?? '∞'}/${e.rateBudget.perMinute} per min (${e.rateBudget.source})`;
      rows.push([
        g.group,
        e.process?.pid !== undefined ? `${e.url} (pid ${e.process.pid})` : e.url,
        String(e.priority),
        e.process?.state === 'idle' ? 'not started' : e.lastHealthAt === undefined ? 'unchecked' : e.healthy ? 'up' : 'down',
        e.lastLatencyMs === undefined ? '—' : `${e.lastLatencyMs} ms`,
        breaker,
        String(e.inFlight),
        String(e.calls),
        String(e.transportFailures),
        budget,
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
