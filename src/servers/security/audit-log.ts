import fs from 'node:fs';
import path from 'node:path';
import {
  chainEntry,
  GENESIS_HASH,
  verifyChain,
  type AuditEntry,
  type AuditRecord,
  type ChainVerdict,
} from './audit-chain';
import { readJsonFile, writeSecretFile } from './secret-files';

export interface AuditFilter {
  actor?: string;
  action?: string;
  resource?: string;
  outcome?: string;
  sinceSeq?: number;
  fromTs?: string;
  toTs?: string;
}

/**
 * Append-only, hash-chained audit log in `<dataDir>/audit/audit.jsonl` (one JSON entry per line,
 * fsynced per append), with the chain head in `audit.head.json` so that deleting entries at the end is
 * detected too. Appends are synchronous, so concurrent tool calls in this process never interleave.
 */
export class AuditLog {
  readonly file: string;
  private readonly headFile: string;
  private head: { seq: number; hash: string };

  constructor(dataDir: string) {
    const dir = path.join(dataDir, 'audit');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, 'audit.jsonl');
    this.headFile = path.join(dir, 'audit.head.json');
    const fromLog = this.lastEntryInFile();
    const fromHeadFile = readJsonFile<{ seq: number; hash: string }>(this.headFile);
    // A crash between the append and the head write leaves the log one ahead; a truncated log leaves
    // the head file ahead, and keeping that head makes verification report the missing entries.
    const candidates = [{ seq: 0, hash: GENESIS_HASH }, fromLog, fromHeadFile].filter(
      (c): c is { seq: number; hash: string } => !!c,
    );
    this.head = candidates.reduce((a, b) => (b.seq > a.seq ? b : a));
  }

  private lastEntryInFile(): { seq: number; hash: string } | undefined {
    if (!fs.existsSync(this.file)) return undefined;
    const lines = fs
      .readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const e = JSON.parse(lines[i]!) as AuditEntry;
        return { seq: e.seq, hash: e.hash };
      } catch {
        // A torn line from a crash: the entry before it is the head; verification reports the tear.
      }
    }
    return undefined;
  }

  /** Seq and hash of the newest entry (seq 0 and the genesis hash when empty). */
  chainHead(): { seq: number; hash: string } {
    return { ...this.head };
  }

  get count(): number {
    return this.head.seq;
  }

  /** Appends one entry and returns it; durable (fsynced) when this returns. */
  append(record: AuditRecord): AuditEntry {
    const entry = chainEntry(record, this.head);
    const fd = fs.openSync(this.file, 'a', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(entry) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.head = { seq: entry.seq, hash: entry.hash };
    writeSecretFile(this.headFile, JSON.stringify(this.head));
    return entry;
  }

  private lines(): string[] {
    return fs.existsSync(this.file) ? fs.readFileSync(this.file, 'utf8').split('\n') : [];
  }

  /** Re-reads the whole log and checks every link against the head this process knows. */
  verify(): ChainVerdict {
    return verifyChain(this.lines(), this.head);
  }

  /**
   * Entries matching every given filter, oldest first from `sinceSeq`, at most `limit` of them.
   * Unparseable lines are skipped here; `verify` is where they are reported.
   */
  query(filter: AuditFilter, limit: number): { entries: AuditEntry[]; truncated: boolean } {
    const entries: AuditEntry[] = [];
    for (const line of this.lines()) {
      if (line.trim() === '') continue;
      let e: AuditEntry;
      try {
        e = JSON.parse(line) as AuditEntry;
      } catch {
        continue;
      }
      if (filter.sinceSeq !== undefined && e.seq < filter.sinceSeq) continue;
      if (filter.actor !== undefined && e.actor !== filter.actor) continue;
      if (filter.action !== undefined && e.action !== filter.action) continue;
      if (filter.resource !== undefined && e.resource !== filter.resource) continue;
      if (filter.outcome !== undefined && e.outcome !== filter.outcome) continue;
      if (filter.fromTs !== undefined && e.ts < filter.fromTs) continue;
      if (filter.toTs !== undefined && e.ts > filter.toTs) continue;
      if (entries.length === limit) return { entries, truncated: true };
      entries.push(e);
    }
    return { entries, truncated: false };
  }
}
