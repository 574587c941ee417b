import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RateLimiter, TokenBucket } from '../../../../src/servers/integration/rate-limiter';

describe('TokenBucket', () => {
  it('when a burst exceeds capacity, then the extra request is refused with the time to the next token', () => {
    const b = new TokenBucket({ capacity: 3, refillPerSecond: 2 }, 0);
    expect([b.take(0), b.take(0), b.take(0)].every((r) => r.allowed)).toBe(true);
    const refused = b.take(0);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterS).toBeCloseTo(0.5);
  });

  it('when time passes, then tokens refill up to capacity only', () => {
    const b = new TokenBucket({ capacity: 2, refillPerSecond: 1 }, 0);
    b.take(0);
    b.take(0);
    expect(b.take(500).allowed).toBe(false);
    expect(b.take(1000).allowed).toBe(true);
    expect(b.peek(60_000)).toBe(2);
  });

  it('when the refill rate is zero, then an empty bucket never refills', () => {
    const b = new TokenBucket({ capacity: 1, refillPerSecond: 0 }, 0);
    b.take(0);
    expect(b.take(1e9)).toMatchObject({ allowed: false, retryAfterS: Number.POSITIVE_INFINITY });
  });
});

describe('RateLimiter', () => {
  let dir: string;
  let now = 0;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'integration-rl-'));
    now = 0;
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('when clients call, then each has its own bucket', () => {
    const rl = new RateLimiter(dir, { capacity: 1, refillPerSecond: 1 }, () => now);
    expect(rl.take('a').allowed).toBe(true);
    expect(rl.take('a').allowed).toBe(false);
    expect(rl.take('b').allowed).toBe(true);
    expect(rl.rejected).toBe(1);
  });

  it('when a client limit is set, then it applies at once, persists across restarts, and can be removed', () => {
    const rl = new RateLimiter(dir, { capacity: 10, refillPerSecond: 1 }, () => now);
    rl.take('a');
    rl.set('a', { capacity: 1, refillPerSecond: 0.1 });
    expect(rl.inspect('a')).toMatchObject({ source: 'client', tokens: 1 });
    const again = new RateLimiter(dir, { capacity: 10, refillPerSecond: 1 }, () => now);
    expect(again.limitFor('a')).toEqual({ limit: { capacity: 1, refillPerSecond: 0.1 }, source: 'client' });
    again.set('a', undefined);
    expect(again.limitFor('a').source).toBe('default');
  });

  it('when the default is changed with "*", then clients without their own limit follow it', () => {
    const rl = new RateLimiter(dir, { capacity: 10, refillPerSecond: 1 }, () => now);
    rl.set('own', { capacity: 5, refillPerSecond: 1 });
    rl.set('*', { capacity: 2, refillPerSecond: 1 });
    expect(rl.limitFor('someone').limit.capacity).toBe(2);
    expect(rl.limitFor('own').limit.capacity).toBe(5);
  });

  it('when Retry-After would be infinite, then it is capped at an hour', () => {
    const rl = new RateLimiter(dir, { capacity: 1, refillPerSecond: 0 }, () => now);
    rl.take('a');
    expect(rl.take('a').retryAfterS).toBe(3600);
  });
});
