import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ObjectStoreClient, type RunningServer } from '../../../../src/servers/kit';
import { startSecurityServer, type StartedSecurityServer } from '../../../../src/servers/security/main';
import { startStorageServer } from '../../../../src/servers/storage/main';
import { callOk, callTool, connectMcp, errorText } from '../../../harness/mcp-client';

jest.setTimeout(60_000);

interface CryptoOut {
  source: { uri: string; version: number; size: number };
  output: { uri: string; key: string; version: number; sha256: string; size: number };
  kid: string;
  plaintextBytes: number;
  plaintextSha256: string;
}

const serviceToken = crypto.randomBytes(24).toString('hex');
let storageDir: string;
let secDir: string;
let storage: { server: RunningServer; close(): Promise<void> };
let sec: StartedSecurityServer;
let client: Client;
let objects: ObjectStoreClient;
const plaintext = Buffer.from('customer_id,score\n1,0.93\n2,0.41\n'.repeat(200));
const sha = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const attacks = { tried: 0, refused: 0 };

beforeAll(async () => {
  storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-storage-'));
  secDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-enc-'));
  storage = await startStorageServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: storageDir,
    allowedHosts: [],
    allowedOrigins: [],
    maxBodyBytes: 4 * 1024 * 1024,
    serviceToken,
    zones: 1,
  });
  sec = await startSecurityServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: secDir,
    storageUrl: storage.server.url,
    serviceToken,
  });
  client = await connectMcp(sec.server.mcpUrl);
  objects = new ObjectStoreClient({ baseUrl: storage.server.url, token: async () => serviceToken });
  await objects.put('datasets/customers.csv', plaintext);
});

afterAll(async () => {
  await client?.close();
  await sec?.close();
  await storage?.close();
  console.log(`storage envelope attacks tried: ${attacks.tried}, refused: ${attacks.refused}`);
  fs.rmSync(storageDir, { recursive: true, force: true });
  fs.rmSync(secDir, { recursive: true, force: true });
});

async function expectRefused(args: Record<string, unknown>, code: string, msg: RegExp): Promise<void> {
  attacks.tried++;
  const r = await callTool(client, 'decrypt', args);
  expect(r.isError).toBe(true);
  expect(r._meta?.code).toBe(code);
  expect(errorText(r)).toMatch(msg);
  attacks.refused++;
}

