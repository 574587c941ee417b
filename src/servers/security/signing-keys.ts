import crypto from 'node:crypto';
import path from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike } from 'jose';
import { assertOwnerOnly, readJsonFile, writeSecretFile } from './secret-files';

/** Algorithm of every token this server signs: ECDSA P-256 with SHA-256. */
export const SIGNING_ALG = 'ES256';

interface SigningKeyFile {
  active: string;
  /** Published in the JWKS before it signs anything, so verifiers already hold it when it becomes active. */
  next?: string;
  keys: { kid: string; createdAt: string; privateJwk: JWK }[];
}

/** How many previous signing keys stay in the JWKS after rotation (tokens signed by them still verify). */
export const RETAINED_SIGNING_KEYS = 4;

/**
 * Token signing keys in `<dataDir>/keys/signing-keys.json` (0600), generated on first start. The JWKS
 * publishes the public half of the active key, of up to {@link RETAINED_SIGNING_KEYS} older ones (tokens
 * issued before a rotation keep verifying until they expire) and of the *next* key. Rotation promotes
 * the next key, which every verifier that fetched the JWKS since the last rotation already caches, so
 * tokens signed right after a rotation do not wait for a JWKS refetch (jose refetches at most every 30 s).
 */
export class SigningKeyRing {
  private state: SigningKeyFile = { active: '', keys: [] };
  private privateKeys = new Map<string, KeyLike>();

  private constructor(readonly file: string) {}

  static async open(dataDir: string): Promise<SigningKeyRing> {
    const ring = new SigningKeyRing(path.join(dataDir, 'keys', 'signing-keys.json'));
    const existing = readJsonFile<SigningKeyFile>(ring.file);
    if (existing) {
      assertOwnerOnly(ring.file);
      ring.state = existing;
      for (const k of existing.keys)
        ring.privateKeys.set(k.kid, (await importJWK(k.privateJwk, SIGNING_ALG)) as KeyLike);
      if (!ring.privateKeys.has(existing.active))
        throw new Error(`${ring.file}: active kid ${existing.active} is not among its keys`);
      if (!existing.next || !ring.privateKeys.has(existing.next)) await ring.addNext();
    } else {
      await ring.rotate();
    }
    return ring;
  }

  /** The key and kid new tokens are signed with. */
  active(): { kid: string; key: KeyLike } {
    return { kid: this.state.active, key: this.privateKeys.get(this.state.active)! };
  }

  /** Key ids in the JWKS, oldest first (the last one is the pre-published next key). */
  kids(): string[] {
    return this.state.keys.map((k) => k.kid);
  }

  /** The pre-published key the next rotation will activate. */
  nextKid(): string | undefined {
    return this.state.next;
  }

  private async generate(): Promise<{
    kid: string;
    createdAt: string;
    privateJwk: JWK;
    privateKey: KeyLike;
  }> {
    const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const createdAt = new Date().toISOString();
    const kid = `sk-${createdAt.slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(6).toString('hex')}`;
    return { kid, createdAt, privateJwk: await exportJWK(privateKey), privateKey };
  }

  private async addNext(): Promise<void> {
    const n = await this.generate();
    const next: SigningKeyFile = {
      active: this.state.active,
      next: n.kid,
      keys: [...this.state.keys, { kid: n.kid, createdAt: n.createdAt, privateJwk: n.privateJwk }],
    };
    writeSecretFile(this.file, JSON.stringify(next, null, 2));
    this.state = next;
    this.privateKeys.set(n.kid, n.privateKey);
  }

  /** Public JWKS document (`/.well-known/jwks.json`). */
  jwks(): { keys: JWK[] } {
    return {
      keys: this.state.keys.map(({ kid, privateJwk }) => {
        // Only the public members of an EC key: never d.
        const { kty, crv, x, y } = privateJwk;
        return { kty, crv, x, y, kid, alg: SIGNING_ALG, use: 'sig' };
      }),
    };
  }

  /**
   * Activates the pre-published next key (or a new one on first start) and pre-publishes a new next
   * key; keys older than the retention count leave the JWKS.
   */
  async rotate(): Promise<{ kid: string; previousKid?: string; retiredKids: string[] }> {
    const previousKid = this.state.active || undefined;
    const fresh: { kid: string; createdAt: string; privateJwk: JWK; privateKey: KeyLike }[] = [];
    let activeKid = this.state.next;
    if (!activeKid) {
      const a = await this.generate();
      fresh.push(a);
      activeKid = a.kid;
    }
    const n = await this.generate();
    fresh.push(n);
    const keys = [
      ...this.state.keys,
      ...fresh.map(({ kid, createdAt, privateJwk }) => ({ kid, createdAt, privateJwk })),
    ];
    // Retained: RETAINED_SIGNING_KEYS older keys + active + next.
    const retired = keys.slice(0, Math.max(0, keys.length - (RETAINED_SIGNING_KEYS + 2)));
    const next: SigningKeyFile = { active: activeKid, next: n.kid, keys: keys.slice(retired.length) };
    writeSecretFile(this.file, JSON.stringify(next, null, 2));
    this.state = next;
    for (const f of fresh) this.privateKeys.set(f.kid, f.privateKey);
    for (const r of retired) this.privateKeys.delete(r.kid);
    return { kid: activeKid, previousKid, retiredKids: retired.map((r) => r.kid) };
  }
}
