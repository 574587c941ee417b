import crypto from 'node:crypto';

/**
 * The hash chain of the audit log, as pure functions. Each entry's hash covers its canonical content
 * and the previous entry's hash, so editing, deleting or reordering any entry breaks every link after
 * it, and verification can name the first bad sequence number.
 */

/** prev_hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** What a caller records. */
export interface AuditRecord {
  actor: string;
  action: string;
  resource: string;
  outcome: string;
  details: Record<string, unknown>;
}

/** One line of the log file (`audit.jsonl`). */
export interface AuditEntry extends AuditRecord {
  seq: number;
  ts: string;
  prev_hash: string;
  hash: string;
}

/** JSON with object keys sorted at every depth, so equal content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new TypeError('canonical JSON has no representation for NaN or Infinity');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** sha256(canonical entry without its hash fields + prev_hash), hex. */
export function entryHash(entry: Omit<AuditEntry, 'hash' | 'prev_hash'>, prevHash: string): string {
  const { seq, ts, actor, action, resource, outcome, details } = entry;
  return crypto
    .createHash('sha256')
    .update(canonicalJson({ seq, ts, actor, action, resource, outcome, details }))
    .update(prevHash)
    .digest('hex');
}

/** Builds the next entry of a chain whose head is (`prevSeq`, `prevHash`). */
export function chainEntry(
  record: AuditRecord,
  prev: { seq: number; hash: string },
  ts = new Date().toISOString(),
): AuditEntry {
  const base = { seq: prev.seq + 1, ts, ...record };
  return { ...base, prev_hash: prev.hash, hash: entryHash(base, prev.hash) };
}

export interface ChainVerdict {
  ok: boolean;
  /** Entries read and checked. */
  checked: number;
  /** Sequence number of the last good entry (0 when none). */
  lastGoodSeq: number;
  /** First sequence number found edited, missing or out of place. */
  firstBadSeq?: number;
  problem?: string;
}

/**
 * Verifies the log's lines in file order. `anchor` is the head the writer knows (seq and hash of the
 * last entry it appended); without it, deleting entries at the end would go unnoticed.
 */
export function verifyChain(lines: Iterable<string>, anchor?: { seq: number; hash: string }): ChainVerdict {
  let prev = { seq: 0, hash: GENESIS_HASH };
  let checked = 0;
  let lineNo = 0;
  const bad = (firstBadSeq: number, problem: string): ChainVerdict => ({
    ok: false,
    checked,
    lastGoodSeq: prev.seq,
    firstBadSeq,
    problem,
  });
  for (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    const expected = prev.seq + 1;
    let e: AuditEntry;
    try {
      e = JSON.parse(line) as AuditEntry;
    } catch {
      return bad(expected, `line ${lineNo} is not valid JSON (entry seq ${expected} corrupted)`);
    }
    checked++;
    if (typeof e.seq !== 'number' || typeof e.hash !== 'string' || typeof e.prev_hash !== 'string') {
      return bad(expected, `line ${lineNo} lacks seq, hash or prev_hash`);
    }
    if (e.seq !== expected) {
      return bad(
        expected,
        e.seq > expected
          ? `expected seq ${expected} at line ${lineNo} but found seq ${e.seq}: entries deleted or reordered`
          : `expected seq ${expected} at line ${lineNo} but found seq ${e.seq}: entries reordered or duplicated`,
      );
    }
    if (e.prev_hash !== prev.hash) {
      return bad(
        e.seq,
        `seq ${e.seq}: prev_hash does not match the hash of seq ${prev.seq} (chain broken: an entry was replaced, deleted or reordered)`,
      );
    }
    if (entryHash(e, e.prev_hash) !== e.hash) {
      return bad(e.seq, `seq ${e.seq}: content does not match its hash (entry edited)`);
    }
    prev = { seq: e.seq, hash: e.hash };
  }
  if (anchor && anchor.seq > 0) {
    if (prev.seq < anchor.seq) {
      return bad(
        prev.seq + 1,
        `log ends at seq ${prev.seq} but ${anchor.seq} entries were written: entries from seq ${prev.seq + 1} deleted`,
      );
    }
    if (prev.seq === anchor.seq && prev.hash !== anchor.hash) {
      return bad(prev.seq, `seq ${prev.seq}: hash differs from the recorded chain head (log rewritten)`);
    }
  }
  return { ok: true, checked, lastGoodSeq: prev.seq };
}
