import { McpCallError } from '../../../src/mcp/call-error';
import { McpClientPool } from '../../../src/mcp/pool';
import { registryFor, sleep, startTestServer, type TestServer } from './fixture';

const TOKEN = 'resilience-admin-token-0123456789';

async function setFaults(s: TestServer, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${s.server.url}/admin/faults`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

async function failure(p: Promise<unknown>): Promise<McpCallError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof McpCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('circuit breaker against a controllable server (issue 6, acceptance 3)', () => {
  let s: TestServer;
  let pool: McpClientPool;
  const state = () => pool.poolStatus().groups[0]!.endpoints[0]!.breaker.state;

  beforeAll(async () => {
    s = await startTestServer('breaker', { serviceToken: TOKEN });
    pool = new McpClientPool(
      registryFor([{ url: s.server.mcpUrl }], {
        breaker: { failure_threshold: 5, recovery_timeout: '400ms', half_open_max_calls: 3, success_threshold: 2 },
      }),
    );
  });
  afterAll(async () => {
    await pool.close();
    await s.close();
  });

  test('when a tool returns isError, then the breaker does not count it', async () => {
    for (let i = 0; i < 7; i++) {
      const r = await pool.callTool('t', 'fail', {});
      expect(r.result.isError).toBe(true);
    }
    expect(state()).toBe('closed');
  });

  test('when 5 consecutive calls meet HTTP 503, then the circuit opens and further calls fail fast with CircuitOpen', async () => {
    await setFaults(s, { failRate: 1 });
    for (let i = 0; i < 4; i++) {
      const e = await failure(pool.callTool('t', 'echo', {}));
      expect(e.type).toBe('ServerUnavailable');
      expect(e.retryable).toBe(true);
      expect(state()).toBe('closed');
    }
    await failure(pool.callTool('t', 'echo', {}));
    expect(state()).toBe('open');
    const seen = s.server.faults!.counters.failed;
    expect(seen).toBe(5);

    const open = await failure(pool.callTool('t', 'echo', {}));
    expect(open.type).toBe('CircuitOpen');
    expect(open.retryable).toBe(true);
    expect(open.details.retryAfterMs).toBeGreaterThan(0);
    expect(open.details.retryAfterMs).toBeLessThanOrEqual(400);
    // Failing fast: the refused call never reached the server.
    expect(s.server.faults!.counters.failed).toBe(seen);
  });

  test('when a half-open trial fails, then the circuit opens again for another recovery timeout', async () => {
    await sleep(450);
    expect(state()).toBe('half-open');
    const e = await failure(pool.callTool('t', 'echo', {}));
    expect(e.type).toBe('ServerUnavailable');
    expect(state()).toBe('open');
  });

  test('when the recovery timeout passes and the server is well, then 2 successful trials close the circuit', async () => {
    await setFaults(s, {});
    await sleep(450);
    expect(state()).toBe('half-open');
    const r1 = await pool.callTool('t', 'echo', { n: 1 });
    expect(r1.result.isError).toBeFalsy();
    expect(state()).toBe('half-open');
    await pool.callTool('t', 'echo', { n: 2 });
    expect(state()).toBe('closed');
    expect(pool.poolStatus().groups[0]!.endpoints[0]!.breaker.opens).toBe(2);
  });
});