describe('encrypt / decrypt storage objects (real storage server)', () => {
  let first: CryptoOut;

  test('when a storage object is encrypted, then an envelope is written to "<key>.enc" that does not contain the plaintext', async () => {
    first = await callOk<CryptoOut>(client, 'encrypt', { uri: 'storage://datasets/customers.csv' });
    expect(first.output.uri).toBe('storage://datasets/customers.csv.enc');
    expect(first.plaintextBytes).toBe(plaintext.length);
    expect(first.plaintextSha256).toBe(sha(plaintext));
    const stored = await objects.get(first.output.uri);
    expect(Buffer.from(stored.bytes.subarray(0, 4)).toString()).toBe('MCPE');
    expect(Buffer.from(stored.bytes).includes(plaintext.subarray(0, 40))).toBe(false);
    expect(stored.sha256).toBe(first.output.sha256);
  });

  test('when the envelope is decrypted, then the plaintext object is written back byte-for-byte', async () => {
    const d = await callOk<CryptoOut>(client, 'decrypt', {
      uri: first.output.uri,
      outputKey: 'restored/customers.csv',
    });
    expect(d.kid).toBe(first.kid);
    expect(d.output.uri).toBe('storage://restored/customers.csv');
    const back = await objects.get('restored/customers.csv');
    expect(Buffer.from(back.bytes).equals(plaintext)).toBe(true);
    const defaultOut = await callOk<CryptoOut>(client, 'decrypt', { uri: first.output.uri });
    expect(defaultOut.output.key).toBe('datasets/customers.csv');
    expect(defaultOut.output.version).toBe(2);
  });

  test('when the master key is rotated, then new envelopes use the new key id and old envelopes still decrypt', async () => {
    const rot = await callOk<{ kid: string; previousKid: string }>(client, 'rotate_master_key', {
      reason: 'quarterly',
    });
    expect(rot.previousKid).toBe(first.kid);
    const second = await callOk<CryptoOut>(client, 'encrypt', {
      uri: 'storage://datasets/customers.csv',
      outputKey: 'vault/customers.v2.enc',
    });
    expect(second.kid).toBe(rot.kid);
    const oldOpen = await callOk<CryptoOut>(client, 'decrypt', {
      uri: first.output.uri,
      outputKey: 'restored/old.csv',
    });
    const newOpen = await callOk<CryptoOut>(client, 'decrypt', {
      uri: second.output.uri,
      outputKey: 'restored/new.csv',
    });
    expect([oldOpen.kid, newOpen.kid]).toEqual([first.kid, rot.kid]);
    expect(oldOpen.plaintextSha256).toBe(sha(plaintext));
    expect(newOpen.plaintextSha256).toBe(sha(plaintext));
  });

  test('when an envelope in the store is tampered with or moved to another key, then decrypt refuses and audits the failure', async () => {
    const env = Buffer.from((await objects.get(first.output.uri)).bytes);
    const flipped = Buffer.from(env);
    flipped[flipped.length - 5]! ^= 0x01;
    await objects.put('tamper/flipped.enc', flipped);
    // Rewrite the header's objectKey so the bytes claim the new location: the AAD still binds the original.
    const hdrLen = env.readUInt32BE(5);
    const header = JSON.parse(env.subarray(9, 9 + hdrLen).toString()) as Record<string, string>;
    const relabel = (patch: Record<string, string>) => {
      const hb = Buffer.from(JSON.stringify({ ...header, ...patch }));
      const prefix = Buffer.from(env.subarray(0, 9));
      prefix.writeUInt32BE(hb.length, 5);
      return Buffer.concat([prefix, hb, env.subarray(9 + hdrLen)]);
    };
    await objects.put('tamper/moved.enc', env);
    await objects.put('tamper/relabelled.enc', relabel({ objectKey: 'tamper/relabelled.enc' }));
    const shortTag = relabel({
      objectKey: first.output.key,
      tag: Buffer.from(header.tag!, 'base64').subarray(0, 12).toString('base64'),
    });
    await objects.put('tamper/short-tag.enc', shortTag);

    const before = sec.deps.audit.count;
    await expectRefused(
      { uri: 'storage://tamper/flipped.enc' },
      'decrypt_object_key_mismatch',
      /sealed for object key "datasets\/customers.csv.enc"/,
    );
    // Same bytes, flipped, put back under the original key.
    await objects.put(first.output.key, flipped);
    await expectRefused(
      { uri: first.output.uri, outputKey: 'x/y' },
      'decrypt_auth_failed',
      /authentication failed/,
    );
    await objects.put(first.output.key, shortTag);
    await expectRefused(
      { uri: first.output.uri, outputKey: 'x/y' },
      'decrypt_bad_tag_length',
      /only 16-byte tags/,
    );
    await expectRefused(
      { uri: 'storage://tamper/moved.enc' },
      'decrypt_object_key_mismatch',
      /read from "tamper\/moved.enc"/,
    );
    await expectRefused(
      { uri: 'storage://tamper/relabelled.enc' },
      'decrypt_auth_failed',
      /authentication failed/,
    );
    await expectRefused({ uri: 'storage://datasets/customers.csv' }, 'not_encrypted', /not an envelope/);
    const failures = sec.deps.audit.query(
      { sinceSeq: before + 1, action: 'object.decrypt', outcome: 'failure' },
      50,
    ).entries;
    expect(failures).toHaveLength(6);
    // Restore the good envelope (a new version) so later tests can use it.
    await objects.put(first.output.key, env);
  });

  test('when the source is missing, already encrypted, or the output key escapes, then encrypt refuses with what to fix', async () => {
    const missing = await callTool(client, 'encrypt', { uri: 'storage://nope/missing.bin' });
    expect(missing._meta?.code).toBe('not_found');
    expect(errorText(missing)).toMatch(/storage:\/\/nope\/missing.bin does not exist/);
    const twice = await callTool(client, 'encrypt', { uri: first.output.uri });
    expect(twice._meta?.code).toBe('already_encrypted');
    const escape = await callTool(client, 'encrypt', {
      uri: 'storage://datasets/customers.csv',
      outputKey: '../outside',
    });
    expect(escape.isError).toBe(true);
    expect(errorText(escape)).toMatch(/outputKey/);
  });

  test('when encrypt is retried with the same idempotency key, then the envelope is written once', async () => {
    const meta = { idempotencyKey: 'wf-9/encrypt-model' };
    const a = await callTool(
      client,
      'encrypt',
      { uri: 'storage://datasets/customers.csv', outputKey: 'vault/once.enc' },
      meta,
    );
    const b = await callTool(
      client,
      'encrypt',
      { uri: 'storage://datasets/customers.csv', outputKey: 'vault/once.enc' },
      meta,
    );
    expect(a.isError).toBeFalsy();
    expect(b._meta?.replayed).toBe(true);
    expect((b.structuredContent as unknown as CryptoOut).output.version).toBe(1);
    expect((await objects.get('vault/once.enc')).version).toBe(1);
    const encrypts = sec.deps.audit.query(
      { action: 'object.encrypt', resource: 'storage://datasets/customers.csv' },
      50,
    ).entries;
    expect(encrypts.filter((e) => e.details.output === 'storage://vault/once.enc')).toHaveLength(1);
  });

  test('when the storage server rejects the service token, then encrypt fails with storage_unavailable naming the HTTP status', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-enc-bad-'));
    const bad = await startSecurityServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: dir,
      storageUrl: storage.server.url,
      serviceToken: 'wrong-token',
      serverGroups: ['data'],
    });
    const c = await connectMcp(bad.server.mcpUrl);
    try {
      const r = await callTool(c, 'encrypt', { uri: 'storage://datasets/customers.csv' });
      expect(r._meta?.code).toBe('storage_unavailable');
      expect(errorText(r)).toMatch(/HTTP 401/);
    } finally {
      await c.close();
      await bad.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
