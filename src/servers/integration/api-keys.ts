import crypto from 'node:crypto';
import path from 'node:path';
import { readJsonFile, writeJsonFile } from './json-file';

/** Environments a key can belong to; a key is valid only in its own. */
export const API_KEY_ENVIRONMENTS = ['prod', 'staging'] as const;
export type ApiKeyEnvironment = (typeof API_KEY_ENVIRONMENTS)[number];

/** What is stored about a key: never the key itself, only its SHA-256. */
interface StoredKey {
  id: string;
  env: ApiKeyEnvironment;
  name: string;
  scopes: string[];
  /** Shown in listings so people can tell keys apart: `mk_prod_<id>.<first 4 secret chars>`. */
  prefix: string;
  /** Hex SHA-256 of the full plaintext key. */
  sha256: string;
  createdAt: string;
  expiresAt?: string;
  /** When set, the key stops verifying at this instant (now for revoke, now + grace for rotate). */
  revokedAt?: string;
  revokedReason?: 'revoked' | 'rotated';
  /** The key that replaced this one on rotation. */
  replacedBy?: string;
  /** Idempotency key of the call that created this key (so a retried create makes no second key). */
  createdByCall?: string;
}

interface KeyFile {
  version: 1;
  keys: StoredKey[];
  /** Idempotency key → outcome of revoke/rotate calls, so retries do the effect once across restarts. */
  calls: Record<string, { action: 'rotate' | 'revoke'; keyId: string; newKeyId?: string; at: string }>;
}

/** A key as listed: metadata and prefix, never the secret or its hash. */
export interface ApiKeyInfo {
  id: string;
  env: ApiKeyEnvironment;
  name: string;
  scopes: string[];
  prefix: string;
  status: 'active' | 'revoked' | 'expired' | 'rotating';
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
  replacedBy?: string;
}

export type VerifyOutcome =
  | { valid: true; key: ApiKeyInfo }
  | {
      valid: false;
      reason: 'malformed' | 'unknown' | 'revoked' | 'expired' | 'wrong_environment';
      keyId?: string;
    };

export class ApiKeyError extends Error {
  constructor(
    message: string,
    readonly code: 'not_found' | 'invalid_argument' | 'revoked',
  ) {
    super(message);
    this.name = 'ApiKeyError';
  }
}

const KEY_PATTERN = /^mk_(prod|staging)_([a-z0-9]{12})\.([A-Za-z0-9_-]{43})$/;
/** Plaintexts of recent create/rotate calls, kept only in memory so a retry can still learn its key. */
const PLAINTEXT_REPLAY_MS = 15 * 60_000;

function sha256(s: string): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

/**
 * API keys per environment, stored hashed in `<dataDir>/api-keys.json`. A key is
 * `mk_<env>_<id>.<secret>` with 256 random bits of secret, so a plain SHA-256 is a sound verifier
 * (no dictionary to attack, unlike passwords); verification looks the record up by id and compares
 * hashes in constant time. The plaintext is returned once by create/rotate and never stored.
 */
