import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type express from 'express';
import type { Request, Response } from 'express';
import type { IdempotencyStore, Logger } from '../kit';
import { TooLargeError, streamToFile } from './atomic-write';
import { keyProblem } from './key-safety';
import { DataLossError, type ObjectStore, type ObjectVersion } from './object-store';
import { safeEqual, verifyObjectSignature } from './signed-url';

/** Largest `X-Object-Metadata` header accepted (after URI-decoding). */
export const MAX_METADATA_BYTES = 8192;

export interface ObjectRoutesDeps {
  store: ObjectStore;
  idempotency: IdempotencyStore;
  /** Bearer token accepted for service-to-service calls; without one only signed GETs work. */
  serviceToken?: string;
  signingSecret: string;
  maxObjectBytes: number;
  log: Logger;
}

function fail(res: Response, status: number, error: string, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json({ error });
}

/**
 * Parses `/objects/<key>` from the raw (still percent-encoded) URL. Encoded separators and dots are
 * refused on the raw form; the decoded key must then pass the same rules as tool keys.
 */
function parseKey(rawUrl: string): { key: string } | { error: string } {
  const rawPath = rawUrl.split('?', 1)[0] ?? '';
  const rawKey = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  if (/%2e|%2f|%5c|%00/i.test(rawKey))
    return { error: 'key contains a percent-encoded ".", "/", "\\" or NUL' };
  let key: string;
  try {
    key = rawKey.split('/').map(decodeURIComponent).join('/');
  } catch {
    return { error: 'key is not valid percent-encoding' };
  }
  const problem = keyProblem(key);
  return problem ? { error: `key ${JSON.stringify(key)} is not allowed: ${problem}` } : { key };
}

