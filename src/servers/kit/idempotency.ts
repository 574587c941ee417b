import fs from 'node:fs';
import path from 'node:path';

interface Entry {
  key: string;
  at: string;
  result: unknown;
}

export interface IdempotencyOptions {
  /**
   * How long a key is remembered. Temporal repeats a call only while its activity may still be retried,
   * so this must outlast the longest schedule-to-close time of the pipelines that call the server.
   * @default 7 days
   */
  retentionMs?: number;
  /** Most keys remembered; the oldest are forgotten first. @default 100,000 */
  maxEntries?: number;
}

export const DEFAULT_IDEMPOTENCY_RETENTION_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_IDEMPOTENCY_MAX_ENTRIES = 100_000;

/**
 * Remembers the result of each side-effecting call by idempotency key, so a call that Temporal retries
 * (activities are at-least-once) returns the first result instead of doing the effect again.
 *
 * Records are appended to a JSON-lines file so they survive a server restart. Concurrent calls with the
 * same key share one execution. Keys are kept for a retention window and up to a count, so a server
 * that runs for months neither grows its memory nor its file without bound: the file is rewritten with
 * the remembered keys only, on start and whenever it holds twice as many lines.
 */
export class IdempotencyStore {
  /** In insertion order, which is time order: the oldest key is the first. */
  private readonly done = new Map<string, { result: unknown; at: number }>();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly file?: string;
  private readonly retentionMs: number;
  private readonly maxEntries: number;
  private lines = 0;

  constructor(dir?: string, opts: IdempotencyOptions = {}) {
    this.retentionMs = opts.retentionMs ?? DEFAULT_IDEMPOTENCY_RETENTION_MS;
    this.maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_IDEMPOTENCY_MAX_ENTRIES);
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      this.file = path.join(dir, 'idempotency.jsonl');
      if (fs.existsSync(this.file)) {
        for (const line of fs.readFileSync(this.file, 'utf8').split('\n')) {
          if (!line.trim()) continue;
          this.lines++;
          try {
            const e = JSON.parse(line) as Entry;
            this.done.delete(e.key);
            this.done.set(e.key, { result: e.result, at: Date.parse(e.at) || Date.now() });
          } catch {
            // A torn last line after a crash: the call it recorded will simply run again.
          }
        }
        this.evict();
        if (this.lines > this.done.size) this.compact();
      }
    }
  }

  /** Runs `effect` once per key; later calls with the key get the stored result and `replayed: true`. */
  async once<T>(key: string | undefined, effect: () => Promise<T>): Promise<{ result: T; replayed: boolean }> {
    if (!key) return { result: await effect(), replayed: false };
    const known = this.done.get(key);
    if (known) return { result: known.result as T, replayed: true };
    const pending = this.inFlight.get(key);
    if (pending) return { result: (await pending) as T, replayed: true };
    const p = effect();
    this.inFlight.set(key, p);
    try {
      const result = await p;
      const at = Date.now();
      this.done.set(key, { result, at });
      this.evict();
      if (this.file) {
        fs.appendFileSync(this.file, JSON.stringify({ key, at: new Date(at).toISOString(), result }) + '\n');
        this.lines++;
        if (this.lines > 2 * Math.max(this.done.size, 1000)) this.compact();
      }
      return { result, replayed: false };
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** Number of keys remembered (for tests and server_info). */
  get size(): number {
    return this.done.size;
  }

  /** Forgets keys past the retention window or beyond the count, oldest first. */
  private evict(): void {
    const oldest = Date.now() - this.retentionMs;
    for (const [key, { at }] of this.done) {
      if (this.done.size <= this.maxEntries && at >= oldest) break;
      this.done.delete(key);
    }
  }

  /** Rewrites the file with the remembered keys only; a rename, so a crash leaves the old file or the new. */
  private compact(): void {
    if (!this.file) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    const out = [...this.done].map(([key, { result, at }]) => JSON.stringify({ key, at: new Date(at).toISOString(), result }) + '\n');
    fs.writeFileSync(tmp, out.join(''));
    fs.renameSync(tmp, this.file);
    this.lines = this.done.size;
  }
}