export class ApiKeyStore {
  private readonly file: string;
  private state: KeyFile;
  private readonly recentPlaintext = new Map<string, { plaintext: string; until: number }>();

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'api-keys.json');
    this.state = readJsonFile<KeyFile>(this.file, { version: 1, keys: [], calls: {} });
    this.state.calls ??= {};
  }

  private save(): void {
    writeJsonFile(this.file, this.state);
  }

  private static status(k: StoredKey, now = Date.now()): ApiKeyInfo['status'] {
    if (k.revokedAt && Date.parse(k.revokedAt) <= now) return 'revoked';
    if (k.expiresAt && Date.parse(k.expiresAt) <= now) return 'expired';
    if (k.revokedAt) return 'rotating';
    return 'active';
  }

  private static info(k: StoredKey): ApiKeyInfo {
    return {
      id: k.id,
      env: k.env,
      name: k.name,
      scopes: k.scopes,
      prefix: k.prefix,
      status: ApiKeyStore.status(k),
      createdAt: k.createdAt,
      expiresAt: k.expiresAt,
      revokedAt: k.revokedAt,
      replacedBy: k.replacedBy,
    };
  }

  private find(id: string): StoredKey {
    const k = this.state.keys.find((x) => x.id === id);
    if (!k) throw new ApiKeyError(`keyId "${id}" does not exist; list keys with action "list"`, 'not_found');
    return k;
  }

  private rememberPlaintext(callKey: string | undefined, plaintext: string): void {
    if (!callKey) return;
    const now = Date.now();
    for (const [k, v] of this.recentPlaintext) if (v.until < now) this.recentPlaintext.delete(k);
    this.recentPlaintext.set(callKey, { plaintext, until: now + PLAINTEXT_REPLAY_MS });
  }

  private replayPlaintext(callKey: string): string | undefined {
    const hit = this.recentPlaintext.get(callKey);
    return hit && hit.until >= Date.now() ? hit.plaintext : undefined;
  }

  private mint(
    env: ApiKeyEnvironment,
    name: string,
    scopes: string[],
    expiresAt?: string,
  ): { record: StoredKey; plaintext: string } {
    let id: string;
    do
      id = crypto
        .randomBytes(9)
        .toString('base64url')
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '0')
        .slice(0, 12);
    while (this.state.keys.some((k) => k.id === id));
    const secret = crypto.randomBytes(32).toString('base64url');
    const plaintext = `mk_${env}_${id}.${secret}`;
    const record: StoredKey = {
      id,
      env,
      name,
      scopes,
      prefix: `mk_${env}_${id}.${secret.slice(0, 4)}`,
      sha256: sha256(plaintext),
      createdAt: new Date().toISOString(),
      expiresAt,
    };
    return { record, plaintext };
  }

  /**
   * Creates a key. With `callKey` (the MCP idempotency key) a retried call returns the same key rather
   * than minting a second one; its plaintext is replayed only within 15 minutes and in this process.
   */
  create(
    input: { env: ApiKeyEnvironment; name: string; scopes?: string[]; expiresInDays?: number },
    callKey?: string,
  ): { key: ApiKeyInfo; plaintext?: string; replayed: boolean } {
    if (callKey) {
      const prior = this.state.keys.find((k) => k.createdByCall === callKey);
      if (prior)
        return { key: ApiKeyStore.info(prior), plaintext: this.replayPlaintext(callKey), replayed: true };
    }
    const expiresAt = input.expiresInDays
      ? new Date(Date.now() + input.expiresInDays * 86_400_000).toISOString()
      : undefined;
    const { record, plaintext } = this.mint(input.env, input.name, input.scopes ?? [], expiresAt);
    record.createdByCall = callKey;
    this.state.keys.push(record);
    this.save();
    this.rememberPlaintext(callKey, plaintext);
    return { key: ApiKeyStore.info(record), plaintext, replayed: false };
  }

  /** Lists keys (newest first), optionally for one environment, without revoked ones unless asked. */
  list(filter: { env?: ApiKeyEnvironment; includeRevoked?: boolean; limit: number }): {
    keys: ApiKeyInfo[];
    total: number;
  } {
    const all = this.state.keys
      .filter((k) => !filter.env || k.env === filter.env)
      .map(ApiKeyStore.info)
      .filter((k) => filter.includeRevoked || (k.status !== 'revoked' && k.status !== 'expired'))
      .reverse();
    return { keys: all.slice(0, filter.limit), total: all.length };
  }

  /**
   * Replaces a key with a new secret (new id, same name, env and scopes). The old key keeps working for
   * `graceSeconds` so callers can switch over, then stops.
   */
  rotate(
    keyId: string,
    graceSeconds: number,
    callKey?: string,
  ): { key: ApiKeyInfo; plaintext?: string; replaced: ApiKeyInfo; replayed: boolean } {
    const prior = callKey ? this.state.calls[callKey] : undefined;
    if (prior && prior.action === 'rotate' && prior.newKeyId) {
      return {
        key: ApiKeyStore.info(this.find(prior.newKeyId)),
        plaintext: this.replayPlaintext(callKey as string),
        replaced: ApiKeyStore.info(this.find(prior.keyId)),
        replayed: true,
      };
    }
    const old = this.find(keyId);
    const status = ApiKeyStore.status(old);
    if (status !== 'active')
      throw new ApiKeyError(
        `keyId "${keyId}" is ${status}; only an active key can be rotated (create a new one instead)`,
        'revoked',
      );
    const { record, plaintext } = this.mint(old.env, old.name, old.scopes, old.expiresAt);
    old.revokedAt = new Date(Date.now() + graceSeconds * 1000).toISOString();
    old.revokedReason = 'rotated';
    old.replacedBy = record.id;
    this.state.keys.push(record);
    if (callKey)
      this.state.calls[callKey] = {
        action: 'rotate',
        keyId,
        newKeyId: record.id,
        at: new Date().toISOString(),
      };
    this.save();
    this.rememberPlaintext(callKey, plaintext);
    return { key: ApiKeyStore.info(record), plaintext, replaced: ApiKeyStore.info(old), replayed: false };
  }

  /** Revokes a key now. Revoking an already revoked key changes nothing and says so. */
  revoke(keyId: string, callKey?: string): { key: ApiKeyInfo; alreadyRevoked: boolean; replayed: boolean } {
    const prior = callKey ? this.state.calls[callKey] : undefined;
    if (prior && prior.action === 'revoke')
      return { key: ApiKeyStore.info(this.find(prior.keyId)), alreadyRevoked: false, replayed: true };
    const k = this.find(keyId);
    const alreadyRevoked = ApiKeyStore.status(k) === 'revoked';
    if (!alreadyRevoked) {
      k.revokedAt = new Date().toISOString();
      k.revokedReason = 'revoked';
    }
    if (callKey) this.state.calls[callKey] = { action: 'revoke', keyId, at: new Date().toISOString() };
    this.save();
    return { key: ApiKeyStore.info(k), alreadyRevoked, replayed: false };
  }

  /** Checks a presented key: format, existence, hash (constant time), revocation, expiry, environment. */
  verify(plaintext: string, env?: ApiKeyEnvironment): VerifyOutcome {
    const m = KEY_PATTERN.exec(plaintext.trim());
    if (!m) return { valid: false, reason: 'malformed' };
    const id = m[2] as string;
    const k = this.state.keys.find((x) => x.id === id);
    if (!k) return { valid: false, reason: 'unknown' };
    const given = Buffer.from(sha256(plaintext.trim()), 'hex');
    const expected = Buffer.from(k.sha256, 'hex');
    if (!crypto.timingSafeEqual(given, expected)) return { valid: false, reason: 'unknown' };
    const status = ApiKeyStore.status(k);
    if (status === 'revoked') return { valid: false, reason: 'revoked', keyId: k.id };
    if (status === 'expired') return { valid: false, reason: 'expired', keyId: k.id };
    if (env && k.env !== env) return { valid: false, reason: 'wrong_environment', keyId: k.id };
    return { valid: true, key: ApiKeyStore.info(k) };
  }

  /** Counts by status, for server_info. */
  counts(): { total: number; active: number; byEnv: Record<ApiKeyEnvironment, number> } {
    const byEnv: Record<ApiKeyEnvironment, number> = { prod: 0, staging: 0 };
    let active = 0;
    for (const k of this.state.keys) {
      const s = ApiKeyStore.status(k);
      if (s === 'active' || s === 'rotating') {
        active++;
        byEnv[k.env]++;
      }
    }
    return { total: this.state.keys.length, active, byEnv };
  }
}
