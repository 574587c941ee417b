import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { audienceFor, ClientRegistry, scopeBelongsTo } from '../../../../src/servers/security/clients';
import { MasterKeyRing } from '../../../../src/servers/security/master-keys';
import { RETAINED_SIGNING_KEYS, SigningKeyRing } from '../../../../src/servers/security/signing-keys';

jest.setTimeout(20_000);

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-keys-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('master key ring', () => {
  test('when rotated, then the new key is active, old ones resolve, and the file stays 0600 across reopen', () => {
    const ring = new MasterKeyRing(dir);
    const first = ring.active();
    const r = ring.rotate();
    expect(r.previousKid).toBe(first.kid);
    expect(ring.active().kid).toBe(r.kid);
    expect(ring.resolve(first.kid)!.equals(first.key)).toBe(true);
    expect(fs.statSync(ring.file).mode & 0o777).toBe(0o600);
    const reopened = new MasterKeyRing(dir);
    expect(reopened.kids()).toEqual([first.kid, r.kid]);
    expect(reopened.resolve('nope')).toBeUndefined();
  });

  test('when the key file has been made group-readable, then the ring refuses to open it', () => {
    const ring = new MasterKeyRing(dir);
    fs.chmodSync(ring.file, 0o644);
    expect(() => new MasterKeyRing(dir)).toThrow(/must be 0600/);
  });
});

describe('signing key ring', () => {
  test('the JWKS has the active and the pre-published next key, public members only; rotation activates the next key', async () => {
    const ring = await SigningKeyRing.open(dir);
    const active = ring.active().kid;
    const next = ring.nextKid()!;
    const jwks = ring.jwks();
    expect(jwks.keys.map((k) => k.kid)).toEqual([active, next]);
    for (const k of jwks.keys)
      expect(Object.keys(k).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const r = await ring.rotate();
    expect(r).toMatchObject({ kid: next, previousKid: active });
    expect(ring.active().kid).toBe(next);
    expect((await SigningKeyRing.open(dir)).active().kid).toBe(next);
  });

  test(`when rotated many times, then only ${RETAINED_SIGNING_KEYS} old keys plus active and next stay published`, async () => {
    const ring = await SigningKeyRing.open(dir);
    const retired: string[] = [];
    for (let i = 0; i < RETAINED_SIGNING_KEYS + 3; i++) retired.push(...(await ring.rotate()).retiredKids);
    expect(ring.kids()).toHaveLength(RETAINED_SIGNING_KEYS + 2);
    expect(retired.length).toBeGreaterThan(0);
    for (const k of retired) expect(ring.kids()).not.toContain(k);
  });
});

describe('client registry', () => {
  test('when generated, then each group client holds read/write on its own audience and orchestrator holds read everywhere; secrets verify only when exact', async () => {
    const reg = await ClientRegistry.open(dir, ['data', 'compute']);
    expect(reg.generated).toBe(true);
    const plain = JSON.parse(fs.readFileSync(path.join(dir, 'clients.secret.json'), 'utf8')) as {
      clients: { clientId: string; clientSecret: string; audiences: string[]; scopes: string[] }[];
    };
    const data = plain.clients.find((c) => c.clientId === 'orchestrator-data')!;
    expect(data).toMatchObject({ audiences: ['mcp:data'], scopes: ['data:read', 'data:write'] });
    expect(plain.clients.find((c) => c.clientId === 'orchestrator')).toMatchObject({
      audiences: ['mcp:data', 'mcp:compute'],
      scopes: ['data:read', 'compute:read'],
    });
    expect((await reg.verify('orchestrator-data', data.clientSecret))?.clientId).toBe('orchestrator-data');
    expect(await reg.verify('orchestrator-data', data.clientSecret + 'x')).toBeUndefined();
    expect(await reg.verify('orchestrator-compute', data.clientSecret)).toBeUndefined();
    expect(await reg.verify('ghost', data.clientSecret)).toBeUndefined();
    const again = await ClientRegistry.open(dir, ['data', 'compute', 'storage']);
    expect(again.generated).toBe(false);
    // 2 group clients + orchestrator + the payload codec's orchestrator-codec and codec-operator; no storage client added.
    expect(again.count).toBe(5);
  });

  test('scopes belong to the audience of their server prefix only', () => {
    expect(audienceFor('data')).toBe('mcp:data');
    expect(scopeBelongsTo('data:read', 'mcp:data')).toBe(true);
    expect(scopeBelongsTo('data/sql_query', 'mcp:data')).toBe(true);
    expect(scopeBelongsTo('database:read', 'mcp:data')).toBe(false);
    expect(scopeBelongsTo('data:read', 'https://evil')).toBe(false);
  });
});
