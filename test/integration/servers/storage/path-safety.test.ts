import fs from 'node:fs';
import path from 'node:path';
import { callOk, callTool, errorText } from '../../../harness/mcp-client';
import { auth, rawRequest, startFixture, type StorageFixture } from './storage-fixture';

/** RELIABILITY.md item 18: hostile keys and import paths are denied by tools and by the object API. */
describe('storage path safety', () => {
  let fx: StorageFixture;
  let sibling: string;
  let outside: string;
  beforeAll(async () => {
    fx = await startFixture();
    // The import root is <dataDir>/inbox; <dataDir>/inbox2 shares its prefix ("sibling-prefix").
    sibling = `${fx.inbox}2`;
    fs.mkdirSync(sibling, { recursive: true });
    fs.writeFileSync(path.join(sibling, 'secret.txt'), 'sibling secret');
    outside = fs.mkdtempSync(path.join(path.dirname(fx.dataDir), 'storage-outside-'));
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'outside secret');
    fs.writeFileSync(path.join(fx.inbox, 'ok.txt'), 'fine');
    fs.symlinkSync(path.join(sibling, 'secret.txt'), path.join(fx.inbox, 'to-sibling.txt'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(fx.inbox, 'to-outside.txt'));
    fs.symlinkSync(outside, path.join(fx.inbox, 'outside-dir'));
    fs.symlinkSync(sibling, path.join(fx.inbox, 'sibling-dir'));
  });
  afterAll(async () => {
    await fx.close();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const hostileKeys: Array<[string, string]> = [
    ['dot-dot', '../etc/passwd'],
    ['inner dot-dot', 'a/../../x'],
    ['trailing dot-dot', 'a/..'],
    ['dot segment', './a'],
    ['encoded dot-dot', '%2e%2e/x'],
    ['mixed-case encoded dot-dot', 'a/%2E%2e/b'],
    ['encoded slash', 'a%2f..%2fb'],
    ['absolute', '/etc/passwd'],
    ['drive letter', 'C:/Windows/x'],
    ['backslash', 'a\\..\\b'],
    ['NUL byte', 'a\u0000b'],
    ['empty segment', 'a//b'],
    ['percent', 'a%b'],
  ];

  it.each(hostileKeys)(
    'when upload_file gets the hostile key "%s", then it is denied with forbidden_path and nothing is stored',
    async (_label, key) => {
      const r = await callTool(fx.client, 'upload_file', { key, content: 'eA==' });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/key .* is not allowed/);
      expect((r._meta as Record<string, unknown>).code).toBe('forbidden_path');
    },
  );

  it.each(hostileKeys)(
    'when download_file and delete_file get the hostile key "%s", then both are denied',
    async (_label, key) => {
      for (const tool of ['download_file', 'delete_file']) {
        const r = await callTool(fx.client, tool, { key });
        expect(r.isError).toBe(true);
        expect(errorText(r)).toMatch(/not allowed/);
      }
    },
  );

  it('when backup, restore and list get hostile prefixes or keys, then they are denied', async () => {
    expect(errorText(await callTool(fx.client, 'list_files', { prefix: '../' }))).toMatch(
      /prefix .* not allowed/,
    );
    expect(errorText(await callTool(fx.client, 'backup_data', { prefix: '/etc/' }))).toMatch(
      /prefix .* not allowed/,
    );
    expect(
      errorText(await callTool(fx.client, 'backup_data', { prefix: 'a/', archiveKey: '../x.tar.gz' })),
    ).toMatch(/archiveKey .* not allowed/);
    expect(errorText(await callTool(fx.client, 'restore_backup', { archive: 'storage://../x' }))).toMatch(
      /archive .* not allowed/,
    );
    expect(
      errorText(
        await callTool(fx.client, 'restore_backup', { archive: 'backups/x.tar.gz', targetPrefix: '..\\' }),
      ),
    ).toMatch(/targetPrefix .* not allowed/);
  });

  const hostilePaths: Array<[string, () => string, RegExp]> = [
    ['dot-dot to the sibling', () => '../inbox2/secret.txt', /"\.\." segment/],
    ['inner dot-dot', () => 'sub/../../inbox2/secret.txt', /"\.\." segment/],
    ['encoded dot-dot', () => '%2e%2e/inbox2/secret.txt', /percent-encoded/],
    ['absolute path outside', () => '/etc/passwd', /absolute/],
    ['absolute path inside the root', () => path.join(fx.inbox, 'ok.txt'), /absolute/],
    ['backslash', () => '..\\inbox2\\secret.txt', /backslash/],
    ['NUL byte', () => 'ok.txt\u0000.png', /NUL/],
    ['symlink to a sibling-prefix folder file', () => 'to-sibling.txt', /outside the import root/],
    ['symlink to a file outside', () => 'to-outside.txt', /outside the import root/],
    ['file under a symlinked outside folder', () => 'outside-dir/secret.txt', /outside the import root/],
    ['file under a symlinked sibling folder', () => 'sibling-dir/secret.txt', /outside the import root/],
  ];

  it.each(hostilePaths)(
    'when upload_file imports the hostile path "%s", then it is denied',
    async (_label, p, message) => {
      const r = await callTool(fx.client, 'upload_file', { key: 'imports/x.txt', path: p() });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(message);
    },
  );

  it('when the sibling-prefix folder is named as the root, then it is not an import root', async () => {
    const r = await callTool(fx.client, 'upload_file', {
      key: 'imports/x.txt',
      path: 'secret.txt',
      root: sibling,
    });
    expect(errorText(r)).toMatch(/not an import root/);
  });

  it('when every hostile import was refused, then no secret reached the store and a plain import still works', async () => {
    const list = await callOk<{ items: unknown[] }>(fx.client, 'list_files', { prefix: 'imports/' });
    expect(list.items).toHaveLength(0);
    const ok = await callOk(fx.client, 'upload_file', { key: 'imports/ok.txt', path: 'ok.txt' });
    expect(ok).toMatchObject({ size: 4 });
  });

  const hostileRawPaths: Array<[string, string]> = [
    ['dot-dot', '/objects/../etc/passwd'],
    ['inner dot-dot', '/objects/a/../../x'],
    ['encoded dot-dot', '/objects/%2e%2e/x'],
    ['mixed-case encoded dot-dot', '/objects/a/%2E%2e/b'],
    ['encoded slash', '/objects/%2fetc%2fpasswd'],
    ['leading slash (absolute key)', '/objects//etc/passwd'],
    ['backslash', '/objects/a%5c..%5cb'],
    ['raw backslash', '/objects/a\\..\\b'],
    ['NUL byte', '/objects/a%00b'],
    ['double-encoded dot-dot', '/objects/%252e%252e/x'],
    ['bad percent-encoding', '/objects/a%zz'],
  ];

  it.each(hostileRawPaths)(
    'when the object API gets the hostile key "%s", then PUT, GET and HEAD answer 400',
    async (_label, raw) => {
      const put = await rawRequest(fx.url, 'PUT', raw, { headers: auth, body: Buffer.from('evil') });
      expect(put.status).toBe(400);
      expect(put.body.toString()).toMatch(/key/);
      const get = await rawRequest(fx.url, 'GET', raw, { headers: auth });
      expect(get.status).toBe(400);
      const head = await rawRequest(fx.url, 'HEAD', raw, { headers: auth });
      expect(head.status).toBe(400);
    },
  );

  it('when hostile object API requests were made, then no file appeared outside the data dir and the store holds only the good import', async () => {
    expect(fs.readdirSync(outside).sort()).toEqual(['secret.txt']);
    expect(fs.existsSync('/etc/passwd.evil')).toBe(false);
    const list = await callOk<{ items: Array<{ key: string }> }>(fx.client, 'list_files', { prefix: '' });
    expect(list.items.map((i) => i.key)).toEqual(['imports/ok.txt']);
  });
});
