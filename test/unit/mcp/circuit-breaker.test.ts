import { EndpointBreaker } from '../../../src/mcp/circuit-breaker';
import { formatPoolStatus } from '../../../src/mcp/pool-status';
import { RateBudget } from '../../../src/mcp/rate-budget';

function breaker(overrides: Partial<ConstructorParameters<typeof EndpointBreaker>[0]> = {}) {
  const clock = { t: 1_000_000 };
  const b = new EndpointBreaker({ failureThreshold: 5, recoveryTimeoutMs: 30_000, halfOpenMaxCalls: 3, successThreshold: 2, ...overrides }, () => clock.t);
  const fail = () => b.tryAcquire()!.failure();
  const ok = () => b.tryAcquire()!.success();
  return { b, clock, fail, ok };
}

describe('EndpointBreaker', () => {
  test('when 4 failures are followed by a success, then the count restarts (consecutive failures only)', () => {
    const { b, fail, ok } = breaker();
    for (let i = 0; i < 4; i++) fail();
    ok();
    for (let i = 0; i < 4; i++) fail();
    expect(b.state).toBe('closed');
    fail();
    expect(b.state).toBe('open');
  });

  test('when open, then no permit until the recovery timeout, and the wait is reported', () => {
    const { b, clock, fail } = breaker();
    for (let i = 0; i < 5; i++) fail();
    expect(b.tryAcquire()).toBeUndefined();
    clock.t += 10_000;
    expect(b.msUntilHalfOpen()).toBe(20_000);
    clock.t += 20_000;
    expect(b.state).toBe('half-open');
    expect(b.msUntilHalfOpen()).toBe(0);
  });

  test('when half-open, then at most half_open_max_calls trials run at once', () => {
    const { b, clock, fail } = breaker();
    for (let i = 0; i < 5; i++) fail();
    clock.t += 30_000;
    const permits = [b.tryAcquire(), b.tryAcquire(), b.tryAcquire()];
    expect(permits.every(Boolean)).toBe(true);
    expect(b.tryAcquire()).toBeUndefined();
    permits[0]!.release();
    expect(b.canPass()).toBe(true);
  });

  test('when success_threshold trials succeed, then it closes; when a trial fails, then it reopens', () => {
    const { b, clock, fail, ok } = breaker({ successThreshold: 2 });
    for (let i = 0; i < 5; i++) fail();
    clock.t += 30_000;
    ok();
    expect(b.state).toBe('half-open');
    fail();
    expect(b.state).toBe('open');
    expect(b.opens).toBe(2);
    clock.t += 30_000;
    ok();
    ok();
    expect(b.state).toBe('closed');
    // Closed afresh: a new run of failures is needed to open it.
    for (let i = 0; i < 4; i++) fail();
    expect(b.state).toBe('closed');
  });

  test('when a call taken before the circuit opened succeeds late, then it does not count as a trial', () => {
    const { b, clock, fail } = breaker({ failureThreshold: 1, successThreshold: 1 });
    const early = b.tryAcquire()!;
    fail();
    clock.t += 30_000;
    early.success();
    expect(b.state).toBe('half-open');
  });
});

describe('RateBudget', () => {
  test('when unlimited, then take never waits', async () => {
    const r = new RateBudget(0);
    for (let i = 0; i < 1000; i++) await r.take();
    expect(r.perMinute).toBe(0);
  });

  test('when the bucket is empty, then callers wait in order for refills and can be aborted', async () => {
    const r = new RateBudget(600, 1); // 10/s, burst 600
    for (let i = 0; i < 600; i++) await r.take();
    expect(r.available).toBe(0);
    const order: number[] = [];
    const t0 = Date.now();
    const ac = new AbortController();
    const aborted = r.take(ac.signal).catch(() => order.push(-1));
    const a = r.take().then(() => order.push(1));
    const b = r.take().then(() => order.push(2));
    ac.abort();
    await Promise.all([aborted, a, b]);
    expect(order).toEqual([-1, 1, 2]);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(2000);
    r.close();
  });

  test('when the advertised rate is set, then 90 % of it is budgeted', () => {
    const r = new RateBudget(0);
    r.setRate(1200);
    expect(r.perMinute).toBe(1080);
    expect(r.available).toBe(1080);
    r.setRate(60);
    expect(r.available).toBe(54);
  });
});

describe('formatPoolStatus', () => {
  test('when an endpoint is open and budgeted, then its row says so', () => {
    const text = formatPoolStatus({
      at: '2026-01-01T00:00:00Z',
      groups: [
        {
          group: 'data',
          healthCheckIntervalMs: 30_000,
          endpoints: [
            {
              url: 'http://127.0.0.1:8001/mcp',
              priority: 1,
              healthy: false,
              lastHealthAt: '2026-01-01T00:00:00Z',
              lastLatencyMs: 3.2,
              breaker: { state: 'open', opens: 1, msUntilHalfOpen: 12_100 },
              inFlight: 0,
              calls: 9,
              transportFailures: 5,
              rateBudget: { perMinute: 1080, available: 1070, waiting: 0, source: 'healthz' },
            },
          ],
        },
      ],
    });
    expect(text).toMatch(/data\s+http:\/\/127\.0\.0\.1:8001\/mcp\s+1\s+down\s+3\.2 ms\s+open \(13 s\)\s+0\s+9\s+5\s+1070\/1080 per min \(healthz\)/);
  });
});
