import crypto from 'node:crypto';
import {
  EnvelopeError,
  gcmOpen,
  gcmSeal,
  openEnvelope,
  parseEnvelope,
  sealEnvelope,
  NONCE_BYTES,
  TAG_BYTES,
  type EnvelopeHeader,
} from '../../../../src/servers/security/envelope';

const k1 = { kid: 'mk-1', key: crypto.randomBytes(32) };
const k2 = { kid: 'mk-2', key: crypto.randomBytes(32) };
const keys = new Map([
  [k1.kid, k1.key],
  [k2.kid, k2.key],
]);
const resolveKey = (kid: string) => keys.get(kid);

/** Rebuilds an envelope with an edited header (what an attacker with write access to the store can do). */
function withHeader(env: Buffer, edit: (h: EnvelopeHeader) => void): Buffer {
  const { header, ciphertext } = parseEnvelope(env);
  edit(header);
  const hb = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(9);
  env.copy(prefix, 0, 0, 5);
  prefix.writeUInt32BE(hb.length, 5);
  return Buffer.concat([prefix, hb, ciphertext]);
}

const attacks = { tried: 0, refused: 0 };
function expectRefused(fn: () => unknown, code: string): void {
  attacks.tried++;
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(EnvelopeError);
  expect((caught as EnvelopeError).code).toBe(code);
  attacks.refused++;
}

afterAll(() => {
  console.log(`AES-GCM envelope attacks tried: ${attacks.tried}, refused: ${attacks.refused}`);
});

