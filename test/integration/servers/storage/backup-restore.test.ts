import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { callOk, callTool, errorText } from '../../../harness/mcp-client';
import { auth, rawRequest, startFixture, type StorageFixture } from './storage-fixture';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Data offset of a named entry, found by walking the ustar headers (names also occur inside the manifest). */
function entryDataOffset(tar: Buffer, name: string): number {
  for (let off = 0; off + 512 <= tar.length;) {
    const entryName = tar
      .subarray(off, off + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    if (entryName === '') break;
    const size = parseInt(
      tar
        .subarray(off + 124, off + 136)
        .toString('latin1')
        .replace(/\0.*$/s, ''),
      8,
    );
    if (entryName === name) return off + 512;
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`entry ${name} not found`);
}

interface Backup {
  archiveUri: string;
  archiveKey: string;
  archiveSha256: string;
  archiveBytes: number;
  fileCount: number;
  bytes: number;
  tag: string;
}

describe('storage backup, restore and idempotency', () => {
  let fx: StorageFixture;
  const files = new Map<string, Buffer>();
  beforeAll(async () => {
    fx = await startFixture();
    for (let i = 0; i < 5; i++) {
      const body = crypto.randomBytes(1000 + i * 777);
      files.set(`proj/data/part-${i}.bin`, body);
      await callOk(fx.client, 'upload_file', {
        key: `proj/data/part-${i}.bin`,
        content: body.toString('base64'),
        metadata: { part: i },
      });
    }
    files.set('proj/empty.txt', Buffer.alloc(0));
    await callOk(fx.client, 'upload_file', { key: 'proj/empty.txt', content: '' });
    await callOk(fx.client, 'upload_file', { key: 'other/keep.txt', content: 'a2VlcA==' });
  });
  afterAll(async () => {
    await fx.close();
  });

  it('when a prefix is backed up, its originals deleted and the backup restored, then every file comes back with the same sha256', async () => {
    const b = await callOk<Backup>(fx.client, 'backup_data', { prefix: 'proj/', tag: 'v1.2' });
    expect(b).toMatchObject({ archiveUri: 'storage://backups/v1.2.tar.gz', fileCount: 6, tag: 'v1.2' });
    expect(b.bytes).toBe([...files.values()].reduce((s, f) => s + f.length, 0));

    const archive = await rawRequest(fx.url, 'GET', '/objects/backups/v1.2.tar.gz', { headers: auth });
    expect(sha(archive.body)).toBe(b.archiveSha256);
    expect(zlib.gunzipSync(archive.body).subarray(0, 13).toString()).toBe('MANIFEST.json');

    for (const key of files.keys()) await callOk(fx.client, 'delete_file', { key });
    const empty = await callOk<{ count: number }>(fx.client, 'list_files', { prefix: 'proj/' });
    expect(empty.count).toBe(0);

    const r = await callOk<{
      fileCount: number;
      checksumsVerified: number;
      catalogMatch: boolean;
      targetPrefix: string;
    }>(fx.client, 'restore_backup', {
      archive: b.archiveUri,
      expectedSha256: b.archiveSha256,
    });
    expect(r).toMatchObject({
      fileCount: 6,
      checksumsVerified: 6,
      catalogMatch: true,
      targetPrefix: 'proj/',
    });
    for (const [key, body] of files) {
      const d = await callOk<{ sha256: string; contentBase64: string; metadata?: Record<string, unknown> }>(
        fx.client,
        'download_file',
        { key, inline: true },
      );
      expect(d.sha256).toBe(sha(body));
      expect(Buffer.from(d.contentBase64, 'base64').equals(body)).toBe(true);
    }
    const part0 = await callOk<{ metadata?: Record<string, unknown> }>(fx.client, 'download_file', {
      key: 'proj/data/part-0.bin',
    });
    expect(part0.metadata).toEqual({ part: 0 });
  });

  it('when restoring into another prefix, then the files appear there and the source prefix is untouched', async () => {
    const r = await callOk<{ restored: Array<{ key: string }> }>(fx.client, 'restore_backup', {
      archive: 'backups/v1.2.tar.gz',
      targetPrefix: 'restored/',
    });
    expect(r.restored.map((o) => o.key).sort()).toEqual(
      [...files.keys()].map((k) => k.replace(/^proj\//, 'restored/')).sort(),
    );
    const source = await callOk<{ items: Array<{ versions: number }> }>(fx.client, 'list_files', {
      prefix: 'proj/',
    });
    expect(source.items.map((i) => i.versions)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('when the archive is replaced by a tampered copy (one file byte changed, manifest kept), then restore refuses and writes nothing', async () => {
    const original = await rawRequest(fx.url, 'GET', '/objects/backups/v1.2.tar.gz', { headers: auth });
    const tar = zlib.gunzipSync(original.body);
    const at = entryDataOffset(tar, 'files/000001') + 10;
    tar[at] = (tar[at] as number) ^ 0x01;
    const put = await rawRequest(fx.url, 'PUT', '/objects/backups/v1.2.tar.gz', {
      headers: auth,
      body: zlib.gzipSync(tar),
    });
    expect(put.status).toBe(201);

    const before = await callOk<{ count: number }>(fx.client, 'list_files', { prefix: 'tampered/' });
    const r = await callTool(fx.client, 'restore_backup', {
      archive: 'storage://backups/v1.2.tar.gz',
      targetPrefix: 'tampered/',
    });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toMatch(/refusing to restore/);
    expect((r._meta as Record<string, unknown>).code).toBe('checksum_mismatch');
    const after = await callOk<{ count: number }>(fx.client, 'list_files', { prefix: 'tampered/' });
    expect(after.count).toBe(before.count);
  });

  it('when a tampered archive of an unknown tag has a consistent manifest but a changed file, then the per-file checksum refuses it', async () => {
    const b = await callOk<Backup>(fx.client, 'backup_data', {
      prefix: 'other/',
      tag: 'foreign',
      archiveKey: 'imports/foreign.tar.gz',
    });
    const original = await rawRequest(fx.url, 'GET', `/objects/${b.archiveKey}`, { headers: auth });
    const tar = zlib.gunzipSync(original.body);
    // Retag the manifest (same length, header untouched) so the catalog does not know it, then change the file bytes.
    const forged = Buffer.from(
      tar.toString('latin1').replace('"tag": "foreign"', '"tag": "unknown"'),
      'latin1',
    );
    expect(forged.equals(tar)).toBe(false);
    const at = entryDataOffset(forged, 'files/000001');
    forged[at] = (forged[at] as number) ^ 0x01;
    await rawRequest(fx.url, 'PUT', '/objects/imports/forged.tar.gz', {
      headers: auth,
      body: zlib.gzipSync(forged),
    });
    const r = await callTool(fx.client, 'restore_backup', {
      archive: 'imports/forged.tar.gz',
      targetPrefix: 'forged/',
    });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toMatch(/checksum mismatch for other\/keep.txt/);
  });

  it('when expectedSha256 differs or the archive is not gzip, then restore refuses', async () => {
    const wrong = await callTool(fx.client, 'restore_backup', {
      archive: 'backups/v1.2.tar.gz',
      version: 1,
      expectedSha256: '0'.repeat(64),
    });
    expect(errorText(wrong)).toMatch(/not the expected/);
    await rawRequest(fx.url, 'PUT', '/objects/imports/junk.tar.gz', {
      headers: auth,
      body: Buffer.from('not gzip at all'),
    });
    const junk = await callTool(fx.client, 'restore_backup', { archive: 'imports/junk.tar.gz' });
    expect(errorText(junk)).toMatch(/not a valid gzip/);
    const missing = await callTool(fx.client, 'restore_backup', { archive: 'backups/none.tar.gz' });
    expect(errorText(missing)).toMatch(/not found/);
  });

  it('when the original archive version is restored after tampering, then it is still accepted', async () => {
    const r = await callOk<{ fileCount: number; catalogMatch: boolean }>(fx.client, 'restore_backup', {
      archive: 'backups/v1.2.tar.gz',
      version: 1,
      targetPrefix: 'again/',
    });
    expect(r).toMatchObject({ fileCount: 6, catalogMatch: true });
  });

  it('when a prefix is empty, then backup_data says there is nothing to back up', async () => {
    expect(errorText(await callTool(fx.client, 'backup_data', { prefix: 'nothing-here/' }))).toMatch(
      /nothing to back up/,
    );
  });

  it('when upload_file is called twice with the same idempotency key, then one version exists and the second call is a replay', async () => {
    const meta = { idempotencyKey: 'wf-42:step-upload' };
    const first = await fx.client.callTool({
      name: 'upload_file',
      arguments: { key: 'idem/a.txt', content: 'b25jZQ==' },
      _meta: meta,
    });
    const second = await fx.client.callTool({
      name: 'upload_file',
      arguments: { key: 'idem/a.txt', content: 'b25jZQ==' },
      _meta: meta,
    });
    expect(second.structuredContent).toEqual(first.structuredContent);
    expect((second._meta as Record<string, unknown>).replayed).toBe(true);
    const list = await callOk<{ items: Array<{ versions: number }> }>(fx.client, 'list_files', {
      prefix: 'idem/',
    });
    expect(list.items).toEqual([expect.objectContaining({ key: 'idem/a.txt', version: 1, versions: 1 })]);
    const third = await callOk<{ version: number }>(
      fx.client,
      'upload_file',
      { key: 'idem/a.txt', content: 'b25jZQ==' },
      { idempotencyKey: 'wf-42:other' },
    );
    expect(third.version).toBe(2);
  });

  it('when backup_data is called twice with the same idempotency key, then one archive version is made', async () => {
    const meta = { idempotencyKey: 'wf-42:step-backup' };
    const a = await callOk<Backup & { archiveVersion: number }>(
      fx.client,
      'backup_data',
      { prefix: 'other/', tag: 'once' },
      meta,
    );
    const b = await callOk<Backup & { archiveVersion: number }>(
      fx.client,
      'backup_data',
      { prefix: 'other/', tag: 'once' },
      meta,
    );
    expect(b).toEqual(a);
    const list = await callOk<{ items: Array<{ key: string; versions: number }> }>(fx.client, 'list_files', {
      prefix: 'backups/once',
    });
    expect(list.items).toEqual([expect.objectContaining({ key: 'backups/once.tar.gz', versions: 1 })]);
  });

  it('when delete_file is retried with the same idempotency key after a re-upload, then the retry does not delete the new version', async () => {
    const meta = { idempotencyKey: 'wf-42:step-delete' };
    await callOk(fx.client, 'delete_file', { key: 'idem/a.txt' }, meta);
    await callOk(fx.client, 'upload_file', { key: 'idem/a.txt', content: 'bmV3' });
    const retry = await callOk<{ deletedVersions: number[] }>(
      fx.client,
      'delete_file',
      { key: 'idem/a.txt' },
      meta,
    );
    expect(retry.deletedVersions).toEqual([1, 2]);
    const d = await callOk<{ version: number }>(fx.client, 'download_file', { key: 'idem/a.txt' });
    expect(d.version).toBe(3);
  });
});
