import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ObjectStore, blobPath } from '../../../../src/servers/storage/object-store';

describe('ObjectStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'objstore-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('when the store is reopened, then keys, versions and metadata survive and stray temp files are cleared', async () => {
    const a = await ObjectStore.open(dir, 2);
    await a.putBytes('k', Buffer.from('one'), { m: 1 });
    await a.putBytes('k', Buffer.from('two'));
    fs.writeFileSync(path.join(dir, 'tmp', 'leftover.part'), 'junk');
    const b = await ObjectStore.open(dir, 2);
    expect(b.versions('k').map((v) => [v.version, v.size, v.metadata])).toEqual([
      [1, 3, { m: 1 }],
      [2, 3, undefined],
    ]);
    expect(fs.readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    expect((await b.readBytes('k', 1))?.bytes.toString()).toBe('one');
  });

  it('when identical content is stored under two keys, then one blob exists per zone and stats count it once', async () => {
    const s = await ObjectStore.open(dir, 3);
    await s.putBytes('a', Buffer.from('same'));
    await s.putBytes('b', Buffer.from('same'));
    const digest = crypto.createHash('sha256').update('same').digest('hex');
    for (const z of [1, 2, 3]) expect(fs.existsSync(blobPath(dir, z, digest))).toBe(true);
    expect(s.stats()).toEqual({ keys: 2, versions: 2, logicalBytes: 8, blobs: 1, uniqueBytes: 4 });
  });

  it('when identical content is uploaded again over a damaged replica, then that replica is rewritten', async () => {
    const s = await ObjectStore.open(dir, 2);
    const first = await s.putBytes('a', Buffer.from('content'));
    fs.writeFileSync(blobPath(dir, 2, first.sha256), 'CONTENT');
    await s.putBytes('b', Buffer.from('content'));
    expect(fs.readFileSync(blobPath(dir, 2, first.sha256), 'utf8')).toBe('content');
  });

  it('when many writes to one key run concurrently, then each gets a distinct version and the index holds all of them', async () => {
    const s = await ObjectStore.open(dir, 2);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => s.putBytes('hot', Buffer.from(`v${i}`))),
    );
    expect(new Set(results.map((r) => r.version)).size).toBe(20);
    const reopened = await ObjectStore.open(dir, 2);
    expect(reopened.versions('hot')).toHaveLength(20);
  });

  it('when a key is deleted while the same content is being written elsewhere, then the new write keeps its blob', async () => {
    const s = await ObjectStore.open(dir, 2);
    await s.putBytes('old', Buffer.from('payload'));
    const [, put] = await Promise.all([s.delete('old'), s.putBytes('new', Buffer.from('payload'))]);
    const read = await s.readBytes('new');
    expect(read?.bytes.toString()).toBe('payload');
    expect(read?.object.sha256).toBe(put.sha256);
  });

  it('when the index file is unreadable JSON, then open fails loudly instead of starting empty', async () => {
    fs.writeFileSync(path.join(dir, 'index.json'), '{not json');
    await expect(ObjectStore.open(dir, 1)).rejects.toThrow();
  });

  it('when list is paged, then it returns keys in order and says whether more remain', async () => {
    const s = await ObjectStore.open(dir, 1);
    for (const k of ['p/c', 'p/a', 'p/b', 'q/a']) await s.putBytes(k, Buffer.from(k));
    const first = s.list('p/', undefined, 2);
    expect(first.items.map((i) => i.key)).toEqual(['p/a', 'p/b']);
    expect(first.more).toBe(true);
    const second = s.list('p/', 'p/b', 2);
    expect(second.items.map((i) => i.key)).toEqual(['p/c']);
    expect(second.more).toBe(false);
  });
});
