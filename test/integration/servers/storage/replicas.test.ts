import crypto from 'node:crypto';
import fs from 'node:fs';
import { callOk } from '../../../harness/mcp-client';
import { blobPath } from '../../../../src/servers/storage/object-store';
import { auth, rawRequest, startFixture, type StorageFixture } from './storage-fixture';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

function flipBytes(file: string): void {
  const b = fs.readFileSync(file);
  for (let i = 0; i < b.length; i += 97) b[i] = (b[i] as number) ^ 0xff;
  fs.writeFileSync(file, b);
}

function replicasIntact(dataDir: string, digest: string): boolean[] {
  return [1, 2, 3].map((z) => {
    const p = blobPath(dataDir, z, digest);
    return fs.existsSync(p) && sha(fs.readFileSync(p)) === digest;
  });
}

describe('storage replicas: verify on read and repair', () => {
  let fx: StorageFixture;
  beforeAll(async () => {
    fx = await startFixture();
  });
  afterAll(async () => {
    await fx.close();
  });

  it('when an upload completes, then every zone holds an intact replica', async () => {
    const body = crypto.randomBytes(5000);
    const r = await callOk<{ sha256: string }>(fx.client, 'upload_file', {
      key: 'rep/a.bin',
      content: body.toString('base64'),
    });
    expect(replicasIntact(fx.dataDir, r.sha256)).toEqual([true, true, true]);
  });

  it('when one replica is corrupted and another deleted, then download_file returns the right bytes and all 3 replicas are whole again', async () => {
    const body = crypto.randomBytes(20_000);
    const up = await callOk<{ sha256: string }>(fx.client, 'upload_file', {
      key: 'rep/b.bin',
      content: body.toString('base64'),
    });
    flipBytes(blobPath(fx.dataDir, 1, up.sha256));
    fs.rmSync(blobPath(fx.dataDir, 2, up.sha256));
    expect(replicasIntact(fx.dataDir, up.sha256)).toEqual([false, false, true]);

    const d = await callOk<{
      contentBase64: string;
      sha256: string;
      replicasChecked: number;
      replicasRepaired: number;
    }>(fx.client, 'download_file', {
      key: 'rep/b.bin',
      inline: true,
    });
    expect(Buffer.from(d.contentBase64, 'base64').equals(body)).toBe(true);
    expect(d.sha256).toBe(sha(body));
    expect(d.replicasChecked).toBe(3);
    expect(d.replicasRepaired).toBe(2);
    expect(replicasIntact(fx.dataDir, up.sha256)).toEqual([true, true, true]);
  });

  it('when one replica is corrupted and another deleted, then GET /objects returns the right bytes and heals the store', async () => {
    const body = crypto.randomBytes(30_000);
    const put = await rawRequest(fx.url, 'PUT', '/objects/rep/c.bin', { headers: auth, body });
    const digest = (JSON.parse(put.body.toString()) as { sha256: string }).sha256;
    fs.rmSync(blobPath(fx.dataDir, 1, digest));
    flipBytes(blobPath(fx.dataDir, 3, digest));
    const get = await rawRequest(fx.url, 'GET', '/objects/rep/c.bin', { headers: auth });
    expect(get.status).toBe(200);
    expect(get.body.equals(body)).toBe(true);
    expect(get.headers['x-object-sha256']).toBe(digest);
    expect(replicasIntact(fx.dataDir, digest)).toEqual([true, true, true]);
  });

  it('when replicas are damaged without a read, then verify_store finds and repairs them and a second run finds nothing', async () => {
    const up = await callOk<{ sha256: string }>(fx.client, 'upload_file', {
      key: 'rep/d.bin',
      content: crypto.randomBytes(4000).toString('base64'),
    });
    flipBytes(blobPath(fx.dataDir, 2, up.sha256));
    fs.rmSync(blobPath(fx.dataDir, 3, up.sha256));
    const r = await callOk<{
      replicasMissing: number;
      replicasCorrupt: number;
      replicasRepaired: number;
      whole: boolean;
      blobsChecked: number;
      replicasChecked: number;
    }>(fx.client, 'verify_store', {});
    expect(r).toMatchObject({ replicasMissing: 1, replicasCorrupt: 1, replicasRepaired: 2, whole: true });
    expect(r.replicasChecked).toBe(r.blobsChecked * 3);
    const again = await callOk<{ replicasRepaired: number; replicasOk: number; replicasChecked: number }>(
      fx.client,
      'verify_store',
      {},
    );
    expect(again.replicasRepaired).toBe(0);
    expect(again.replicasOk).toBe(again.replicasChecked);
  });

  it('when every replica is damaged, then download fails with data_loss, GET answers 500, and verify_store lists the key', async () => {
    const up = await callOk<{ sha256: string }>(fx.client, 'upload_file', {
      key: 'rep/lost.bin',
      content: crypto.randomBytes(1000).toString('base64'),
    });
    for (const z of [1, 2, 3]) flipBytes(blobPath(fx.dataDir, z, up.sha256));
    const d = await fx.client.callTool({ name: 'download_file', arguments: { key: 'rep/lost.bin' } });
    expect(d.isError).toBe(true);
    expect((d._meta as Record<string, unknown>).code).toBe('data_loss');
    const get = await rawRequest(fx.url, 'GET', '/objects/rep/lost.bin', { headers: auth });
    expect(get.status).toBe(500);
    const v = await callOk<{ whole: boolean; unrecoverable: Array<{ sha256: string; keys: string[] }> }>(
      fx.client,
      'verify_store',
      {},
    );
    expect(v.whole).toBe(false);
    expect(v.unrecoverable).toEqual([{ sha256: up.sha256, keys: ['rep/lost.bin'] }]);
    await callOk(fx.client, 'delete_file', { key: 'rep/lost.bin' });
  });
});
