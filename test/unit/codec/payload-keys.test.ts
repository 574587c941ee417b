import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClientRegistry, CODEC_AUDIENCE } from '../../../src/servers/security/clients';
import { MasterKeyRing } from '../../../src/servers/security/master-keys';
import { PayloadKeyRing } from '../../../src/servers/security/payload-keys';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payload-keys-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('payload key ring (security server)', () => {
  test('when first opened, then one 32-byte key exists, stored wrapped in a 0600 file that does not contain it', () => {
    const ring = new PayloadKeyRing(dir, new MasterKeyRing(dir));
    const [k] = ring.all();
    expect(k!.key).toHaveLength(32);
    expect(ring.kids()).toEqual([ring.activeKid()]);
    const file = fs.readFileSync(ring.file, 'utf8');
    expect(file).not.toContain(k!.key.toString('base64'));
    expect(fs.statSync(ring.file).mode & 0o777).toBe(0o600);
  });

  test('when rotated after a master key rotation and reopened, then every key unwraps to the same bytes and the new one is active', () => {
    const masters = new MasterKeyRing(dir);
    const ring = new PayloadKeyRing(dir, masters);
    const first = ring.all()[0]!;
    masters.rotate();
    const r = ring.rotate();
    expect(r.previousKid).toBe(first.kid);
    const reopened = new PayloadKeyRing(dir, new MasterKeyRing(dir));
    expect(reopened.activeKid()).toBe(r.kid);
    const keys = reopened.all();
    expect(keys.map((k) => k.kid)).toEqual([first.kid, r.kid]);
    expect(keys[0]!.key.equals(first.key)).toBe(true);
    expect(keys[1]!.key.equals(first.key)).toBe(false);
  });

  test('when a wrapped key is altered on disk, then opening the ring fails', () => {
    const ring = new PayloadKeyRing(dir, new MasterKeyRing(dir));
    const doc = JSON.parse(fs.readFileSync(ring.file, 'utf8')) as { keys: { kid: string }[] };
    doc.keys[0]!.kid = 'pk-relabelled';
    (doc as { active?: string }).active = 'pk-relabelled';
    fs.writeFileSync(ring.file, JSON.stringify(doc), { mode: 0o600 });
    expect(() => new PayloadKeyRing(dir, new MasterKeyRing(dir))).toThrow(/authentication failed/);
  });
});

describe('codec clients', () => {
  test('when a registry from before the codec is reopened, then the two codec clients are added once and existing secrets are kept', async () => {
    await ClientRegistry.open(dir, ['data']);
    // Simulate the old layout: drop the codec clients from both files.
    const strip = (file: string) => {
      const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { clients: { clientId: string; audiences: string[] }[] };
      doc.clients = doc.clients.filter((c) => !c.audiences.includes(CODEC_AUDIENCE));
      fs.writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
      return doc.clients;
    };
    strip(path.join(dir, 'clients.json'));
    const oldSecrets = strip(path.join(dir, 'clients.secret.json')) as unknown as { clientId: string; clientSecret: string }[];
    const reg = await ClientRegistry.open(dir, ['data']);
    expect(reg.ids().sort()).toEqual(['codec-operator', 'orchestrator', 'orchestrator-codec', 'orchestrator-data']);
    const secrets = JSON.parse(fs.readFileSync(path.join(dir, 'clients.secret.json'), 'utf8')) as { clients: { clientId: string; clientSecret: string; scopes: string[] }[] };
    for (const old of oldSecrets) expect(secrets.clients.find((c) => c.clientId === old.clientId)?.clientSecret).toBe(old.clientSecret);
    const codec = secrets.clients.find((c) => c.clientId === 'orchestrator-codec')!;
    expect(codec.scopes).toEqual(['codec:keys']);
    expect((await reg.verify('orchestrator-codec', codec.clientSecret))?.clientId).toBe('orchestrator-codec');
    expect((await ClientRegistry.open(dir, ['data'])).count).toBe(4);
  });
});
