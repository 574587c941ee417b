import type { Payload } from '@temporalio/common';

/**
 * Temporal's remote codec protocol (what Temporal Web UI and `temporal --codec-endpoint` send to
 * `POST <endpoint>/encode|/decode`): the protobuf JSON of `Payloads`,
 * `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }`.
 */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** A request body the codec endpoint refuses; the message names the offending field. */
export class CodecRequestError extends Error {
  override name = 'CodecRequestError';
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Upper bound per request; the Web UI sends one event's payloads at a time. */
export const MAX_PAYLOADS_PER_REQUEST = 1000;

function bytes(value: unknown, where: string): Buffer {
  // Strict base64 (standard alphabet, as protobuf JSON writes it): Buffer.from skips bad characters silently.
  if (typeof value !== 'string' || !BASE64.test(value) || value.length % 4 !== 0)
    throw new CodecRequestError(`${where} is not a base64 string`);
  return Buffer.from(value, 'base64');
}

/** Parses a protocol body into SDK payloads. */
export function payloadsFromJson(body: unknown): Payload[] {
  if (!body || typeof body !== 'object' || !Array.isArray((body as { payloads?: unknown }).payloads))
    throw new CodecRequestError('body must be {"payloads": [...]} (Temporal remote codec protocol)');
  const list = (body as { payloads: unknown[] }).payloads;
  if (list.length > MAX_PAYLOADS_PER_REQUEST)
    throw new CodecRequestError(
      `at most ${MAX_PAYLOADS_PER_REQUEST} payloads per request, got ${list.length}`,
    );
  return list.map((raw, i) => {
    if (!raw || typeof raw !== 'object') throw new CodecRequestError(`payloads[${i}] is not an object`);
    const p = raw as { metadata?: unknown; data?: unknown };
    const metadata: Record<string, Uint8Array> = {};
    if (p.metadata !== undefined && p.metadata !== null) {
      if (typeof p.metadata !== 'object' || Array.isArray(p.metadata))
        throw new CodecRequestError(`payloads[${i}].metadata is not an object`);
      for (const [k, v] of Object.entries(p.metadata as Record<string, unknown>))
        metadata[k] = bytes(v, `payloads[${i}].metadata.${k}`);
    }
    const data =
      p.data === undefined || p.data === null ? Buffer.alloc(0) : bytes(p.data, `payloads[${i}].data`);
    return { metadata, data };
  });
}

/** Serializes SDK payloads into a protocol body. */
export function payloadsToJson(payloads: Payload[]): { payloads: JsonPayload[] } {
  return {
    payloads: payloads.map((p) => {
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(p.metadata ?? {}))
        if (v) metadata[k] = Buffer.from(v).toString('base64');
      return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
    }),
  };
}
