import { type McpCallError } from '../../../src/mcp/call-error';
import { McpClientPool } from '../../../src/mcp/pool';
import { registryFor, startTestServer } from './fixture';

/**
 * Regression (found by `npm run chaos`): a 503 on one call used to close the shared MCP client, which
 * aborted every other call in flight on it; the burst of failures then opened the breaker.
 */
describe('transient faults under concurrency', () => {
  it('when 10 % of 200 concurrent calls get HTTP 503, then only those calls fail: no collateral failures', async () => {
    const s = await startTestServer('flaky', { faults: { failRate: 0.1, latencyMs: 0, hangRate: 0 } });
    const pool = new McpClientPool(registryFor([{ url: s.server.mcpUrl }], { rate_limit_per_minute: 0 }));
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 200 }, () => pool.callTool('t', 'echo', {})));
      const unavailable = outcomes.filter((o) => o.status === 'rejected' && (o.reason as McpCallError).type === 'ServerUnavailable').length;
      const injected = s.server.faults!.counters.failed;
      expect(injected).toBeGreaterThan(0);
      // Every ServerUnavailable is an injected 503; none is a call aborted by someone else's failure.
      expect(unavailable).toBe(injected);
      const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
      expect(ok + unavailable + outcomes.filter((o) => o.status === 'rejected' && (o.reason as McpCallError).type === 'CircuitOpen').length).toBe(200);
    } finally {
      await pool.close();
      await s.close();
    }
  });
});
