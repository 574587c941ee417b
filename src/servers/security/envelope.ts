import crypto from 'node:crypto';

/**
 * AES-256-GCM envelope encryption of byte buffers, with no I/O: a fresh random data key per object
 * encrypts the bytes, and a master key (named by a key id) wraps the data key. Rotating the master key
 * therefore never re-encrypts data: old envelopes name their key id and stay readable while it is
 * retained.
 *
 * Wire format (all integers big-endian):
 * `"MCPE"` | version u8 (=1) | header length u32 | header JSON (UTF-8) | ciphertext
 * Header: `{ alg: "A256GCM", kid, objectKey, iv, tag, wrapIv, wrapTag, wrappedKey }` (binary fields base64).
 *
 * Both GCM operations authenticate `objectKey` and `kid` as additional data, so a ciphertext copied to
 * another object key, or relabelled with another key id, fails to decrypt.
 */
export const ENVELOPE_MAGIC = Buffer.from('MCPE', 'ascii');
export const ENVELOPE_VERSION = 1;
export const ENVELOPE_ALG = 'A256GCM';
/** 96-bit nonces: the size GCM is specified for (no GHASH-derived counter). */
export const NONCE_BYTES = 12;
/** Only full 128-bit tags are produced or accepted; truncated tags weaken forgery resistance. */
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;
const PREFIX_BYTES = ENVELOPE_MAGIC.length + 1 + 4;
/** A header is a few hundred bytes; a larger length field is a corrupt or hostile envelope. */
const MAX_HEADER_BYTES = 16 * 1024;

export type EnvelopeErrorCode =
  'malformed' | 'unknown_key' | 'auth_failed' | 'bad_tag_length' | 'bad_nonce_length' | 'object_key_mismatch';

/** A refusal to open an envelope; `code` says why, the message says what to check. */
export class EnvelopeError extends Error {
  constructor(
    message: string,
    readonly code: EnvelopeErrorCode,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

export interface MasterKey {
  kid: string;
  /** 32 raw bytes. */
  key: Buffer;
}

export interface EnvelopeHeader {
  alg: typeof ENVELOPE_ALG;
  kid: string;
  objectKey: string;
  iv: string;
  tag: string;
  wrapIv: string;
  wrapTag: string;
  wrappedKey: string;
}

export interface GcmSealed {
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/** One AES-256-GCM encryption with a fresh random 96-bit nonce and a 16-byte tag. */
export function gcmSeal(key: Buffer, plaintext: Uint8Array, aad: Buffer): GcmSealed {
  if (key.length !== KEY_BYTES)
    throw new RangeError(`AES-256 needs a ${KEY_BYTES}-byte key, got ${key.length}`);
  const iv = crypto.randomBytes(NONCE_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** One AES-256-GCM decryption; refuses nonces other than 12 bytes and tags other than 16 bytes. */
export function gcmOpen(key: Buffer, sealed: GcmSealed, aad: Buffer): Buffer {
  if (key.length !== KEY_BYTES)
    throw new RangeError(`AES-256 needs a ${KEY_BYTES}-byte key, got ${key.length}`);
  if (sealed.iv.length !== NONCE_BYTES) {
    throw new EnvelopeError(
      `nonce is ${sealed.iv.length} bytes; only ${NONCE_BYTES}-byte nonces are accepted`,
      'bad_nonce_length',
    );
  }
  // Checked here as well as by authTagLength: Node would otherwise accept a 4..15-byte tag on some versions.
  if (sealed.tag.length !== TAG_BYTES) {
    throw new EnvelopeError(
      `authentication tag is ${sealed.tag.length} bytes; only ${TAG_BYTES}-byte tags are accepted`,
      'bad_tag_length',
    );
  }
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  try {
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    throw new EnvelopeError(
      'authentication failed: ciphertext, tag, nonce, key id or object key were altered, or the wrong key was used',
      'auth_failed',
    );
  }
}

/** Additional data binding an envelope to where it lives and which master key wrapped it. */
export function envelopeAad(purpose: 'data' | 'dek', objectKey: string, kid: string): Buffer {
  // NUL separators: neither field can contain NUL, so distinct pairs never produce the same bytes.
  if (objectKey.includes('\0') || kid.includes('\0'))
    throw new EnvelopeError('object key and key id must not contain NUL', 'malformed');
  return Buffer.from(`mcp-envelope/v${ENVELOPE_VERSION}/${purpose}\0${objectKey}\0${kid}`, 'utf8');
}

/** Encrypts `plaintext` for storage at `objectKey` under `master`; returns the envelope bytes. */
export function sealEnvelope(plaintext: Uint8Array, opts: { objectKey: string; master: MasterKey }): Buffer {
  const { objectKey, master } = opts;
  const dataKey = crypto.randomBytes(KEY_BYTES);
  try {
    const data = gcmSeal(dataKey, plaintext, envelopeAad('data', objectKey, master.kid));
    const wrap = gcmSeal(master.key, dataKey, envelopeAad('dek', objectKey, master.kid));
    const header: EnvelopeHeader = {
      alg: ENVELOPE_ALG,
      kid: master.kid,
      objectKey,
      iv: data.iv.toString('base64'),
      tag: data.tag.toString('base64'),
      wrapIv: wrap.iv.toString('base64'),
      wrapTag: wrap.tag.toString('base64'),
      wrappedKey: wrap.ciphertext.toString('base64'),
    };
    const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
    const prefix = Buffer.alloc(PREFIX_BYTES);
    ENVELOPE_MAGIC.copy(prefix, 0);
    prefix.writeUInt8(ENVELOPE_VERSION, ENVELOPE_MAGIC.length);
    prefix.writeUInt32BE(headerBytes.length, ENVELOPE_MAGIC.length + 1);
    return Buffer.concat([prefix, headerBytes, data.ciphertext]);
  } finally {
    dataKey.fill(0);
  }
}

/** Strict base64: `Buffer.from` silently skips bad characters, which would hide tampering. */
function b64(field: string, value: unknown): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new EnvelopeError(`envelope header field ${field} is not base64`, 'malformed');
  }
  return Buffer.from(value, 'base64');
}

/** True when the bytes start like an envelope (cheap check before fetching keys). */
export function looksLikeEnvelope(bytes: Uint8Array): boolean {
  return (
    bytes.length >= PREFIX_BYTES &&
    Buffer.from(bytes.subarray(0, ENVELOPE_MAGIC.length)).equals(ENVELOPE_MAGIC)
  );
}

/** Parses the header without decrypting (to learn the key id, or to report on an envelope). */
export function parseEnvelope(bytes: Uint8Array): { header: EnvelopeHeader; ciphertext: Buffer } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!looksLikeEnvelope(buf))
    throw new EnvelopeError(
      'not an envelope: missing MCPE magic bytes (was this object encrypted by the security server?)',
      'malformed',
    );
  const version = buf.readUInt8(ENVELOPE_MAGIC.length);
  if (version !== ENVELOPE_VERSION)
    throw new EnvelopeError(
      `unsupported envelope version ${version} (this server reads version ${ENVELOPE_VERSION})`,
      'malformed',
    );
  const headerLen = buf.readUInt32BE(ENVELOPE_MAGIC.length + 1);
  if (headerLen > MAX_HEADER_BYTES || PREFIX_BYTES + headerLen > buf.length)
    throw new EnvelopeError(`envelope header length ${headerLen} is out of range`, 'malformed');
  let raw: unknown;
  try {
    raw = JSON.parse(buf.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLen).toString('utf8'));
  } catch {
    throw new EnvelopeError('envelope header is not valid JSON', 'malformed');
  }
  const h = raw as Partial<EnvelopeHeader>;
  if (typeof h !== 'object' || h === null)
    throw new EnvelopeError('envelope header is not an object', 'malformed');
  if (h.alg !== ENVELOPE_ALG)
    throw new EnvelopeError(
      `envelope algorithm ${String(h.alg)} is not accepted (only ${ENVELOPE_ALG})`,
      'malformed',
    );
  if (typeof h.kid !== 'string' || h.kid === '')
    throw new EnvelopeError('envelope header has no key id', 'malformed');
  if (typeof h.objectKey !== 'string')
    throw new EnvelopeError('envelope header has no object key', 'malformed');
  for (const f of ['iv', 'tag', 'wrapIv', 'wrapTag', 'wrappedKey'] as const) b64(f, h[f]);
  return { header: h as EnvelopeHeader, ciphertext: buf.subarray(PREFIX_BYTES + headerLen) };
}

