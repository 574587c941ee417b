import fs from 'node:fs';
import path from 'node:path';

/**
 * Sliding one-minute window over outgoing messages (e-mail and Slack together), so a runaway pipeline
 * or a flapping alert cannot flood a mail server or a Slack channel.
 */
export class SendRateLimiter {
  private readonly stamps: number[] = [];

  constructor(
    /** Messages allowed per rolling 60 s. */
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one slot, or says how many seconds until one frees up. */
  take(): { ok: true } | { ok: false; retryAfterS: number } {
    const t = this.now();
    while (this.stamps.length > 0 && (this.stamps[0] as number) <= t - 60_000) this.stamps.shift();
    if (this.stamps.length >= this.perMinute) {
      return {
        ok: false,
        retryAfterS: Math.max(1, Math.ceil(((this.stamps[0] as number) + 60_000 - t) / 1000)),
      };
    }
    this.stamps.push(t);
    return { ok: true };
  }

  /** Slots used in the current window. */
  get used(): number {
    const t = this.now();
    return this.stamps.filter((s) => s > t - 60_000).length;
  }
}

/** Counters of delivered and failed messages, persisted so `server_info` survives restarts. */
export interface DeliveryCounts {
  emailsSent: number;
  emailsFailed: number;
  slackSent: number;
  slackFailed: number;
  since: string;
}

/** Keeps {@link DeliveryCounts} in `<dataDir>/delivery-stats.json` (rewritten atomically). */
export class DeliveryStats {
  private counts: DeliveryCounts;
  private readonly file: string;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.file = path.join(dataDir, 'delivery-stats.json');
    const fresh: DeliveryCounts = {
      emailsSent: 0,
      emailsFailed: 0,
      slackSent: 0,
      slackFailed: 0,
      since: new Date().toISOString(),
    };
    try {
      this.counts = {
        ...fresh,
        ...(JSON.parse(fs.readFileSync(this.file, 'utf8')) as Partial<DeliveryCounts>),
      };
    } catch {
      this.counts = fresh;
    }
  }

  bump(key: Exclude<keyof DeliveryCounts, 'since'>): void {
    this.counts[key] += 1;
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.counts));
    fs.renameSync(tmp, this.file);
  }

  get snapshot(): DeliveryCounts {
    return { ...this.counts };
  }
}
