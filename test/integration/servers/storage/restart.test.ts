import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { callOk, connectMcp } from '../../../harness/mcp-client';
import { startStorageServer } from '../../../../src/servers/storage/main';

describe('storage across a restart', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-restart-'));
  const config = {
    host: '127.0.0.1',
    port: 0,
    dataDir,
    allowedHosts: [],
    allowedOrigins: [],
    maxBodyBytes: 1024 * 1024,
    serviceToken: 'restart-token',
    signingSecret: 'restart-signing-secret-123',
  };
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('when the server restarts on the same data dir, then objects, versions, idempotency records and backups are still there', async () => {
    const a = await startStorageServer(config);
    const ca = await connectMcp(a.server.mcpUrl);
    const meta = { idempotencyKey: 'wf-7:step-1' };
    const up = await callOk<{ version: number; sha256: string }>(
      ca,
      'upload_file',
      { key: 'r/a.txt', content: 'YWJj' },
      meta,
    );
    const backup = await callOk<{ archiveUri: string }>(ca, 'backup_data', {
      prefix: 'r/',
      tag: 'before-restart',
    });
    await ca.close();
    await a.close();

    const b = await startStorageServer(config);
    const cb = await connectMcp(b.server.mcpUrl);
    try {
      const replay = await cb.callTool({
        name: 'upload_file',
        arguments: { key: 'r/a.txt', content: 'YWJj' },
        _meta: meta,
      });
      expect(replay.structuredContent).toEqual(
        expect.objectContaining({ version: up.version, sha256: up.sha256 }),
      );
      expect((replay._meta as Record<string, unknown>).replayed).toBe(true);
      const d = await callOk<{ version: number; url: string }>(cb, 'download_file', { key: 'r/a.txt' });
      expect(d.version).toBe(1);
      expect(await (await fetch(d.url)).text()).toBe('abc');
      const r = await callOk<{ catalogMatch: boolean }>(cb, 'restore_backup', {
        archive: backup.archiveUri,
        targetPrefix: 'r2/',
      });
      expect(r.catalogMatch).toBe(true);
    } finally {
      await cb.close();
      await b.close();
    }
  });
});
