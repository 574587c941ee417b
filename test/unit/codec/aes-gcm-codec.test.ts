import crypto from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  AesGcmPayloadCodec,
  ENCODING_ENCRYPTED,
  METADATA_KEY_ID,
  NONCE_BYTES,
  PayloadCodecError,
  TAG_BYTES,
  type PayloadKeySet,
} from '../../../src/codec/aes-gcm-codec';
import { CodecRequestError, payloadsFromJson, payloadsToJson } from '../../../src/codec/remote-codec-json';

const MARKER = 'secret-marker-7f3a';
const key = (id: string) => ({ id, key: crypto.randomBytes(32) });
const json = (v: unknown): Payload => defaultPayloadConverter.toPayload(v);
const value = (p: Payload): unknown => defaultPayloadConverter.fromPayload(p);
const meta = (p: Payload, k: string) => Buffer.from(p.metadata![k]!).toString('utf8');

describe('AES-256-GCM payload codec', () => {
  const k1 = key('pk-1');
  const set: PayloadKeySet = { activeKeyId: 'pk-1', keys: [k1] };

  test('when a payload is encoded and decoded, then the value comes back and the stored form shows neither value nor original metadata', async () => {
    const codec = new AesGcmPayloadCodec({ keys: set });
    const original = json({ sql: `SELECT '${MARKER}'`, n: 42 });
    const [enc] = await codec.encode([original]);
    expect(meta(enc!, 'encoding')).toBe(ENCODING_ENCRYPTED);
    expect(meta(enc!, METADATA_KEY_ID)).toBe('pk-1');
    expect(Object.keys(enc!.metadata!).sort()).toEqual(['encoding', METADATA_KEY_ID]);
    expect(Buffer.from(enc!.data!).toString('latin1')).not.toContain(MARKER);
    expect(Buffer.from(enc!.data!).toString('latin1')).not.toContain('json/plain');
    // nonce | ciphertext of the protobuf-encoded original (GCM adds no padding) | tag
    expect(enc!.data!.length).toBe(NONCE_BYTES + temporal.api.common.v1.Payload.encode(original).finish().length + TAG_BYTES);
    const [dec] = await codec.decode([enc!]);
    expect(value(dec!)).toEqual({ sql: `SELECT '${MARKER}'`, n: 42 });
    expect(meta(dec!, 'encoding')).toBe('json/plain');
  });

  test('when the same payload is encoded many times, then every nonce and ciphertext differs', async () => {
    const codec = new AesGcmPayloadCodec({ keys: set });
    const p = json({ same: true });
    const out = await codec.encode(Array.from({ length: 500 }, () => p));
    const nonces = new Set(out.map((e) => Buffer.from(e.data!).subarray(0, NONCE_BYTES).toString('hex')));
    const datas = new Set(out.map((e) => Buffer.from(e.data!).toString('hex')));
    expect(nonces.size).toBe(500);
    expect(datas.size).toBe(500);
  });

  test('when a ciphertext byte, the tag or the nonce is altered, then decode refuses with auth_failed', async () => {
    const codec = new AesGcmPayloadCodec({ keys: set });
    const [enc] = await codec.encode([json({ MARKER })]);
    const data = Buffer.from(enc!.data!);
    for (const index of [0, NONCE_BYTES, data.length - 1]) {
      const bad = Buffer.from(data);
      bad[index] = bad[index]! ^ 0x01;
      await expect(codec.decode([{ ...enc!, data: bad }])).rejects.toMatchObject({ name: 'PayloadCodecError', code: 'auth_failed' });
    }
    await expect(codec.decode([{ ...enc!, data: data.subarray(0, NONCE_BYTES + TAG_BYTES - 1) }])).rejects.toMatchObject({ code: 'malformed' });
  });

  test('when a payload is relabelled with another known key id, then decode refuses instead of decrypting with the wrong key', async () => {
    const k2 = key('pk-2');
    const codec = new AesGcmPayloadCodec({ keys: { activeKeyId: 'pk-1', keys: [k1, k2] } });
    const [enc] = await codec.encode([json('x')]);
    const relabelled = { ...enc!, metadata: { ...enc!.metadata, [METADATA_KEY_ID]: Buffer.from('pk-2') } };
    await expect(codec.decode([relabelled])).rejects.toMatchObject({ code: 'auth_failed' });
    // Same key material under another id: only the AAD binding catches it.
    const twin = new AesGcmPayloadCodec({ keys: { activeKeyId: 'pk-1', keys: [k1, { id: 'pk-twin', key: k1.key }] } });
    const [enc2] = await twin.encode([json('y')]);
    await expect(twin.decode([{ ...enc2!, metadata: { ...enc2!.metadata, [METADATA_KEY_ID]: Buffer.from('pk-twin') } }])).rejects.toMatchObject({ code: 'auth_failed' });
  });

  test('when a payload names a key id the codec does not hold, then decode refuses with a message naming the id', async () => {
    const other = new AesGcmPayloadCodec({ keys: { activeKeyId: 'pk-other', keys: [key('pk-other')] } });
    const [enc] = await other.encode([json('z')]);
    const codec = new AesGcmPayloadCodec({ keys: set });
    const err = await codec.decode([enc!]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadCodecError);
    expect((err as PayloadCodecError).code).toBe('unknown_key');
    expect((err as Error).message).toContain('pk-other');
  });

  test('when payloads were written before the codec (no encrypted encoding), then decode passes them through unchanged', async () => {
    const codec = new AesGcmPayloadCodec({ keys: set });
    const plain = [json({ old: MARKER }), defaultPayloadConverter.toPayload(undefined), json(null)];
    const out = await codec.decode(plain);
    expect(out).toEqual(plain);
    expect(value(out[0]!)).toEqual({ old: MARKER });
  });

  test('when the key is rotated, then new payloads use the new key and payloads under the old key still decode', async () => {
    const codec = new AesGcmPayloadCodec({ keys: set });
    const [old] = await codec.encode([json('before rotation')]);
    const k2 = key('pk-2');
    codec.setKeys({ activeKeyId: 'pk-2', keys: [k1, k2] });
    const [fresh] = await codec.encode([json('after rotation')]);
    expect(meta(fresh!, METADATA_KEY_ID)).toBe('pk-2');
    expect((await codec.decode([old!, fresh!])).map(value)).toEqual(['before rotation', 'after rotation']);
  });

  test('when a payload names a key rotated in elsewhere, then the codec refreshes its keys once and decodes it', async () => {
    const k2 = key('pk-2');
    const rotated: PayloadKeySet = { activeKeyId: 'pk-2', keys: [k1, k2] };
    const writer = new AesGcmPayloadCodec({ keys: rotated });
    const [enc] = await writer.encode([json('new key')]);
    let refreshes = 0;
    const reader = new AesGcmPayloadCodec({
      keys: set,
      refresh: async () => {
        refreshes++;
        return rotated;
      },
    });
    expect((await reader.decode([enc!])).map(value)).toEqual(['new key']);
    expect(refreshes).toBe(1);
    expect(reader.activeKey).toBe('pk-2');
  });

  test('when refreshes fail or keep missing the key, then unknown-key refreshes are rate-limited and the old keys stay', async () => {
    const [enc] = await new AesGcmPayloadCodec({ keys: { activeKeyId: 'pk-x', keys: [key('pk-x')] } }).encode([json(1)]);
    let refreshes = 0;
    const errors: unknown[] = [];
    const reader = new AesGcmPayloadCodec({
      keys: set,
      refresh: async () => {
        refreshes++;
        throw new Error('security server down');
      },
      unknownKeyRefreshGapMs: 60_000,
      onRefreshError: (e) => errors.push(e),
    });
    for (let i = 0; i < 5; i++) await expect(reader.decode([enc!])).rejects.toMatchObject({ code: 'unknown_key' });
    expect(refreshes).toBe(1);
    expect(errors).toHaveLength(1);
    expect(reader.keyIds()).toEqual(['pk-1']);
  });

  test('when keys are invalid, then the codec refuses them at construction', () => {
    expect(() => new AesGcmPayloadCodec({ keys: { activeKeyId: 'pk-1', keys: [{ id: 'pk-1', key: Buffer.alloc(16) }] } })).toThrow(/16 bytes/);
    expect(() => new AesGcmPayloadCodec({ keys: { activeKeyId: 'nope', keys: [k1] } })).toThrow(/active payload key id nope/);
    expect(() => new AesGcmPayloadCodec({ keys: { activeKeyId: 'pk-1', keys: [k1, k1] } })).toThrow(/twice/);
  });
});

describe('remote codec JSON', () => {
  test('when payloads go to JSON and back, then bytes are identical', () => {
    const ps = [json({ a: MARKER }), { metadata: {}, data: new Uint8Array() }];
    const back = payloadsFromJson(JSON.parse(JSON.stringify(payloadsToJson(ps))));
    expect(back.map((p) => Buffer.from(p.data!).toString())).toEqual([Buffer.from(ps[0]!.data!).toString(), '']);
    expect(Buffer.from(back[0]!.metadata!.encoding!).toString()).toBe('json/plain');
  });

  test('when the body is not the protocol shape or has bad base64, then parsing names the field', () => {
    expect(() => payloadsFromJson({})).toThrow(CodecRequestError);
    expect(() => payloadsFromJson({ payloads: [{ data: 'not base64!' }] })).toThrow(/payloads\[0\]\.data/);
    expect(() => payloadsFromJson({ payloads: [{ metadata: { encoding: 12 } }] })).toThrow(/payloads\[0\]\.metadata\.encoding/);
  });
});
