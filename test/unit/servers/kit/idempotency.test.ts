import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IdempotencyStore } from '../../../../src/servers/kit/idempotency';

describe('IdempotencyStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idem-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const lines = () => fs.readFileSync(path.join(dir, 'idempotency.jsonl'), 'utf8').trim().split('\n').length;

  it('when a key repeats, then the effect ran once and the second call is replayed', async () => {
    const store = new IdempotencyStore(dir);
    let runs = 0;
    const effect = () => Promise.resolve(++runs);
    expect(await store.once('k', effect)).toEqual({ result: 1, replayed: false });
    expect(await store.once('k', effect)).toEqual({ result: 1, replayed: true });
    expect(runs).toBe(1);
    // A restarted server still knows the key.
    expect(await new IdempotencyStore(dir).once('k', effect)).toEqual({ result: 1, replayed: true });
  });

  it('when more keys arrive than the cap, then the oldest are forgotten and memory stays bounded', async () => {
    const store = new IdempotencyStore(dir, { maxEntries: 3 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) await store.once(k, () => Promise.resolve(k));
    expect(store.size).toBe(3);
    let ran = false;
    expect(await store.once('a', () => Promise.resolve((ran = true)))).toEqual({ result: true, replayed: false });
    expect(ran).toBe(true);
    expect((await store.once('e', () => Promise.resolve('again'))).replayed).toBe(true);
  });

  it('when keys are older than the retention, then a restart forgets them and compacts the file', async () => {
    const file = path.join(dir, 'idempotency.jsonl');
    const old = new Date(Date.now() - 3 * 3600_000).toISOString();
    fs.writeFileSync(file, [`{"key":"old","at":"${old}","result":1}`, `{"key":"new","at":"${new Date().toISOString()}","result":2}`, '{"torn'].join('\n'));
    const store = new IdempotencyStore(dir, { retentionMs: 3600_000 });
    expect(store.size).toBe(1);
    expect(lines()).toBe(1);
    expect((await store.once('new', () => Promise.resolve(0))).result).toBe(2);
    expect((await store.once('old', () => Promise.resolve(9))).replayed).toBe(false);
  });

  it('when the file holds twice the remembered keys, then it is rewritten with those keys only', async () => {
    const store = new IdempotencyStore(dir, { maxEntries: 10 });
    for (let i = 0; i < 2500; i++) await store.once(`k${i}`, () => Promise.resolve(i));
    expect(store.size).toBe(10);
    expect(lines()).toBeLessThanOrEqual(2000);
    expect((await new IdempotencyStore(dir, { maxEntries: 10 }).once('k2499', () => Promise.resolve(-1))).result).toBe(2499);
  });
});
