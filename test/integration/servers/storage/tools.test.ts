import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { callOk, callTool, errorText } from '../../../harness/mcp-client';
import { rawRequest, startFixture, type StorageFixture } from './storage-fixture';

const sha = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

/** A loopback HTTP server standing in for another server of the stack. */
async function startPeer(): Promise<{ origin: string; seenAuth: string[]; close(): Promise<void> }> {
  const seenAuth: string[] = [];
  const srv = http.createServer((req, res) => {
    seenAuth.push(req.headers.authorization ?? '');
    if (req.url === '/objects/model.onnx') return void res.end(Buffer.from('onnx-bytes'));
    if (req.url === '/redirect')
      return void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
    if (req.url === '/big') return void res.end(Buffer.alloc(70 * 1024));
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    seenAuth,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

describe('storage MCP tools', () => {
  let fx: StorageFixture;
  let peer: Awaited<ReturnType<typeof startPeer>>;
  beforeAll(async () => {
    peer = await startPeer();
    fx = await startFixture({
      fetchAllowlist: [peer.origin],
      maxObjectBytes: 64 * 1024,
      inlineMaxBytes: 1024,
    });
  });
  afterAll(async () => {
    await fx.close();
    await peer.close();
  });

  it('when tools are listed, then all eight exist with output schemas and annotations', async () => {
    const { tools } = await fx.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        'backup_data',
        'delete_file',
        'download_file',
        'list_files',
        'restore_backup',
        'server_info',
        'upload_file',
        'verify_store',
      ].sort(),
    );
    for (const t of tools) {
      expect(t.outputSchema).toBeDefined();
      expect(t.annotations?.readOnlyHint).toBeDefined();
      expect(t.title).toBeTruthy();
    }
  });

  describe('upload_file', () => {
    it('when content is base64, then it is stored with 3 replicas and its sha256', async () => {
      const r = await callOk(fx.client, 'upload_file', {
        key: 'up/inline.txt',
        content: Buffer.from('hello').toString('base64'),
        metadata: { owner: 'etl' },
      });
      expect(r).toMatchObject({
        uri: 'storage://up/inline.txt',
        version: 1,
        size: 5,
        sha256: sha('hello'),
        source: 'content',
        replicas: 3,
        metadata: { owner: 'etl' },
      });
    });

    it('when a path inside the import root is given, then the file is imported', async () => {
      fs.mkdirSync(path.join(fx.inbox, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(fx.inbox, 'sub', 'data.csv'), 'a,b\n1,2\n');
      const r = await callOk(fx.client, 'upload_file', { key: 'up/data.csv', path: 'sub/data.csv' });
      expect(r).toMatchObject({ source: 'path', size: 8, sha256: sha('a,b\n1,2\n') });
    });

    it('when url is a storage:// reference, then the object is copied to the new key', async () => {
      const r = await callOk(fx.client, 'upload_file', {
        key: 'up/copy.txt',
        url: 'storage://up/inline.txt',
      });
      expect(r).toMatchObject({ source: 'object', sha256: sha('hello'), metadata: { owner: 'etl' } });
    });

    it('when url is an allowlisted loopback stack URL, then it is fetched with the service token', async () => {
      const r = await callOk(fx.client, 'upload_file', {
        key: 'models/model.onnx',
        url: `${peer.origin}/objects/model.onnx`,
      });
      expect(r).toMatchObject({ source: 'url', sha256: sha('onnx-bytes'), size: 10 });
      expect(peer.seenAuth.at(-1)).toMatch(/^Bearer /);
    });

    it.each([
      ['a non-allowlisted origin', 'http://127.0.0.1:1/x', /allowlist/],
      ['a link-local metadata address', 'http://169.254.169.254/latest/meta-data', /allowlist/],
      ['a file: URL', 'file:///etc/passwd', /scheme/],
      ['credentials in the URL', 'http://user:pw@127.0.0.1:1/x', /credentials/],
    ])('when url is %s, then it is refused', async (_label, url, message) => {
      const r = await callTool(fx.client, 'upload_file', { key: 'up/bad.bin', url });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(message);
    });

    it('when an allowlisted URL redirects, then the redirect is not followed', async () => {
      const r = await callTool(fx.client, 'upload_file', {
        key: 'up/redir.bin',
        url: `${peer.origin}/redirect`,
      });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/redirect/);
    });

    it('when a fetched URL is over the object limit, then it is refused as too large', async () => {
      const r = await callTool(fx.client, 'upload_file', { key: 'up/big.bin', url: `${peer.origin}/big` });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/limit/);
    });

    it('when no source or two sources are given, then the error says to give exactly one', async () => {
      const none = await callTool(fx.client, 'upload_file', { key: 'up/x' });
      expect(errorText(none)).toMatch(/exactly one source/);
      const two = await callTool(fx.client, 'upload_file', {
        key: 'up/x',
        content: 'aGk=',
        url: 'storage://up/inline.txt',
      });
      expect(errorText(two)).toMatch(/exactly one source.*content, url|exactly one source.*url, content/);
    });

    it('when inline content exceeds the cap or is not base64, then it is refused', async () => {
      const big = await callTool(fx.client, 'upload_file', {
        key: 'up/x',
        content: Buffer.alloc(2000).toString('base64'),
      });
      expect(errorText(big)).toMatch(/capped at 1024/);
      const bad = await callTool(fx.client, 'upload_file', { key: 'up/x', content: '!!notbase64!!' });
      expect(errorText(bad)).toMatch(/base64/);
    });

    it('when the import file does not exist or the root is unknown, then the error names it', async () => {
      const missing = await callTool(fx.client, 'upload_file', { key: 'up/x', path: 'nope.csv' });
      expect(errorText(missing)).toMatch(/not found/);
      const root = await callTool(fx.client, 'upload_file', { key: 'up/x', path: 'a.csv', root: '/etc' });
      expect(errorText(root)).toMatch(/not an import root/);
    });
  });

  describe('download_file', () => {
    it('when a key is downloaded, then a signed URL fetches exactly that version without a token', async () => {
      await callOk(fx.client, 'upload_file', {
        key: 'dl/a.txt',
        content: Buffer.from('first').toString('base64'),
      });
      const d = await callOk<{
        url: string;
        version: number;
        sha256: string;
        expiresAt: string;
        replicasChecked: number;
      }>(fx.client, 'download_file', { key: 'storage://dl/a.txt' });
      await callOk(fx.client, 'upload_file', {
        key: 'dl/a.txt',
        content: Buffer.from('second').toString('base64'),
      });
      expect(d.version).toBe(1);
      expect(d.replicasChecked).toBe(3);
      expect(Date.parse(d.expiresAt)).toBeGreaterThan(Date.now());
      const res = await fetch(d.url);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('first');
      expect(res.headers.get('x-object-sha256')).toBe(d.sha256);
    });

    it('when a signed URL is tampered with or expired, then 403', async () => {
      const d = await callOk<{ url: string; version: number }>(fx.client, 'download_file', {
        key: 'dl/a.txt',
      });
      expect(d.version).toBe(2);
      expect((await fetch(d.url)).status).toBe(200);
      const u = new URL(d.url);
      const forged = new URL(d.url);
      forged.searchParams.set('version', '1');
      expect((await fetch(forged)).status).toBe(403);
      const otherKey = new URL(d.url.replace('/objects/dl/a.txt', '/objects/up/inline.txt'));
      expect((await fetch(otherKey)).status).toBe(403);
      const expired = new URL(d.url);
      expired.searchParams.set('exp', String(Math.floor(Date.now() / 1000) - 10));
      expect((await fetch(expired)).status).toBe(403);
      const noSig = `${u.origin}${u.pathname}?version=1&exp=${u.searchParams.get('exp')}&sig=${'0'.repeat(64)}`;
      expect((await fetch(noSig)).status).toBe(403);
      const put = await rawRequest(fx.url, 'PUT', `${u.pathname}${u.search}`, { body: Buffer.from('x') });
      expect(put.status).toBe(401);
    });

    it('when inline is requested for a small object, then the bytes come back as base64', async () => {
      const d = await callOk<{ contentBase64: string; version: number }>(fx.client, 'download_file', {
        key: 'dl/a.txt',
        inline: true,
      });
      expect(Buffer.from(d.contentBase64, 'base64').toString()).toBe('second');
      expect(d.version).toBe(2);
    });

    it('when inline is requested for an object over the cap, then it is refused and the URL is suggested', async () => {
      await callOk(fx.client, 'upload_file', { key: 'dl/big.bin', url: `${peer.origin}/objects/model.onnx` });
      const big = Buffer.alloc(2000, 7);
      await rawRequest(fx.url, 'PUT', '/objects/dl/big2.bin', {
        headers: { authorization: 'Bearer test-service-token-0123456789' },
        body: big,
      });
      const r = await callTool(fx.client, 'download_file', { key: 'dl/big2.bin', inline: true });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/capped at 1024.*signed url/);
    });

    it('when the key or version does not exist, then not found', async () => {
      expect(errorText(await callTool(fx.client, 'download_file', { key: 'dl/none' }))).toMatch(/not found/);
      expect(errorText(await callTool(fx.client, 'download_file', { key: 'dl/a.txt', version: 9 }))).toMatch(
        /version 9 not found/,
      );
    });
  });

  describe('list_files', () => {
    it('when a prefix holds more keys than the limit, then pages with a cursor cover every key exactly once', async () => {
      for (let i = 0; i < 7; i++)
        await callOk(fx.client, 'upload_file', {
          key: `list/f${i}.txt`,
          content: Buffer.from(`x${i}`).toString('base64'),
        });
      await callOk(fx.client, 'upload_file', { key: 'listing-other/z.txt', content: 'eg==' });
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const r = await callOk<{
          items: Array<{ key: string; uri: string }>;
          count: number;
          nextCursor?: string;
        }>(fx.client, 'list_files', {
          prefix: 'list/',
          limit: 3,
          ...(cursor ? { cursor } : {}),
        });
        expect(r.count).toBeLessThanOrEqual(3);
        seen.push(...r.items.map((i) => i.key));
        cursor = r.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `list/f${i}.txt`));
    });

    it('when a cursor is garbage or from another prefix, then it is refused', async () => {
      const r1 = await callOk<{ nextCursor?: string }>(fx.client, 'list_files', {
        prefix: 'list/',
        limit: 1,
      });
      expect(
        errorText(await callTool(fx.client, 'list_files', { prefix: 'up/', cursor: r1.nextCursor })),
      ).toMatch(/cursor/);
      expect(
        errorText(await callTool(fx.client, 'list_files', { prefix: 'list/', cursor: 'garbage' })),
      ).toMatch(/cursor/);
    });

    it('when the limit is over 1000, then the call is rejected as invalid params', async () => {
      const r = await callTool(fx.client, 'list_files', { prefix: '', limit: 5000 }).catch((e: Error) => ({
        isError: true,
        content: [{ type: 'text' as const, text: e.message }],
      }));
      expect(r.isError).toBe(true);
    });
  });

  describe('delete_file', () => {
    it('when one version is deleted, then the other remains; when all are deleted twice, then the second call deletes nothing', async () => {
      await callOk(fx.client, 'upload_file', {
        key: 'del/a.txt',
        content: Buffer.from('v1').toString('base64'),
      });
      await callOk(fx.client, 'upload_file', {
        key: 'del/a.txt',
        content: Buffer.from('v2').toString('base64'),
      });
      const one = await callOk(fx.client, 'delete_file', { key: 'del/a.txt', version: 1 });
      expect(one).toMatchObject({ deletedVersions: [1], remainingVersions: [2] });
      const all = await callOk(fx.client, 'delete_file', { key: 'storage://del/a.txt' });
      expect(all).toMatchObject({ deletedVersions: [2], remainingVersions: [] });
      const again = await callOk(fx.client, 'delete_file', { key: 'del/a.txt' });
      expect(again).toMatchObject({ deletedVersions: [], remainingVersions: [], blobsRemoved: 0 });
      expect(errorText(await callTool(fx.client, 'download_file', { key: 'del/a.txt' }))).toMatch(
        /not found/,
      );
    });

    it('when the last version using some content is deleted, then its blob leaves every zone, but shared content stays', async () => {
      await callOk(fx.client, 'upload_file', {
        key: 'del/shared1',
        content: Buffer.from('shared').toString('base64'),
      });
      await callOk(fx.client, 'upload_file', {
        key: 'del/shared2',
        content: Buffer.from('shared').toString('base64'),
      });
      const first = await callOk(fx.client, 'delete_file', { key: 'del/shared1' });
      expect(first).toMatchObject({ blobsRemoved: 0 });
      const second = await callOk(fx.client, 'delete_file', { key: 'del/shared2' });
      expect(second).toMatchObject({ blobsRemoved: 1 });
      for (let z = 1; z <= 3; z++) {
        expect(
          fs.existsSync(
            path.join(fx.dataDir, 'zones', `zone-${z}`, 'blobs', sha('shared').slice(0, 2), sha('shared')),
          ),
        ).toBe(false);
      }
    });

    it('when a deleted key is uploaded again, then version numbers continue instead of restarting', async () => {
      const r = await callOk<{ version: number }>(fx.client, 'upload_file', {
        key: 'del/a.txt',
        content: 'eA==',
      });
      expect(r.version).toBe(3);
    });
  });

  describe('verify_store and server_info', () => {
    it('when the store is healthy, then verify_store checks 3 replicas per blob and reports it whole', async () => {
      const r = await callOk<{
        blobsChecked: number;
        replicasChecked: number;
        replicasOk: number;
        replicasRepaired: number;
        whole: boolean;
      }>(fx.client, 'verify_store', {});
      expect(r.blobsChecked).toBeGreaterThan(0);
      expect(r.replicasChecked).toBe(r.blobsChecked * 3);
      expect(r.replicasOk).toBe(r.replicasChecked);
      expect(r.replicasRepaired).toBe(0);
      expect(r.whole).toBe(true);
    });

    it('when server_info is called, then it reports zones, limits and measured disk and object figures', async () => {
      const info = await callOk<{
        tools: string[];
        capabilities: { replicationFactor: number; zones: string[]; gpu: boolean };
        limits: { maxObjectBytes: number; inlineMaxBytes: number; fetchAllowlist: string[] };
        measured: {
          diskTotalBytes: number;
          diskFreeBytes: number;
          objects: number;
          bytesStored: number;
          replicaBytes: number;
          uniqueBlobBytes: number;
        };
      }>(fx.client, 'server_info', {});
      expect(info.tools).toHaveLength(8);
      expect(info.capabilities).toMatchObject({
        replicationFactor: 3,
        zones: ['zone-1', 'zone-2', 'zone-3'],
        gpu: false,
      });
      expect(info.limits).toMatchObject({ maxObjectBytes: 64 * 1024, inlineMaxBytes: 1024 });
      expect(info.limits.fetchAllowlist).toEqual(
        expect.arrayContaining([peer.origin, new URL(fx.url).origin]),
      );
      const st = fs.statfsSync(fx.dataDir);
      expect(info.measured.diskTotalBytes).toBe(st.blocks * st.bsize);
      expect(info.measured.diskFreeBytes).toBeGreaterThan(0);
      expect(info.measured.objects).toBeGreaterThan(5);
      expect(info.measured.replicaBytes).toBe(info.measured.uniqueBlobBytes * 3);
    });
  });
});
