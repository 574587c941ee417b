/**
 * Per-client token buckets for the kit's `/mcp` endpoint (RELIABILITY item 21: floods → 429 with
 * `Retry-After`). A client is the verified bearer subject when the server authenticates, else the
 * remote address: an unverified token never names the client, or a forged subject would open a fresh
 * bucket (or drain someone else's).
 */

/** Default requests per minute per client: generous, so only a flood or a runaway loop meets it. */
export const DEFAULT_CLIENT_RATE_PER_MINUTE = 1200;

export interface ClientRateLimitOptions {
  /** Sustained requests per minute per client; 0 disables the limit. */
  perMinute: number;
  /** Largest burst. @default perMinute */
  burst?: number;
  /** Most clients tracked; beyond it, full (idle) buckets are forgotten first. @default 10000 */
  maxClients?: number;
  /** Clock (tests). @default Date.now */
  now?: () => number;
}

export interface RateDecision {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Seconds until one token is available again (0 when allowed). */
  retryAfterS: number;
  limit: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets keyed by client; refilled continuously at `perMinute / 60` per second. */
export class ClientRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly perMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: ClientRateLimitOptions) {
    if (!Number.isFinite(opts.perMinute) || opts.perMinute < 0)
      throw new Error(`client rate limit must be a number ≥ 0 per minute, got ${opts.perMinute}`);
    this.capacity = Math.max(1, opts.burst ?? opts.perMinute);
    this.perMs = opts.perMinute / 60_000;
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.perMinute > 0;
  }

  get perMinute(): number {
    return this.opts.perMinute;
  }

  get burst(): number {
    return this.capacity;
  }

  get clients(): number {
    return this.buckets.size;
  }

  /** Takes one token from `client`'s bucket. */
  take(client: string): RateDecision {
    if (!this.enabled) return { allowed: true, remaining: Infinity, retryAfterS: 0, limit: 0 };
    const now = this.now();
    let b = this.buckets.get(client);
    if (b) {
      b.tokens = Math.min(this.capacity, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    } else {
      this.evictIfFull(now);
      b = { tokens: this.capacity, at: now };
      this.buckets.set(client, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { allowed: true, remaining: Math.floor(b.tokens), retryAfterS: 0, limit: this.opts.perMinute };
    }
    return {
      allowed: false,
      remaining: 0,
      retryAfterS: (1 - b.tokens) / this.perMs / 1000,
      limit: this.opts.perMinute,
    };
  }

  private evictIfFull(now: number): void {
    const max = this.opts.maxClients ?? 10_000;
    if (this.buckets.size < max) return;
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.capacity) this.buckets.delete(k);
    }
    // Everyone is mid-flood: forget the oldest entries (Map keeps insertion order).
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < max) break;
      this.buckets.delete(k);
    }
  }
}
