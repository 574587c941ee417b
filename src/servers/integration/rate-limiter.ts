import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import type { RequestAuthenticator } from '../kit';
import { readJsonFile, writeJsonFile } from './json-file';

/** A token-bucket limit: `capacity` requests in a burst, refilled at `refillPerSecond`. */
export interface BucketLimit {
  capacity: number;
  refillPerSecond: number;
}

/** Outcome of taking one token. */
export interface TakeResult {
  allowed: boolean;
  /** Tokens left after this request (floored). */
  remaining: number;
  /** Seconds until one token is available again (0 when allowed). */
  retryAfterS: number;
}

/** One client's bucket. Time is passed in so tests need no sleeps. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    public limit: BucketLimit,
    nowMs: number,
  ) {
    this.tokens = limit.capacity;
    this.last = nowMs;
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.last) / 1000;
    this.tokens = Math.min(this.limit.capacity, this.tokens + elapsed * this.limit.refillPerSecond);
    this.last = nowMs;
  }

  take(nowMs: number): TakeResult {
    this.refill(nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { allowed: true, remaining: Math.floor(this.tokens), retryAfterS: 0 };
    }
    const wait =
      this.limit.refillPerSecond > 0
        ? (1 - this.tokens) / this.limit.refillPerSecond
        : Number.POSITIVE_INFINITY;
    return { allowed: false, remaining: 0, retryAfterS: wait };
  }

  /** Tokens available now, without taking one. */
  peek(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  /** Applies a new limit; tokens already earned are kept up to the new capacity. */
  setLimit(limit: BucketLimit, nowMs: number): void {
    this.refill(nowMs);
    this.limit = limit;
    this.tokens = Math.min(this.tokens, limit.capacity);
  }
}

interface LimitsFile {
  version: 1;
  default?: BucketLimit;
  clients: Record<string, BucketLimit>;
}

/** Buckets kept for at most this many clients; idle full buckets are dropped first. */
const MAX_TRACKED_CLIENTS = 10_000;
/** Largest Retry-After we send (a zero refill rate would otherwise say "never"). */
const MAX_RETRY_AFTER_S = 3600;

/**
 * Per-client token buckets with limits that can be changed at run time (the `rate_limit` tool) and
 * survive restarts (`<dataDir>/rate-limits.json`). Bucket levels themselves live in memory: after a
 * restart every client starts with a full bucket.
 */
export class RateLimiter {
  private readonly file: string;
  private readonly state: LimitsFile;
  private readonly buckets = new Map<string, TokenBucket>();
  /** Requests refused with 429 since start (measured, for server_info). */
  rejected = 0;
  allowed = 0;

  constructor(
    dataDir: string,
    private readonly configuredDefault: BucketLimit,
    private readonly now: () => number = Date.now,
  ) {
    this.file = path.join(dataDir, 'rate-limits.json');
    this.state = readJsonFile<LimitsFile>(this.file, { version: 1, clients: {} });
  }

  /** The default limit: set at run time, else the configured one. */
  get defaultLimit(): BucketLimit {
    return this.state.default ?? this.configuredDefault;
  }

  /** The limit that applies to a client and whether it is an override of the default. */
  limitFor(clientId: string): { limit: BucketLimit; source: 'client' | 'default' } {
    const own = this.state.clients[clientId];
    return own ? { limit: own, source: 'client' } : { limit: this.defaultLimit, source: 'default' };
  }

