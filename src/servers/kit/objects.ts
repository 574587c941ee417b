/**
 * Client for the storage server's HTTP object API, used by other servers (data, compute, …) to move
 * bytes among themselves without passing them through Temporal. Results then travel by reference:
 * an object URI `storage://<key>`.
 *
 * Contract (implemented by src/servers/storage):
 * - `PUT  /objects/<key>`  body = bytes; headers `Authorization: Bearer <service token>`,
 *   optional `X-Idempotency-Key`, optional `X-Object-Metadata` (JSON object, URI-encoded)
 *   → 201 JSON {@link StoredObject}
 * - `GET  /objects/<key>[?version=N]` with the bearer token, or with a signed URL's `exp` and `sig`
 *   → 200 bytes, headers `X-Object-Sha256`, `X-Object-Version`
 * - `HEAD /objects/<key>` → 200 with the same headers, or 404
 * Keys are relative paths (`datasets/extract.parquet`), confined to the store root.
 */
export interface StoredObject {
  uri: string;
  key: string;
  version: number;
  sha256: string;
  size: number;
  metadata?: Record<string, unknown>;
}

export const OBJECT_URI_PREFIX = 'storage://';

/** `storage://a/b.parquet` → `a/b.parquet`; throws on anything else. */
export function objectKeyFromUri(uri: string): string {
  if (!uri.startsWith(OBJECT_URI_PREFIX)) throw new Error(`not a storage object URI: ${uri} (expected ${OBJECT_URI_PREFIX}<key>)`);
  return uri.slice(OBJECT_URI_PREFIX.length);
}

export interface ObjectStoreClientOptions {
  /** Storage server base URL, e.g. `http://127.0.0.1:8003`. Env: `MCP_STORAGE_URL`. */
  baseUrl: string;
  /** Returns a bearer token the storage server accepts for service-to-service calls. */
  token: () => Promise<string | undefined>;
  /** Per-request timeout. @default 120000 */
  timeoutMs?: number;
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export class ObjectStoreClient {
  constructor(private readonly opts: ObjectStoreClientOptions) {}

  private async headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const token = await this.opts.token();
    return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
  }

  async put(
    key: string,
    body: Uint8Array,
    opts: { idempotencyKey?: string; metadata?: Record<string, unknown> } = {},
  ): Promise<StoredObject> {
    const extra: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (opts.idempotencyKey) extra['x-idempotency-key'] = opts.idempotencyKey;
    if (opts.metadata) extra['x-object-metadata'] = encodeURIComponent(JSON.stringify(opts.metadata));
    const res = await fetch(`${this.opts.baseUrl}/objects/${encodeKey(key)}`, {
      method: 'PUT',
      headers: await this.headers(extra),
      body,
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
    });
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`storage PUT ${key} failed: HTTP ${res.status} ${await res.text()}`);
    }
    return (await res.json()) as StoredObject;
  }

  async get(keyOrUri: string): Promise<{ bytes: Uint8Array; sha256: string; version: number }> {
    const key = keyOrUri.startsWith(OBJECT_URI_PREFIX) ? objectKeyFromUri(keyOrUri) : keyOrUri;
    const res = await fetch(`${this.opts.baseUrl}/objects/${encodeKey(key)}`, {
      headers: await this.headers(),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
    });
    if (res.status === 404) throw new Error(`storage object not found: ${key}`);
    if (!res.ok) throw new Error(`storage GET ${key} failed: HTTP ${res.status} ${await res.text()}`);
    return {
      bytes: new Uint8Array(await res.arrayBuffer()),
      sha256: res.headers.get('x-object-sha256') ?? '',
      version: Number(res.headers.get('x-object-version') ?? 0),
    };
  }
}

/**
 * The service token servers use among themselves until the security server issues JWTs for them:
 * a random secret the stack generates per start and hands to every server (`MCP_SERVICE_TOKEN`).
 */
export function serviceTokenFromEnv(env: NodeJS.ProcessEnv = process.env): () => Promise<string | undefined> {
  return async () => env.MCP_SERVICE_TOKEN || undefined;
}
