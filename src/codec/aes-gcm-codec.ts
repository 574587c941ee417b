import crypto from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/**
 * A Temporal {@link PayloadCodec} that encrypts every payload with AES-256-GCM, so workflow and
 * activity arguments and results are stored encrypted in Temporal's history.
 *
 * Encoded payload: metadata `encoding: binary/encrypted` and `encryption-key-id: <key id>`; data
 * `nonce (12 bytes) | ciphertext | tag (16 bytes)`, where the plaintext is the original payload
 * (metadata and data) in its protobuf encoding, and the key id is authenticated as additional data, so
 * relabelling a payload with another key id fails to decrypt instead of decrypting with the wrong key.
 * Payloads without the encrypted encoding pass through decode unchanged (histories written before the
 * codec was turned on stay readable).
 */

/** `encoding` metadata of an encrypted payload (the name Temporal's samples and UI use). */
export const ENCODING_ENCRYPTED = 'binary/encrypted';
/** Metadata naming the key that encrypted the payload. */
export const METADATA_KEY_ID = 'encryption-key-id';
/** 96-bit nonces: the size GCM is specified for. */
export const NONCE_BYTES = 12;
/** Full 128-bit tags only; truncated tags weaken forgery resistance. */
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;
const AAD_PREFIX = 'mcp-payload/v1\0';

/** One AES-256 key and its id. */
export interface PayloadKey {
  id: string;
  /** 32 raw bytes. */
  key: Uint8Array;
}

/** The keys a codec holds: payloads are encrypted with the active one and decrypted with any of them. */
export interface PayloadKeySet {
  activeKeyId: string;
  keys: PayloadKey[];
}

export type PayloadCodecErrorCode = 'unknown_key' | 'auth_failed' | 'malformed' | 'bad_keys';

/** A payload the codec refuses to decrypt (or keys it refuses to use); `code` says why. */
export class PayloadCodecError extends Error {
  constructor(
    message: string,
    readonly code: PayloadCodecErrorCode,
  ) {
    super(message);
    this.name = 'PayloadCodecError';
  }
}

/** Checks a key set (ids, sizes, active id present) and indexes it by id. */
export function indexKeySet(set: PayloadKeySet): Map<string, Buffer> {
  const byId = new Map<string, Buffer>();
  for (const k of set.keys) {
    if (typeof k.id !== 'string' || k.id === '' || k.id.includes('\0'))
      throw new PayloadCodecError(
        `payload key id ${JSON.stringify(k.id)} is empty or contains NUL`,
        'bad_keys',
      );
    if (k.key.length !== KEY_BYTES)
      throw new PayloadCodecError(
        `payload key ${k.id} is ${k.key.length} bytes; AES-256 needs ${KEY_BYTES}`,
        'bad_keys',
      );
    if (byId.has(k.id)) throw new PayloadCodecError(`payload key id ${k.id} appears twice`, 'bad_keys');
    byId.set(k.id, Buffer.from(k.key));
  }
  if (!byId.has(set.activeKeyId))
    throw new PayloadCodecError(
      `active payload key id ${set.activeKeyId} is not among the keys (${[...byId.keys()].join(', ') || 'none'})`,
      'bad_keys',
    );
  return byId;
}

function aadFor(keyId: string): Buffer {
  return Buffer.from(`${AAD_PREFIX}${keyId}`, 'utf8');
}

function metadataString(payload: Payload, key: string): string | undefined {
  const v = payload.metadata?.[key];
  return v ? Buffer.from(v).toString('utf8') : undefined;
}

/** True when a payload carries the encrypted encoding (whatever its key). */
export function isEncryptedPayload(payload: Payload): boolean {
  return metadataString(payload, 'encoding') === ENCODING_ENCRYPTED;
}

/** Encrypts one payload with `key` (id `keyId`) under a fresh random nonce. */
export function encryptPayload(payload: Payload, keyId: string, key: Buffer): Payload {
  const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
  const nonce = crypto.randomBytes(NONCE_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadFor(keyId));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return {
    metadata: {
      encoding: Buffer.from(ENCODING_ENCRYPTED, 'utf8'),
      [METADATA_KEY_ID]: Buffer.from(keyId, 'utf8'),
    },
    data: Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]),
  };
}

/**
 * Decrypts one encrypted payload; `resolve` returns the key for an id or undefined when unknown.
 * Throws {@link PayloadCodecError} for unknown key ids, truncated data and failed authentication.
 */
