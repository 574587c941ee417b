/**
 * Client-side token bucket for one endpoint, sized from the rate the server advertises, so a worker
 * slows down before the server has to answer 429. Waiting callers are served in arrival order.
 */
export class RateBudget {
  private tokens: number;
  private at: number;
  private perMs = 0;
  private capacity = 0;
  private perMinuteValue = 0;
  private queue: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    perMinute = 0,
    /** Share of the advertised rate we allow ourselves (other clients may share the server's limit per client id). */
    private readonly headroom = 0.9,
    private readonly now: () => number = Date.now,
  ) {
    this.at = now();
    this.tokens = 0;
    this.setRate(perMinute);
  }

  /** Requests per minute this budget allows (0: unlimited). */
  get perMinute(): number {
    return this.perMinuteValue;
  }

  /** Tokens available now (Infinity when unlimited). */
  get available(): number {
    if (this.perMinuteValue === 0) return Infinity;
    this.refill();
    return Math.floor(this.tokens);
  }

  /** Callers waiting for a token. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Sets the advertised rate (requests/minute; 0 or less: unlimited). Keeps the current fill level. */
  setRate(advertisedPerMinute: number): void {
    const perMinute = advertisedPerMinute > 0 ? Math.max(1, Math.floor(advertisedPerMinute * this.headroom)) : 0;
    if (perMinute === this.perMinuteValue) return;
    const wasUnlimited = this.perMinuteValue === 0;
    this.refill();
    this.perMinuteValue = perMinute;
    this.perMs = perMinute / 60_000;
    this.capacity = Math.max(1, perMinute);
    this.tokens = wasUnlimited ? this.capacity : Math.min(this.tokens, this.capacity);
    this.pump();
  }

  /** Waits for one token (immediately when unlimited or available); rejects if `signal` aborts first. */
  take(signal?: AbortSignal): Promise<void> {
    if (this.perMinuteValue === 0) return Promise.resolve();
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.queue = this.queue.filter((w) => w !== grant);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted while waiting for the rate budget'));
      };
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(grant);
      this.pump();
    });
  }

  /** Releases waiters and timers (pool shutdown): waiters proceed. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const q = this.queue;
    this.queue = [];
    for (const g of q) g();
  }

  private refill(): void {
    const now = this.now();
    if (this.perMinuteValue > 0) this.tokens = Math.min(this.capacity, this.tokens + (now - this.at) * this.perMs);
    this.at = now;
  }

  private pump(): void {
    if (this.timer) return;
    this.refill();
    while (this.queue.length > 0 && (this.perMinuteValue === 0 || this.tokens >= 1)) {
      if (this.perMinuteValue > 0) this.tokens -= 1;
      this.queue.shift()!();
    }
    if (this.queue.length === 0) return;
    const waitMs = Math.max(1, Math.ceil((1 - this.tokens) / this.perMs));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, waitMs);
  }
}
