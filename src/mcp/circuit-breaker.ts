import { ConsecutiveBreaker } from 'cockatiel';

/** Circuit breaker settings (product brief defaults; override per group in config/servers.yaml `breaker:`). */
export interface BreakerSettings {
  /** Consecutive transport failures that open the circuit. @default 5 */
  failureThreshold: number;
  /** Time an open circuit waits before letting trial calls through (half-open), ms. @default 30000 */
  recoveryTimeoutMs: number;
  /** Trial calls allowed at once while half-open. @default 3 */
  halfOpenMaxCalls: number;
  /** Successful trial calls that close the circuit again. @default 2 */
  successThreshold: number;
}

export const DEFAULT_BREAKER: BreakerSettings = {
  failureThreshold: 5,
  recoveryTimeoutMs: 30_000,
  halfOpenMaxCalls: 3,
  successThreshold: 2,
};

export const BreakerState = { Closed: 'closed', Open: 'open', HalfOpen: 'half-open' } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/** A permit to make one call through the breaker; report its outcome exactly once. */
export interface BreakerPermit {
  success(): void;
  failure(): void;
  /** The call ended without telling anything about the endpoint (cancelled, tool error): free the slot. */
  release(): void;
}

/**
 * Per-endpoint circuit breaker: closed → open after `failureThreshold` consecutive failures (counted by
 * cockatiel's ConsecutiveBreaker) → half-open after `recoveryTimeoutMs` → closed after
 * `successThreshold` successful trials, or open again on any trial failure. Half-open admits at most
 * `halfOpenMaxCalls` trials at once. Cockatiel's own CircuitBreakerPolicy admits a single trial and
 * closes on the first success, so the half-open rules of the brief are kept here.
 */
export class EndpointBreaker {
  private counter: ConsecutiveBreaker;
  private stateValue: BreakerState = BreakerState.Closed;
  private openedAt = 0;
  private trialsInFlight = 0;
  private trialSuccesses = 0;
  /** Times the circuit opened (for status and tests). */
  opens = 0;

  constructor(
    readonly settings: BreakerSettings = DEFAULT_BREAKER,
    private readonly now: () => number = Date.now,
  ) {
    this.counter = new ConsecutiveBreaker(settings.failureThreshold);
  }

  /** Current state; an open circuit whose recovery timeout passed reads as half-open. */
  get state(): BreakerState {
    if (this.stateValue === BreakerState.Open && this.now() - this.openedAt >= this.settings.recoveryTimeoutMs) {
      this.stateValue = BreakerState.HalfOpen;
      this.trialsInFlight = 0;
      this.trialSuccesses = 0;
    }
    return this.stateValue;
  }

  /** Ms until an open circuit half-opens (0 when not open). */
  msUntilHalfOpen(): number {
    if (this.state !== BreakerState.Open) return 0;
    return Math.max(0, this.openedAt + this.settings.recoveryTimeoutMs - this.now());
  }

  /** Whether a call may go through now (without taking a permit). */
  canPass(): boolean {
    const s = this.state;
    return s === BreakerState.Closed || (s === BreakerState.HalfOpen && this.trialsInFlight < this.settings.halfOpenMaxCalls);
  }

  /** Takes a permit for one call, or undefined when the circuit refuses it. */
  tryAcquire(): BreakerPermit | undefined {
    if (!this.canPass()) return undefined;
    const trial = this.stateValue === BreakerState.HalfOpen;
    if (trial) this.trialsInFlight++;
    let done = false;
    const finish = (outcome: 'success' | 'failure' | 'release') => {
      if (done) return;
      done = true;
      // A permit from an earlier half-open period must not count in the current one.
      const stillTrial = trial && this.stateValue === BreakerState.HalfOpen;
      if (stillTrial) this.trialsInFlight = Math.max(0, this.trialsInFlight - 1);
      if (outcome === 'success') this.onSuccess(stillTrial);
      else if (outcome === 'failure') this.onFailure();
    };
    return { success: () => finish('success'), failure: () => finish('failure'), release: () => finish('release') };
  }

  private onSuccess(trial: boolean): void {
    if (this.stateValue === BreakerState.Closed) {
      this.counter.success();
      return;
    }
    if (trial && ++this.trialSuccesses >= this.settings.successThreshold) {
      this.stateValue = BreakerState.Closed;
      this.counter = new ConsecutiveBreaker(this.settings.failureThreshold);
    }
  }

  private onFailure(): void {
    const s = this.state;
    if (s === BreakerState.HalfOpen) {
      this.open();
      return;
    }
    if (s === BreakerState.Closed && this.counter.failure()) this.open();
  }

  private open(): void {
    this.stateValue = BreakerState.Open;
    this.openedAt = this.now();
    this.trialsInFlight = 0;
    this.trialSuccesses = 0;
    this.opens++;
  }
}