/**
 * Decrypts an envelope read from `objectKey`. `resolveKey` returns the master key for a key id, or
 * undefined when that key id is unknown (never retained, or from another installation).
 */
export function openEnvelope(
  bytes: Uint8Array,
  opts: { objectKey: string; resolveKey: (kid: string) => Buffer | undefined },
): { plaintext: Buffer; kid: string } {
  const { header, ciphertext } = parseEnvelope(bytes);
  if (header.objectKey !== opts.objectKey) {
    throw new EnvelopeError(
      `envelope was sealed for object key "${header.objectKey}" but read from "${opts.objectKey}"; ciphertexts are bound to their object key, decrypt it at its original key`,
      'object_key_mismatch',
    );
  }
  const master = opts.resolveKey(header.kid);
  if (!master)
    throw new EnvelopeError(
      `master key id ${header.kid} is not known to this server (retained key ids only)`,
      'unknown_key',
    );
  const dataKey = gcmOpen(
    master,
    {
      iv: b64('wrapIv', header.wrapIv),
      tag: b64('wrapTag', header.wrapTag),
      ciphertext: b64('wrappedKey', header.wrappedKey),
    },
    envelopeAad('dek', opts.objectKey, header.kid),
  );
  try {
    if (dataKey.length !== KEY_BYTES)
      throw new EnvelopeError(
        `unwrapped data key is ${dataKey.length} bytes, expected ${KEY_BYTES}`,
        'malformed',
      );
    const plaintext = gcmOpen(
      dataKey,
      { iv: b64('iv', header.iv), tag: b64('tag', header.tag), ciphertext },
      envelopeAad('data', opts.objectKey, header.kid),
    );
    return { plaintext, kid: header.kid };
  } finally {
    dataKey.fill(0);
  }
}
