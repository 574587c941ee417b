import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readJsonFile, writeJsonFile } from './json-file';
import type { SignalTarget } from './temporal-signaler';

/** A registered inbound webhook endpoint. The secret is stored (HMAC verification needs it). */
export interface WebhookEndpoint {
  id: string;
  name: string;
  secret: string;
  createdAt: string;
  binding?: SignalTarget;
}

interface EndpointFile {
  version: 1;
  endpoints: WebhookEndpoint[];
}

/** Inbound webhook endpoints, persisted in `<dataDir>/webhooks.json` (owner-only permissions). */
export class WebhookRegistry {
  private readonly file: string;
  private readonly state: EndpointFile;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'webhooks.json');
    this.state = readJsonFile<EndpointFile>(this.file, { version: 1, endpoints: [] });
  }

  create(input: { name: string; binding?: SignalTarget }): WebhookEndpoint {
    const endpoint: WebhookEndpoint = {
      id: `wh_${crypto.randomBytes(8).toString('hex')}`,
      name: input.name,
      // whsec_ + 256 random bits: long enough that guessing is hopeless, recognisable in a leak scan.
      secret: `whsec_${crypto.randomBytes(32).toString('base64url')}`,
      createdAt: new Date().toISOString(),
      binding: input.binding,
    };
    this.state.endpoints.push(endpoint);
    writeJsonFile(this.file, this.state);
    return endpoint;
  }

  get(id: string): WebhookEndpoint | undefined {
    return this.state.endpoints.find((e) => e.id === id);
  }

  /** Removes an endpoint; false when there was none. */
  delete(id: string): boolean {
    const before = this.state.endpoints.length;
    this.state.endpoints = this.state.endpoints.filter((e) => e.id !== id);
    if (this.state.endpoints.length === before) return false;
    writeJsonFile(this.file, this.state);
    return true;
  }

  list(): WebhookEndpoint[] {
    return [...this.state.endpoints];
  }

  get size(): number {
    return this.state.endpoints.length;
  }
}

/** How an inbound delivery was judged. */
export const DeliveryVerdict = {
  delivered: 'delivered',
  accepted: 'accepted',
  badSignature: 'bad_signature',
  stale: 'stale',
  malformed: 'malformed',
  replayed: 'replayed',
  signalFailed: 'signal_failed',
} as const;
export type DeliveryVerdict = (typeof DeliveryVerdict)[keyof typeof DeliveryVerdict];

/** One inbound delivery as recorded (never its body: only size and digest). */
export interface DeliveryRecord {
  at: string;
  webhookId: string;
  eventId?: string;
  verdict: DeliveryVerdict;
  httpStatus: number;
  detail?: string;
  bytes: number;
  bodySha256: string;
  /** Signature MAC (hex), kept so replay protection survives a restart. */
  mac?: string;
  /** Signature timestamp (unix seconds). */
  signedAt?: number;
  signal?: SignalTarget;
}

/**
 * Recent deliveries, appended to `<dataDir>/deliveries.jsonl` and kept in memory up to `keep` entries.
 * The file is compacted at start when it has grown past twice that.
 */
export class DeliveryLog {
  private readonly file: string;
  private readonly recent: DeliveryRecord[] = [];
  /** Totals since start, by verdict (measured). */
  readonly totals: Record<string, number> = {};

  constructor(
    dataDir: string,
    private readonly keep = 1000,
  ) {
    this.file = path.join(dataDir, 'deliveries.jsonl');
    if (fs.existsSync(this.file)) {
      const lines = fs
        .readFileSync(this.file, 'utf8')
        .split('\n')
        .filter((l) => l.trim());
      for (const line of lines.slice(-keep)) {
        try {
          this.recent.push(JSON.parse(line) as DeliveryRecord);
        } catch {
          // A torn last line after a crash loses one log entry, nothing else.
        }
      }
      if (lines.length > keep * 2) {
        const tmp = `${this.file}.tmp`;
        fs.writeFileSync(tmp, this.recent.map((r) => JSON.stringify(r)).join('\n') + '\n', { mode: 0o600 });
        fs.renameSync(tmp, this.file);
      }
    }
  }

  add(record: DeliveryRecord): void {
    this.recent.push(record);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
    this.totals[record.verdict] = (this.totals[record.verdict] ?? 0) + 1;
    fs.appendFileSync(this.file, JSON.stringify(record) + '\n', { mode: 0o600 });
  }

  /** Newest first, optionally for one webhook and/or verdict. */
  query(filter: { webhookId?: string; verdict?: DeliveryVerdict; limit: number }): {
    deliveries: DeliveryRecord[];
    total: number;
  } {
    const matching = this.recent.filter(
      (r) =>
        (!filter.webhookId || r.webhookId === filter.webhookId) &&
        (!filter.verdict || r.verdict === filter.verdict),
    );
    return { deliveries: matching.slice(-filter.limit).reverse(), total: matching.length };
  }

  /** Accepted deliveries (for rebuilding the replay cache at start). */
  acceptedSince(unixS: number): DeliveryRecord[] {
    return this.recent.filter(
      (r) => (r.verdict === 'delivered' || r.verdict === 'accepted') && (r.signedAt ?? 0) >= unixS,
    );
  }

  get size(): number {
    return this.recent.length;
  }
}