/** Parses the optional `X-Object-Metadata` header (URI-encoded JSON object). */
export function parseMetadataHeader(
  header: string | undefined,
): { ok: true; value?: Record<string, unknown> } | { ok: false; error: string } {
  if (header === undefined || header === '') return { ok: true };
  let text: string;
  try {
    text = decodeURIComponent(header);
  } catch {
    return { ok: false, error: 'X-Object-Metadata is not valid percent-encoding' };
  }
  if (Buffer.byteLength(text) > MAX_METADATA_BYTES)
    return { ok: false, error: `X-Object-Metadata is larger than ${MAX_METADATA_BYTES} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'X-Object-Metadata is not valid JSON' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { ok: false, error: 'X-Object-Metadata must be a JSON object' };
  return { ok: true, value: value as Record<string, unknown> };
}

function objectHeaders(res: Response, o: ObjectVersion): void {
  res.setHeader('x-object-sha256', o.sha256);
  res.setHeader('x-object-version', String(o.version));
  res.setHeader('etag', `"${o.sha256}"`);
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', String(o.size));
  res.setHeader('cache-control', 'private, no-store');
}

/**
 * Mounts the object API (contract in kit/objects.ts): `PUT|GET|HEAD /objects/<key>`, authenticated by
 * the service bearer token (compared in constant time), or for GET/HEAD by a signed URL.
 */
export function mountObjectRoutes(app: express.Express, deps: ObjectRoutesDeps): void {
  const { store, log } = deps;

  const authorized = (
    req: Request,
    key: string,
  ): { ok: true } | { ok: false; status: number; error: string } => {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer (.+)$/i.exec(header);
      if (!m?.[1]) return { ok: false, status: 401, error: 'Authorization header must be "Bearer <token>"' };
      if (!deps.serviceToken)
        return {
          ok: false,
          status: 401,
          error: 'this storage server has no service token configured (MCP_SERVICE_TOKEN)',
        };
      return safeEqual(m[1], deps.serviceToken)
        ? { ok: true }
        : { ok: false, status: 401, error: 'invalid bearer token' };
    }
    const q = req.query as Record<string, unknown>;
    if ((req.method === 'GET' || req.method === 'HEAD') && q.sig !== undefined) {
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      const verdict = verifyObjectSignature(deps.signingSecret, key, str(q.version), str(q.exp), str(q.sig));
      return verdict.ok ? { ok: true } : { ok: false, status: 403, error: verdict.reason };
    }
    return { ok: false, status: 401, error: 'missing bearer token or signed URL parameters' };
  };

  app.use('/objects', (req: Request, res: Response) => {
    void handle(req, res).catch((err: unknown) => {
      log.error('object api failed', { method: req.method, err: String(err) });
      if (!res.headersSent) fail(res, 500, 'internal error in the object API');
      else res.destroy();
    });
  });

  async function handle(req: Request, res: Response): Promise<void> {
    if (!['GET', 'HEAD', 'PUT'].includes(req.method)) {
      return fail(res, 405, `method ${req.method} not allowed on /objects`, { allow: 'GET, HEAD, PUT' });
    }
    const parsed = parseKey(req.url);
    if ('error' in parsed) {
      req.resume();
      return fail(res, 400, parsed.error);
    }
    const { key } = parsed;
    const auth = authorized(req, key);
    if (!auth.ok) {
      req.resume();
      return fail(
        res,
        auth.status,
        auth.error,
        auth.status === 401 ? { 'www-authenticate': 'Bearer realm="storage"' } : {},
      );
    }
    if (req.method === 'PUT') return put(req, res, key);

    const rawVersion = (req.query as Record<string, unknown>).version;
    let version: number | undefined;
    if (rawVersion !== undefined) {
      if (typeof rawVersion !== 'string' || !/^[1-9][0-9]{0,9}$/.test(rawVersion))
        return fail(res, 400, 'version must be a positive integer');
      version = Number(rawVersion);
    }
    if (req.method === 'HEAD') {
      const o = store.head(key, version);
      if (!o) return void res.status(404).end();
      objectHeaders(res, o);
      return void res.status(200).end();
    }
    let opened;
    try {
      opened = await store.openVerified(key, version);
    } catch (err) {
      if (err instanceof DataLossError) return fail(res, 500, err.message);
      throw err;
    }
    if (!opened) return fail(res, 404, `object ${key}${version ? ` version ${version}` : ''} not found`);
    objectHeaders(res, opened.object);
    res.status(200);
    // pipeline (not pipe) so a client that disconnects also closes the file.
    await pipeline(createReadStream(opened.path), res).catch((err: unknown) => {
      log.warn('object download interrupted', { key, err: String(err) });
    });
  }

  async function put(req: Request, res: Response, key: string): Promise<void> {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > deps.maxObjectBytes) {
      req.resume();
      return fail(res, 413, `object is ${declared} bytes; the limit is ${deps.maxObjectBytes}`);
    }
    const meta = parseMetadataHeader(req.headers['x-object-metadata'] as string | undefined);
    if (!meta.ok) {
      req.resume();
      return fail(res, 400, meta.error);
    }
    const metadata = meta.value;
    const idemHeader = req.headers['x-idempotency-key'];
    const idemKey =
      typeof idemHeader === 'string' && idemHeader !== '' ? `http_put:${key}:${idemHeader}` : undefined;
    try {
      const { result, replayed } = await deps.idempotency.once(idemKey, async () => {
        const tmp = store.newTempFile('put');
        try {
          const digest = await streamToFile(req, tmp, deps.maxObjectBytes);
          return await store.putFile(key, tmp, digest, metadata);
        } finally {
          await fs.rm(tmp, { force: true });
        }
      });
      if (replayed) req.resume();
      res.setHeader('x-idempotent-replayed', String(replayed));
      res.status(201).json(result);
    } catch (err) {
      if (err instanceof TooLargeError) {
        return fail(res, 413, `object is larger than the limit of ${deps.maxObjectBytes} bytes`, {
          connection: 'close',
        });
      }
      throw err;
    }
  }
}
