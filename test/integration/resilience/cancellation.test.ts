import { McpClientPool } from '../../../src/mcp/pool';
import { registryFor, sleep, startTestServer, type TestServer } from './fixture';

describe('cancellation reaches the server', () => {
  let s: TestServer;
  let pool: McpClientPool;
  beforeAll(async () => {
    s = await startTestServer('cancel');
    pool = new McpClientPool(registryFor([{ url: s.server.mcpUrl }]));
  });
  afterAll(async () => {
    await pool.close();
    await s.close();
  });

  test('when the caller aborts a slow tool call, then the tool sees its signal abort and stops', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const call = pool.callTool('t', 'slow', { ms: 10_000 }, { signal: ac.signal });
    // Abort only once the tool runs (the first call also connects, which may be slow on a busy machine).
    for (let i = 0; i < 250 && !s.log.calls.slow; i++) await sleep(20);
    expect(s.log.calls.slow).toBe(1);
    ac.abort();
    await expect(call).rejects.toThrow();
    for (let i = 0; i < 50 && s.log.aborted === 0; i++) await sleep(20);
    expect(s.log.aborted).toBe(1);
    expect(s.log.finished).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
  });

  test('when a call is aborted, then the pool keeps serving other calls on the same connection', async () => {
    const r = await pool.callTool('t', 'echo', { n: 1 });
    expect(r.result.structuredContent).toEqual({ server: 'cancel', n: 1 });
    const st = pool.poolStatus().groups[0]!.endpoints[0]!;
    expect(st.breaker.state).toBe('closed');
    expect(st.inFlight).toBe(0);
  });
});
