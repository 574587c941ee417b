import { McpCallError } from '../../../src/mcp/call-error';
import { McpClientPool } from '../../../src/mcp/pool';
import { registryFor, startTestServer, type TestServer } from './fixture';

const TOKEN = 'fault-admin-token-abcdefghijklmnop';

describe('rate limits seen by the client', () => {
  const servers: TestServer[] = [];
  const pools: McpClientPool[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.close();
    for (const s of servers.splice(0)) await s.close();
  });

  test('when the server answers 429 with Retry-After, then the call fails retryably as RateLimited with that delay', async () => {
    const s = await startTestServer('limited', { rateLimitPerMinute: 2 });
    servers.push(s);
    // No client budget (0 in config), so the server's 429 is what we meet.
    const pool = new McpClientPool(registryFor([{ url: s.server.mcpUrl }], { rate_limit_per_minute: 0 }));
    pools.push(pool);
    let err: unknown;
    for (let i = 0; i < 5 && !err; i++) await pool.callTool('t', 'echo', {}).catch((e: unknown) => (err = e));
    expect(err).toBeInstanceOf(McpCallError);
    const e = err as McpCallError;
    expect(e.type).toBe('RateLimited');
    expect(e.retryable).toBe(true);
    // 2/min: one token every 30 s.
    expect(e.details.retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(e.details.retryAfterMs).toBeLessThanOrEqual(30_000);
    // A 429 is a live server saying "slow down": the breaker does not count it.
    expect(pool.poolStatus().groups[0]!.endpoints[0]!.breaker.state).toBe('closed');
  });

  test('when the server advertises its per-client rate on /healthz, then the pool budgets 90 % of it', async () => {
    const s = await startTestServer('advertised', { rateLimitPerMinute: 600 });
    servers.push(s);
    const pool = new McpClientPool(registryFor([{ url: s.server.mcpUrl }]));
    pools.push(pool);
    await pool.checkHealth('t');
    const budget = pool.poolStatus().groups[0]!.endpoints[0]!.rateBudget;
    expect(budget).toMatchObject({ perMinute: 540, source: 'healthz' });
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await pool.callTool('t', 'echo', {});
    // Ten tokens spent; the bucket refills 9 a second meanwhile (a slow CI machine took > 111 ms once).
    const refilled = Math.ceil(((performance.now() - t0) / 1000) * 9);
    expect(pool.poolStatus().groups[0]!.endpoints[0]!.rateBudget.available).toBeLessThanOrEqual(531 + refilled);
  });
});

describe('fault injection admin endpoint', () => {
  let s: TestServer;
  let noToken: TestServer;
  beforeAll(async () => {
    s = await startTestServer('faulty', { serviceToken: TOKEN });
    noToken = await startTestServer('plain', { serviceToken: '' });
  });
  afterAll(async () => {
    await s.close();
    await noToken.close();
  });
  const post = (base: string, body: unknown, token?: string) =>
    fetch(`${base}/admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  test('when the server has no service token, then /admin/faults does not exist (404)', async () => {
    expect((await post(noToken.server.url, { failRate: 1 }, 'anything')).status).toBe(404);
    expect((await fetch(`${noToken.server.url}/admin/faults`)).status).toBe(404);
  });

  test('when the bearer is missing or wrong, then 401 and the settings stay unchanged', async () => {
    expect((await post(s.server.url, { failRate: 1 })).status).toBe(401);
    expect((await post(s.server.url, { failRate: 1 }, TOKEN + 'x')).status).toBe(401);
    expect(s.server.faults!.settings).toBeUndefined();
  });

  test('when settings are invalid, then 400 names the field', async () => {
    const res = await post(s.server.url, { failRate: 2 }, TOKEN);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/failRate/);
  });

  test('when failRate 1 is set for one tool, then that tool answers HTTP 503, others work, and the counter shows it', async () => {
    expect((await post(s.server.url, { failRate: 1, tools: ['echo'] }, TOKEN)).status).toBe(200);
    const pool = new McpClientPool(registryFor([{ url: s.server.mcpUrl }]));
    try {
      const e = await pool.callTool('t', 'echo', {}).catch((x: unknown) => x as McpCallError);
      expect(e).toBeInstanceOf(McpCallError);
      expect((e as McpCallError).type).toBe('ServerUnavailable');
      expect((e as McpCallError).details.status).toBe(503);
      const other = await pool.callTool('t', 'fail', {});
      expect(other.result.isError).toBe(true);
    } finally {
      await pool.close();
    }
    const view = (await (await fetch(`${s.server.url}/admin/faults`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      enabled: boolean;
      counters: { failed: number };
    };
    expect(view.enabled).toBe(true);
    expect(view.counters.failed).toBe(1);
    const cleared = (await (await post(s.server.url, {}, TOKEN)).json()) as { enabled: boolean };
    expect(cleared.enabled).toBe(false);
  });

  test('when latency and hangs are injected, then calls are delayed, and a hung call ends at the client timeout', async () => {
    await post(s.server.url, { latencyMs: 150 }, TOKEN);
    const pool = new McpClientPool(registryFor([{ url: s.server.mcpUrl }], { breaker: { failure_threshold: 10 } }));
    try {
      const r = await pool.callTool('t', 'echo', {});
      expect(r.callMs).toBeGreaterThanOrEqual(140);
      await post(s.server.url, { hangRate: 1 }, TOKEN);
      const t0 = Date.now();
      const e = await pool.callTool('t', 'echo', {}, { timeoutMs: 300 }).catch((x: unknown) => x as McpCallError);
      expect((e as McpCallError).type).toBe('ServerUnavailable');
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(s.server.faults!.counters.hung).toBe(1);
    } finally {
      await post(s.server.url, {}, TOKEN);
      await pool.close();
    }
  });
});
