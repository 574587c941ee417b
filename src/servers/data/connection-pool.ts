import { ToolError } from '../kit';

/**
 * A fixed set of resources handed out one caller at a time, with a bounded queue, so concurrent tool calls
 * never share a DuckDB connection (an interrupt must only stop its own query) and overload is refused
 * quickly instead of piling up.
 */
export class ResourcePool<T> {
  private readonly free: T[];
  private readonly waiters: Array<(r: T) => void> = [];
  private busyCount = 0;

  constructor(
    resources: T[],
    private readonly maxQueue: number,
  ) {
    this.free = [...resources];
  }

  /** Resources in use right now. */
  get busy(): number {
    return this.busyCount;
  }

  /** Callers waiting for a resource right now. */
  get queued(): number {
    return this.waiters.length;
  }

  /** Runs `fn` with a resource; waits at most `waitMs` for one. */
  async use<R>(waitMs: number, signal: AbortSignal | undefined, fn: (r: T) => Promise<R>): Promise<R> {
    const r = await this.acquire(waitMs, signal);
    try {
      return await fn(r);
    } finally {
      this.release(r);
    }
  }

  private acquire(waitMs: number, signal?: AbortSignal): Promise<T> {
    const r = this.free.pop();
    if (r !== undefined) {
      this.busyCount++;
      return Promise.resolve(r);
    }
    if (this.waiters.length >= this.maxQueue) {
      return Promise.reject(
        new ToolError(
          `server busy: ${this.busyCount} queries running and ${this.waiters.length} queued; retry later`,
          'busy',
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const waiter = (res: T) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.busyCount++;
        resolve(res);
      };
      const drop = (err: Error) => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        signal?.removeEventListener('abort', onAbort);
        clearTimeout(timer);
        reject(err);
      };
      const onAbort = () =>
        drop(new ToolError('call cancelled while waiting for a database connection', 'cancelled'));
      const timer = setTimeout(
        () => drop(new ToolError(`no database connection free within ${waitMs} ms; retry later`, 'busy')),
        waitMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private release(r: T): void {
    this.busyCount--;
    const next = this.waiters.shift();
    if (next) next(r);
    else this.free.push(r);
  }
}

/** A mutual-exclusion lock for the single trusted writer connection. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<R>(fn: () => Promise<R>): Promise<R> {
    const prev = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    await prev;
    try {
      return await fn();
    } finally {
      done();
    }
  }
}

/** Fixed-window-free rate limiter: at most `perMinute` calls in any trailing 60 s. */
export class RateLimiter {
  private readonly stamps: number[] = [];

  constructor(readonly perMinute: number) {}

  /** Throws a `rate_limited` ToolError when the budget is spent. */
  take(now = Date.now()): void {
    while (this.stamps.length > 0 && (this.stamps[0] ?? 0) <= now - 60_000) this.stamps.shift();
    if (this.stamps.length >= this.perMinute) {
      const retryS = Math.ceil(((this.stamps[0] ?? now) + 60_000 - now) / 1000);
      throw new ToolError(
        `rate limit of ${this.perMinute} calls per minute reached; retry in ${retryS} s`,
        'rate_limited',
      );
    }
    this.stamps.push(now);
  }

  /** Calls counted in the trailing minute. */
  used(now = Date.now()): number {
    return this.stamps.filter((t) => t > now - 60_000).length;
  }
}
