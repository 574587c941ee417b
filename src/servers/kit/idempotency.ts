import fs from 'node:fs';
import path from 'node:path';

interface Entry {
  key: string;
  at: string;
  result: unknown;
}

/**
 * Remembers the result of each side-effecting call by idempotency key, so a call that Temporal retries
 * (activities are at-least-once) returns the first result instead of doing the effect again.
 *
 * Records are appended to a JSON-lines file so they survive a server restart. Concurrent calls with the
 * same key share one execution.
 */
export class IdempotencyStore {
  private readonly done = new Map<string, unknown>();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly file?: string;

  constructor(dir?: string) {
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      this.file = path.join(dir, 'idempotency.jsonl');
      if (fs.existsSync(this.file)) {
        for (const line of fs.readFileSync(this.file, 'utf8').split('\n')) {
          if (!line.trim()) continue;
          try {
            const e = JSON.parse(line) as Entry;
            this.done.set(e.key, e.result);
          } catch {
            // A torn last line after a crash: the call it recorded will simply run again.
          }
        }
      }
    }
  }

  /** Runs `effect` once per key; later calls with the key get the stored result and `replayed: true`. */
  async once<T>(key: string | undefined, effect: () => Promise<T>): Promise<{ result: T; replayed: boolean }> {
    if (!key) return { result: await effect(), replayed: false };
    if (this.done.has(key)) return { result: this.done.get(key) as T, replayed: true };
    const pending = this.inFlight.get(key);
    if (pending) return { result: (await pending) as T, replayed: true };
    const p = effect();
    this.inFlight.set(key, p);
    try {
      const result = await p;
      this.done.set(key, result);
      if (this.file) {
        fs.appendFileSync(this.file, JSON.stringify({ key, at: new Date().toISOString(), result }) + '\n');
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
}
