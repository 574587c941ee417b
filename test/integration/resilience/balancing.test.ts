import { type McpCallError } from '../../../src/mcp/call-error';
import { McpClientPool } from '../../../src/mcp/pool';
import { registryFor, startTestServer, type TestServer } from './fixture';

describe('load balancing and failover', () => {
  const servers: TestServer[] = [];
  const pools: McpClientPool[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.close();
    for (const s of servers.splice(0)) await s.close().catch(() => undefined);
  });

  test('when two endpoints share the best priority, then calls are spread round robin between them', async () => {
    const a = await startTestServer('a');
    const b = await startTestServer('b');
    const c = await startTestServer('c');
    servers.push(a, b, c);
    const pool = new McpClientPool(
      registryFor([
        { url: a.server.mcpUrl, priority: 1 },
        { url: b.server.mcpUrl, priority: 1 },
        { url: c.server.mcpUrl, priority: 2 },
      ]),
    );
    pools.push(pool);
    for (let i = 0; i < 20; i++) await pool.callTool('t', 'echo', { n: i });
    expect(a.log.calls.echo).toBe(10);
    expect(b.log.calls.echo).toBe(10);
    expect(c.log.calls.echo).toBeUndefined();
  });

  test('when the primary dies, then calls fail over to the secondary, and return to the primary when it is back', async () => {
    const primary = await startTestServer('primary');
    const secondary = await startTestServer('secondary');
    servers.push(primary, secondary);
    const port = primary.server.port;
    const pool = new McpClientPool(
      registryFor(
        [
          { url: primary.server.mcpUrl, priority: 1 },
          { url: secondary.server.mcpUrl, priority: 2 },
        ],
        { breaker: { failure_threshold: 2, recovery_timeout: '300ms', success_threshold: 2 }, health_check_interval: '100ms' },
      ),
    );
    pools.push(pool);
    await pool.startHealthChecks();
    const who = async () => ((await pool.callTool('t', 'echo', {})).result.structuredContent as { server: string }).server;

    expect(await who()).toBe('primary');
    await primary.server.close();
    // The very call that meets the dead primary is answered by the secondary.
    const answered: string[] = [];
    for (let i = 0; i < 6; i++) answered.push(await who());
    expect(answered.every((s) => s === 'secondary')).toBe(true);
    const downStatus = pool.poolStatus().groups[0]!.endpoints[0]!;
    expect(downStatus.healthy === false || downStatus.breaker.state !== 'closed').toBe(true);

    // The primary comes back on the same port: health checks mark it up, the breaker half-opens and closes.
    const back = await startTestServer('primary', { port });
    servers.push(back);
    const deadline = Date.now() + 5000;
    let last = '';
    while (Date.now() < deadline) {
      last = await who();
      if (last === 'primary' && pool.poolStatus().groups[0]!.endpoints[0]!.breaker.state === 'closed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(last).toBe('primary');
    const st = pool.poolStatus().groups[0]!.endpoints[0]!;
    expect(st.healthy).toBe(true);
    expect(st.breaker.state).toBe('closed');
    expect(back.log.calls.echo).toBeGreaterThanOrEqual(1);
  });

  test('when every endpoint is dead, then the call fails retryably and the status names the breaker states', async () => {
    const a = await startTestServer('a');
    servers.push(a);
    const pool = new McpClientPool(registryFor([{ url: a.server.mcpUrl }], { breaker: { failure_threshold: 1, recovery_timeout: 60 } }));
    pools.push(pool);
    await a.server.close();
    const e1 = await pool.callTool('t', 'echo', {}).catch((e: unknown) => e as McpCallError);
    expect((e1 as McpCallError).type).toBe('ServerUnavailable');
    const e2 = await pool.callTool('t', 'echo', {}).catch((e: unknown) => e as McpCallError);
    expect((e2 as McpCallError).type).toBe('CircuitOpen');
    expect((e2 as McpCallError).details.retryAfterMs).toBeGreaterThan(55_000);
    expect(pool.poolStatus().groups[0]!.endpoints[0]!.breaker.state).toBe('open');
  });
});
