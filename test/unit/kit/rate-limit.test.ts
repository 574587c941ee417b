import { ClientRateLimiter, DEFAULT_CLIENT_RATE_PER_MINUTE } from '../../../src/servers/kit/rate-limit';

describe('kit per-client token bucket', () => {
  it('when a client sends more than its burst, then the excess is refused with a retry time of one refill', () => {
    let now = 0;
    const limiter = new ClientRateLimiter({ perMinute: 60, burst: 3, now: () => now });
    const outcomes = Array.from({ length: 5 }, () => limiter.take('client:a'));
    expect(outcomes.map((o) => o.allowed)).toEqual([true, true, true, false, false]);
    // 60/min refills one token per second.
    expect(outcomes[3]!.retryAfterS).toBeCloseTo(1, 5);
    now += 1000;
    expect(limiter.take('client:a').allowed).toBe(true);
    expect(limiter.take('client:a').allowed).toBe(false);
  });

  it('when one client floods, then another client keeps its own full bucket', () => {
    const limiter = new ClientRateLimiter({ perMinute: 2, now: () => 0 });
    limiter.take('client:a');
    limiter.take('client:a');
    expect(limiter.take('client:a').allowed).toBe(false);
    expect(limiter.take('client:b').allowed).toBe(true);
  });

  it('when the limit is 0, then it is disabled and everything passes', () => {
    const limiter = new ClientRateLimiter({ perMinute: 0 });
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 100; i++) expect(limiter.take('x').allowed).toBe(true);
  });

  it('when more clients than the cap appear, then idle buckets are forgotten and memory stays bounded', () => {
    let now = 0;
    const limiter = new ClientRateLimiter({ perMinute: 60, maxClients: 10, now: () => now });
    for (let i = 0; i < 100; i++) {
      limiter.take(`addr:${i}`);
      now += 2000;
    }
    expect(limiter.clients).toBeLessThanOrEqual(10);
  });

  it('when configured with a negative rate, then it refuses to start', () => {
    expect(() => new ClientRateLimiter({ perMinute: -1 })).toThrow(/≥ 0/);
  });

  it('when nothing is configured, then the default is generous (1200/min)', () => {
    expect(DEFAULT_CLIENT_RATE_PER_MINUTE).toBe(1200);
  });
});