describe('envelope encryption (AES-256-GCM)', () => {
  const plaintext = Buffer.from('model weights v2.1 — accuracy 0.943');

  test('when an envelope is opened at its object key with a retained key, then the plaintext comes back', () => {
    const env = sealEnvelope(plaintext, { objectKey: 'models/m.onnx.enc', master: k1 });
    const out = openEnvelope(env, { objectKey: 'models/m.onnx.enc', resolveKey });
    expect(out.plaintext.equals(plaintext)).toBe(true);
    expect(out.kid).toBe('mk-1');
    expect(env.includes(plaintext)).toBe(false);
  });

  test('when the plaintext is empty or large, then it round-trips', () => {
    for (const p of [Buffer.alloc(0), crypto.randomBytes(1024 * 1024 + 3)]) {
      const env = sealEnvelope(p, { objectKey: 'x', master: k2 });
      expect(openEnvelope(env, { objectKey: 'x', resolveKey }).plaintext.equals(p)).toBe(true);
    }
  });

  test('when 5000 envelopes are sealed under one master key, then all 10000 nonces and all data keys are unique and 96-bit', () => {
    const nonces = new Set<string>();
    const wrapped = new Set<string>();
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const { header } = parseEnvelope(
        sealEnvelope(Buffer.from([i & 0xff]), { objectKey: 'same/key', master: k1 }),
      );
      expect(Buffer.from(header.iv, 'base64').length).toBe(NONCE_BYTES);
      expect(Buffer.from(header.tag, 'base64').length).toBe(TAG_BYTES);
      expect(Buffer.from(header.wrapTag, 'base64').length).toBe(TAG_BYTES);
      nonces.add(header.iv);
      nonces.add(header.wrapIv);
      wrapped.add(header.wrappedKey);
    }
    expect(nonces.size).toBe(2 * n);
    expect(wrapped.size).toBe(n);
  });

  test('when the same plaintext is sealed twice, then the ciphertexts differ', () => {
    const a = parseEnvelope(sealEnvelope(plaintext, { objectKey: 'k', master: k1 }));
    const b = parseEnvelope(sealEnvelope(plaintext, { objectKey: 'k', master: k1 }));
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  test('when the master key was rotated, then envelopes sealed under the old key id still open', () => {
    const old = sealEnvelope(plaintext, { objectKey: 'k', master: k1 });
    const fresh = sealEnvelope(plaintext, { objectKey: 'k', master: k2 });
    expect(openEnvelope(old, { objectKey: 'k', resolveKey }).kid).toBe('mk-1');
    expect(openEnvelope(fresh, { objectKey: 'k', resolveKey }).kid).toBe('mk-2');
  });

  describe('tampering is refused', () => {
    const objectKey = 'datasets/customers.parquet.enc';
    const env = sealEnvelope(plaintext, { objectKey, master: k1 });
    const open = (bytes: Buffer, at = objectKey) => openEnvelope(bytes, { objectKey: at, resolveKey });

    test('when any ciphertext byte is flipped, then decryption fails authentication', () => {
      const { ciphertext } = parseEnvelope(env);
      const offset = env.length - ciphertext.length;
      for (let i = 0; i < ciphertext.length; i += 7) {
        const t = Buffer.from(env);
        t[offset + i]! ^= 0x01;
        expectRefused(() => open(t), 'auth_failed');
      }
    });

    test('when the ciphertext is truncated or extended, then decryption fails authentication', () => {
      expectRefused(() => open(env.subarray(0, env.length - 1)), 'auth_failed');
      expectRefused(() => open(Buffer.concat([env, Buffer.from([0])])), 'auth_failed');
    });

    test('when the data tag, wrap tag, nonces or wrapped key are altered, then decryption fails authentication', () => {
      const flip = (b64: string) => {
        const b = Buffer.from(b64, 'base64');
        b[0]! ^= 0x80;
        return b.toString('base64');
      };
      for (const field of ['tag', 'wrapTag', 'iv', 'wrapIv', 'wrappedKey'] as const) {
        expectRefused(() => open(withHeader(env, (h) => (h[field] = flip(h[field])))), 'auth_failed');
      }
    });

    test('when the tag is shortened to 12, 8 or 4 bytes or lengthened to 17, then it is refused as a bad tag length', () => {
      for (const len of [12, 8, 4, 0, 17]) {
        const cut = (b64: string) => {
          const b = Buffer.from(b64, 'base64');
          return (
            len <= b.length ? b.subarray(0, len) : Buffer.concat([b, Buffer.alloc(len - b.length)])
          ).toString('base64');
        };
        expectRefused(() => open(withHeader(env, (h) => (h.tag = cut(h.tag)))), 'bad_tag_length');
        expectRefused(() => open(withHeader(env, (h) => (h.wrapTag = cut(h.wrapTag)))), 'bad_tag_length');
      }
    });

    test('when gcmOpen gets a tag that is not 16 bytes or a nonce that is not 12 bytes, then it refuses', () => {
      const key = crypto.randomBytes(32);
      const aad = Buffer.from('aad');
      const sealed = gcmSeal(key, Buffer.from('hello'), aad);
      expect(gcmOpen(key, sealed, aad).toString()).toBe('hello');
      expectRefused(
        () => gcmOpen(key, { ...sealed, tag: sealed.tag.subarray(0, 15) }, aad),
        'bad_tag_length',
      );
      expectRefused(() => gcmOpen(key, { ...sealed, tag: sealed.tag.subarray(0, 4) }, aad), 'bad_tag_length');
      expectRefused(
        () => gcmOpen(key, { ...sealed, iv: Buffer.concat([sealed.iv, Buffer.alloc(4)]) }, aad),
        'bad_nonce_length',
      );
      expectRefused(() => gcmOpen(key, sealed, Buffer.from('other aad')), 'auth_failed');
    });

    test('when the envelope is read from another object key, then the AAD binding refuses it', () => {
      expectRefused(() => open(env, 'datasets/other.parquet.enc'), 'object_key_mismatch');
      // Also rewriting the header's objectKey to match the new location: the AAD still differs.
      expectRefused(
        () =>
          open(
            withHeader(env, (h) => (h.objectKey = 'datasets/other.parquet.enc')),
            'datasets/other.parquet.enc',
          ),
        'auth_failed',
      );
    });

    test('when the key id is relabelled to another retained key, then the AAD binding refuses it', () => {
      expectRefused(() => open(withHeader(env, (h) => (h.kid = 'mk-2'))), 'auth_failed');
    });

    test('when the key id is unknown, then it is refused as unknown_key', () => {
      expectRefused(() => open(withHeader(env, (h) => (h.kid = 'mk-stolen'))), 'unknown_key');
    });

    test('when the header is garbage, not base64, another algorithm, or the magic is missing, then it is refused as malformed', () => {
      expectRefused(() => open(withHeader(env, (h) => (h.iv = 'not*base64'))), 'malformed');
      expectRefused(
        () => open(withHeader(env, (h) => ((h as { alg: string }).alg = 'A128GCM'))),
        'malformed',
      );
      expectRefused(() => open(Buffer.from('plain text, not an envelope')), 'malformed');
      const badLen = Buffer.from(env);
      badLen.writeUInt32BE(0xffffffff, 5);
      expectRefused(() => open(badLen), 'malformed');
      const badVersion = Buffer.from(env);
      badVersion[4] = 9;
      expectRefused(() => open(badVersion), 'malformed');
    });

    test('when the wrong master key material is behind the key id, then decryption fails authentication', () => {
      expectRefused(
        () => openEnvelope(env, { objectKey, resolveKey: () => crypto.randomBytes(32) }),
        'auth_failed',
      );
    });
  });
});
