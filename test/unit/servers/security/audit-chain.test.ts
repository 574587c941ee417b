import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  canonicalJson,
  chainEntry,
  GENESIS_HASH,
  verifyChain,
  type AuditEntry,
} from '../../../../src/servers/security/audit-chain';
import { AuditLog } from '../../../../src/servers/security/audit-log';

function buildChain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = { seq: 0, hash: GENESIS_HASH };
  for (let i = 0; i < n; i++) {
    const e = chainEntry(
      {
        actor: `a${i % 3}`,
        action: 'data.access',
        resource: `table:t${i}`,
        outcome: i % 2 ? 'allow' : 'deny',
        details: { i, nested: { z: 1, a: [1, 2] } },
      },
      prev,
    );
    out.push(e);
    prev = { seq: e.seq, hash: e.hash };
  }
  return out;
}
const lines = (es: AuditEntry[]) => es.map((e) => JSON.stringify(e));
const head = (es: AuditEntry[]) => ({ seq: es.at(-1)!.seq, hash: es.at(-1)!.hash });

const attacks = { tried: 0, detected: 0 };
function expectDetected(
  ls: string[],
  anchor: { seq: number; hash: string } | undefined,
  firstBadSeq: number,
): void {
  attacks.tried++;
  const v = verifyChain(ls, anchor);
  expect(v.ok).toBe(false);
  expect(v.firstBadSeq).toBe(firstBadSeq);
  expect(v.problem).toBeTruthy();
  attacks.detected++;
}
afterAll(() =>
  console.log(`audit chain tampering attacks tried: ${attacks.tried}, detected: ${attacks.detected}`),
);

describe('audit hash chain', () => {
  test('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"x":2,"y":1}]},"b":1}',
    );
  });

  test('when nothing was changed, then the chain verifies and every entry links to the previous hash', () => {
    const es = buildChain(10);
    expect(es[0]!.prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < es.length; i++) expect(es[i]!.prev_hash).toBe(es[i - 1]!.hash);
    expect(verifyChain(lines(es), head(es))).toEqual({ ok: true, checked: 10, lastGoodSeq: 10 });
  });

  test('when an entry is edited, then verification names its seq', () => {
    const es = buildChain(10);
    const ls = lines(es);
    ls[3] = JSON.stringify({ ...es[3]!, outcome: 'tampered' });
    expectDetected(ls, head(es), 4);
    const ls2 = lines(es);
    ls2[6] = JSON.stringify({ ...es[6]!, details: { i: 6, nested: { z: 2, a: [1, 2] } } });
    expectDetected(ls2, head(es), 7);
  });

  test('when an entry is edited and its own hash recomputed, then the next link breaks and names the edited seq + 1', () => {
    const es = buildChain(10);
    const forged = chainEntry({ ...es[4]!, outcome: 'allow' }, { seq: 4, hash: es[4]!.prev_hash }, es[4]!.ts);
    const ls = lines(es);
    ls[4] = JSON.stringify(forged);
    expectDetected(ls, head(es), 6);
  });

  test('when an entry in the middle is deleted, then verification names the missing seq', () => {
    const es = buildChain(10);
    expectDetected(lines(es.filter((e) => e.seq !== 6)), head(es), 6);
  });

  test('when the first entry is deleted, then verification names seq 1', () => {
    const es = buildChain(5);
    expectDetected(lines(es.slice(1)), head(es), 1);
  });

  test('when an entry is deleted and later seqs renumbered, then the broken link is found', () => {
    const es = buildChain(8);
    const kept = es.filter((e) => e.seq !== 3).map((e, i) => ({ ...e, seq: i + 1 }));
    expectDetected(lines(kept), head(es), 3);
  });

  test('when two entries are swapped, then verification names the first displaced seq', () => {
    const es = buildChain(10);
    const ls = lines(es);
    [ls[2], ls[3]] = [ls[3]!, ls[2]!];
    expectDetected(ls, head(es), 3);
  });

  test('when entries at the end are deleted, then the anchored head reveals it (and only the anchor can)', () => {
    const es = buildChain(10);
    expectDetected(lines(es.slice(0, 8)), head(es), 9);
    expect(verifyChain(lines(es.slice(0, 8))).ok).toBe(true);
  });

  test('when a line is not JSON, then verification names the seq it should have held', () => {
    const es = buildChain(4);
    const ls = lines(es);
    ls[2] = '{"seq": 3, broken';
    expectDetected(ls, head(es), 3);
  });
});

describe('AuditLog (JSON-lines file)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-audit-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('when the log is reopened after appends, then the chain continues and verifies', () => {
    const a = new AuditLog(dir);
    for (let i = 0; i < 3; i++)
      a.append({ actor: 'x', action: 'a', resource: 'r', outcome: 'success', details: { i } });
    const b = new AuditLog(dir);
    expect(b.chainHead()).toEqual(a.chainHead());
    const e = b.append({ actor: 'y', action: 'a', resource: 'r', outcome: 'info', details: {} });
    expect(e.seq).toBe(4);
    expect(b.verify()).toMatchObject({ ok: true, checked: 4 });
    expect(fs.statSync(b.file).mode & 0o777).toBe(0o600);
  });

  test('when the file is edited behind the server, then verify names the seq; when the tail is cut, a reopened log still detects it', () => {
    const a = new AuditLog(dir);
    for (let i = 0; i < 5; i++)
      a.append({ actor: 'x', action: 'a', resource: `r${i}`, outcome: 'success', details: {} });
    const original = fs.readFileSync(a.file, 'utf8');
    fs.writeFileSync(a.file, original.replace('"resource":"r2"', '"resource":"rX"'));
    attacks.tried++;
    expect(a.verify()).toMatchObject({ ok: false, firstBadSeq: 3 });
    attacks.detected++;
    fs.writeFileSync(a.file, original.split('\n').slice(0, 3).join('\n') + '\n');
    attacks.tried++;
    expect(new AuditLog(dir).verify()).toMatchObject({ ok: false, firstBadSeq: 4 });
    attacks.detected++;
  });

  test('when querying with filters and a limit, then only matching entries come back, oldest first, capped', () => {
    const a = new AuditLog(dir);
    for (let i = 0; i < 10; i++)
      a.append({
        actor: i % 2 ? 'odd' : 'even',
        action: 'act',
        resource: 'r',
        outcome: 'success',
        details: {},
      });
    const r = a.query({ actor: 'odd' }, 3);
    expect(r.entries.map((e) => e.seq)).toEqual([2, 4, 6]);
    expect(r.truncated).toBe(true);
    expect(a.query({ actor: 'odd', sinceSeq: 7 }, 10)).toMatchObject({ truncated: false });
    expect(a.query({ actor: 'odd', sinceSeq: 7 }, 10).entries.map((e) => e.seq)).toEqual([8, 10]);
    expect(a.query({ action: 'nope' }, 10).entries).toHaveLength(0);
  });
});