export function decryptPayload(payload: Payload, resolve: (keyId: string) => Buffer | undefined): Payload {
  const keyId = metadataString(payload, METADATA_KEY_ID);
  if (!keyId)
    throw new PayloadCodecError(`encrypted payload has no ${METADATA_KEY_ID} metadata`, 'malformed');
  const key = resolve(keyId);
  if (!key)
    throw new PayloadCodecError(
      `payload was encrypted with key id ${keyId}, which this codec does not hold (was it deleted from the security server's codec-keys.json, or written by another installation?)`,
      'unknown_key',
    );
  const data = Buffer.from(payload.data ?? new Uint8Array());
  if (data.length < NONCE_BYTES + TAG_BYTES)
    throw new PayloadCodecError(
      `encrypted payload is ${data.length} bytes, shorter than nonce + tag (${NONCE_BYTES + TAG_BYTES})`,
      'malformed',
    );
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(aadFor(keyId));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([
      decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new PayloadCodecError(
      `encrypted payload (key id ${keyId}) failed authentication: its data or key id was altered, or the key is wrong`,
      'auth_failed',
    );
  }
  try {
    const inner = temporal.api.common.v1.Payload.decode(plaintext);
    return { metadata: inner.metadata, data: inner.data };
  } catch {
    throw new PayloadCodecError(`decrypted payload (key id ${keyId}) is not a protobuf Payload`, 'malformed');
  }
}

export interface AesGcmPayloadCodecOptions {
  keys: PayloadKeySet;
  /**
   * Fetches the current key set (e.g. from the security server). Called when a payload names a key id
   * the codec does not hold (it was rotated in elsewhere), and before encoding once the keys are older
   * than `refreshIntervalMs`. Absent: the keys never change.
   */
  refresh?: () => Promise<PayloadKeySet>;
  /** Re-read the keys this often, so a rotation reaches long-running workers. @default 300000 */
  refreshIntervalMs?: number;
  /** Least time between refreshes triggered by unknown key ids (bounds a flood of bad payloads). @default 5000 */
  unknownKeyRefreshGapMs?: number;
  /** Where a failed background refresh is reported (the codec keeps its old keys). @default stderr */
  onRefreshError?: (err: unknown) => void;
}

/**
 * AES-256-GCM payload codec with key rotation: encodes with the active key, decodes with any key it
 * holds. Give it to every Client and Worker as `dataConverter: { payloadCodecs: [codec] }`.
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  private activeKeyId!: string;
  private keys!: Map<string, Buffer>;
  private loadedAt = 0;
  private lastUnknownRefresh = 0;
  private pending?: Promise<void>;

  constructor(private readonly opts: AesGcmPayloadCodecOptions) {
    this.setKeys(opts.keys);
  }

  /** Replaces the key set (validated first; the old set stays on error). */
  setKeys(set: PayloadKeySet): void {
    const keys = indexKeySet(set);
    this.keys = keys;
    this.activeKeyId = set.activeKeyId;
    this.loadedAt = Date.now();
  }

  /** The key id new payloads are encrypted with. */
  get activeKey(): string {
    return this.activeKeyId;
  }

  /** Ids of all keys held, in the order given. */
  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** Fetches the keys now (single-flight); false when there is no refresh source or it failed. */
  async refreshKeys(): Promise<boolean> {
    const refresh = this.opts.refresh;
    if (!refresh) return false;
    this.pending ??= refresh()
      .then((set) => this.setKeys(set))
      .finally(() => {
        this.pending = undefined;
      });
    try {
      await this.pending;
      return true;
    } catch (err) {
      (this.opts.onRefreshError ?? defaultRefreshError)(err);
      return false;
    }
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    if (this.opts.refresh && Date.now() - this.loadedAt > (this.opts.refreshIntervalMs ?? 300_000)) {
      // On failure the old keys stay in use: still valid, just not the newest.
      await this.refreshKeys();
    }
    const keyId = this.activeKeyId;
    const key = this.keys.get(keyId)!;
    return payloads.map((p) => encryptPayload(p, keyId, key));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    const unknown = payloads.some((p) => {
      if (!isEncryptedPayload(p)) return false;
      const id = metadataString(p, METADATA_KEY_ID);
      return id !== undefined && !this.keys.has(id);
    });
    if (
      unknown &&
      this.opts.refresh &&
      Date.now() - this.lastUnknownRefresh >= (this.opts.unknownKeyRefreshGapMs ?? 5000)
    ) {
      this.lastUnknownRefresh = Date.now();
      await this.refreshKeys();
    }
    return payloads.map((p) => (isEncryptedPayload(p) ? decryptPayload(p, (id) => this.keys.get(id)) : p));
  }
}

function defaultRefreshError(err: unknown): void {
  process.stderr.write(
    `payload codec: key refresh failed, keeping the keys held: ${err instanceof Error ? err.message : String(err)}\n`,
  );
}
