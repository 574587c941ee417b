import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiKeyError, ApiKeyStore } from '../../../../src/servers/integration/api-keys';

describe('ApiKeyStore', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'integration-keys-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('when a key is created, then only its hash reaches disk and it verifies in its environment only', () => {
    const store = new ApiKeyStore(dir);
    const { key, plaintext } = store.create({ env: 'prod', name: 'ci', scopes: ['read'] });
    expect(plaintext).toMatch(/^mk_prod_[a-z0-9]{12}\.[A-Za-z0-9_-]{43}$/);
    const onDisk = fs.readFileSync(path.join(dir, 'api-keys.json'), 'utf8');
    expect(onDisk).not.toContain(plaintext!.split('.')[1]);
    expect((fs.statSync(path.join(dir, 'api-keys.json')).mode & 0o777).toString(8)).toBe('600');
    expect(store.verify(plaintext!)).toMatchObject({ valid: true, key: { id: key.id, scopes: ['read'] } });
    expect(store.verify(plaintext!, 'staging')).toEqual({
      valid: false,
      reason: 'wrong_environment',
      keyId: key.id,
    });
    expect(new ApiKeyStore(dir).verify(plaintext!).valid).toBe(true);
  });

  it('when a key is altered or garbage, then it does not verify', () => {
    const store = new ApiKeyStore(dir);
    const { plaintext } = store.create({ env: 'staging', name: 'x' });
    const last = plaintext!.at(-1) === 'A' ? 'B' : 'A';
    expect(store.verify(plaintext!.slice(0, -1) + last)).toEqual({ valid: false, reason: 'unknown' });
    expect(store.verify('hello')).toEqual({ valid: false, reason: 'malformed' });
  });

  it('when a create is retried with the same call key, then no second key is made and the plaintext is replayed', () => {
    const store = new ApiKeyStore(dir);
    const a = store.create({ env: 'prod', name: 'x' }, 'wf-1:step-1');
    const b = store.create({ env: 'prod', name: 'x' }, 'wf-1:step-1');
    expect(b).toMatchObject({ replayed: true, plaintext: a.plaintext, key: { id: a.key.id } });
    expect(store.list({ limit: 10 }).total).toBe(1);
    // After a restart the plaintext is gone (never on disk) but the effect is still not repeated.
    const c = new ApiKeyStore(dir).create({ env: 'prod', name: 'x' }, 'wf-1:step-1');
    expect(c.replayed).toBe(true);
    expect(c.plaintext).toBeUndefined();
  });

  it('when a key is rotated with a grace period, then both work until the grace ends, then only the new one', () => {
    const store = new ApiKeyStore(dir);
    const old = store.create({ env: 'prod', name: 'svc' });
    const r = store.rotate(old.key.id, 3600);
    expect(r.replaced.status).toBe('rotating');
    expect(store.verify(old.plaintext!).valid).toBe(true);
    expect(store.verify(r.plaintext!).valid).toBe(true);
    const immediate = store.rotate(r.key.id, 0);
    expect(store.verify(r.plaintext!)).toMatchObject({ valid: false, reason: 'revoked' });
    expect(store.verify(immediate.plaintext!).valid).toBe(true);
  });

  it('when a key is revoked, then it stops verifying and a second revoke reports alreadyRevoked', () => {
    const store = new ApiKeyStore(dir);
    const k = store.create({ env: 'prod', name: 'svc' });
    expect(store.revoke(k.key.id).alreadyRevoked).toBe(false);
    expect(store.verify(k.plaintext!)).toMatchObject({ valid: false, reason: 'revoked' });
    expect(store.revoke(k.key.id).alreadyRevoked).toBe(true);
    expect(() => store.rotate(k.key.id, 0)).toThrow(ApiKeyError);
    expect(() => store.revoke('nope')).toThrow(/nope/);
    expect(store.list({ limit: 10 }).total).toBe(0);
    expect(store.list({ limit: 10, includeRevoked: true }).keys[0]).not.toHaveProperty('sha256');
  });
});