  private bucket(clientId: string): TokenBucket {
    let b = this.buckets.get(clientId);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED_CLIENTS) this.evict();
      b = new TokenBucket(this.limitFor(clientId).limit, this.now());
      this.buckets.set(clientId, b);
    }
    return b;
  }

  private evict(): void {
    const now = this.now();
    for (const [id, b] of this.buckets) {
      if (b.peek(now) >= b.limit.capacity) this.buckets.delete(id);
    }
    // Still full of busy clients: drop the oldest entries (Map keeps insertion order).
    for (const id of this.buckets.keys()) {
      if (this.buckets.size < MAX_TRACKED_CLIENTS) break;
      this.buckets.delete(id);
    }
  }

  /** Takes one token for a request of `clientId`. */
  take(clientId: string): TakeResult {
    const r = this.bucket(clientId).take(this.now());
    if (r.allowed) this.allowed++;
    else this.rejected++;
    return { ...r, retryAfterS: Math.min(r.retryAfterS, MAX_RETRY_AFTER_S) };
  }

  /** Live state of a client's bucket (creates none). */
  inspect(clientId: string): {
    limit: BucketLimit;
    source: 'client' | 'default';
    tokens: number;
    tracked: boolean;
  } {
    const { limit, source } = this.limitFor(clientId);
    const b = this.buckets.get(clientId);
    return {
      limit,
      source,
      tokens: b ? Math.floor(b.peek(this.now()) * 1000) / 1000 : limit.capacity,
      tracked: !!b,
    };
  }

  /** Sets (or with `limit` undefined, removes) a client's limit; `*` addresses the default. */
  set(
    clientId: string,
    limit: BucketLimit | undefined,
  ): { previous: BucketLimit; source: 'client' | 'default' } {
    const previous = clientId === '*' ? this.defaultLimit : this.limitFor(clientId).limit;
    const hadOwn = clientId !== '*' && clientId in this.state.clients;
    if (clientId === '*') this.state.default = limit;
    else if (limit) this.state.clients[clientId] = limit;
    else delete this.state.clients[clientId];
    writeJsonFile(this.file, this.state);
    const now = this.now();
    for (const [id, b] of this.buckets) {
      if (clientId === '*' ? !(id in this.state.clients) : id === clientId)
        b.setLimit(this.limitFor(id).limit, now);
    }
    return { previous, source: clientId === '*' ? 'default' : hadOwn ? 'client' : 'default' };
  }

  /** Client ids with their own limit (capped). */
  overrides(limit: number): { clientId: string; limit: BucketLimit }[] {
    return Object.entries(this.state.clients)
      .slice(0, limit)
      .map(([clientId, l]) => ({ clientId, limit: l }));
  }

  get overrideCount(): number {
    return Object.keys(this.state.clients).length;
  }

  get trackedClients(): number {
    return this.buckets.size;
  }
}

/** The client a request is attributed to, available to tool handlers of that request. */
export const requestClient = new AsyncLocalStorage<{ clientId: string }>();

/**
 * Who is calling: the bearer token's subject when authentication is configured and the token verifies,
 * else the `x-client-id` header, else the remote address. An unverified token never names the client,
 * or anyone could drain another client's bucket by putting its subject in a forged token.
 */
export async function identifyClient(req: Request, auth?: RequestAuthenticator): Promise<string> {
  if (auth && req.headers.authorization) {
    const outcome = await auth(req);
    if (outcome.ok) return `sub:${outcome.info.clientId}`;
  }
  if (!auth) {
    const header = req.headers['x-client-id'];
    const id = Array.isArray(header) ? header[0] : header;
    if (id && /^[\w.:@-]{1,128}$/.test(id)) return id;
  }
  return `ip:${req.socket.remoteAddress ?? 'unknown'}`;
}

/**
 * Express middleware enforcing the limiter before `/mcp`: 429 with `Retry-After` (whole seconds,
 * rounded up) when the client's bucket is empty.
 */
export function rateLimitMiddleware(limiter: RateLimiter, auth?: RequestAuthenticator) {
  return (req: Request, res: Response, next: NextFunction): void => {
    identifyClient(req, auth)
      .then((clientId) => {
        const r = limiter.take(clientId);
        const { limit } = limiter.limitFor(clientId);
        res.setHeader('RateLimit-Limit', String(limit.capacity));
        res.setHeader('RateLimit-Remaining', String(r.remaining));
        if (!r.allowed) {
          const retryAfter = Math.max(1, Math.ceil(r.retryAfterS));
          res.setHeader('Retry-After', String(retryAfter));
          res.status(429).json({
            jsonrpc: '2.0',
            error: {
              code: -32000,
              message: `Too many requests for client "${clientId}": retry after ${retryAfter} s`,
            },
            id: null,
          });
          return;
        }
        requestClient.run({ clientId }, next);
      })
      .catch(next);
  };
}
