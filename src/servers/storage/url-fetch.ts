import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ToolError } from '../kit';
import { TooLargeError, streamToFile } from './atomic-write';
import { isLoopbackHttpOrigin } from './storage-config';

export interface FetchToFileOptions {
  /** Exact origins allowed (`http://127.0.0.1:8001`). */
  allowlist: readonly string[];
  file: string;
  maxBytes: number;
  /** Service token sent to stack origins (never a caller's token). */
  serviceToken?: string;
  signal: AbortSignal;
  timeoutMs?: number;
}

/**
 * Downloads an allowlisted loopback URL of our own stack into `file`. Only http(s), only exact
 * allowlisted origins on loopback hosts, no credentials in the URL, and no redirects (a redirect could
 * lead anywhere, so it is refused rather than followed).
 */
export async function fetchToFile(
  rawUrl: string,
  opts: FetchToFileOptions,
): Promise<{ sha256: string; size: number; contentType?: string }> {
  let u: URL;
  try {
    u = new URL(rawUrl);
  } catch {
    throw new ToolError(`url ${JSON.stringify(rawUrl)} is not a valid URL`, 'invalid_url');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ToolError(`url scheme ${u.protocol} is not allowed; only http and https`, 'forbidden_url');
  if (u.username || u.password) throw new ToolError('url must not carry credentials', 'forbidden_url');
  if (!isLoopbackHttpOrigin(u) || !opts.allowlist.includes(u.origin)) {
    throw new ToolError(
      `url origin ${u.origin} is not on the fetch allowlist (${opts.allowlist.join(', ') || 'empty'}); set MCP_STORAGE_FETCH_ALLOWLIST`,
      'forbidden_url',
    );
  }
  const signal = AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs ?? 120_000)]);
  let res: Response;
  try {
    res = await fetch(u, {
      redirect: 'manual',
      signal,
      headers: opts.serviceToken ? { authorization: `Bearer ${opts.serviceToken}` } : {},
    });
  } catch (err) {
    throw new ToolError(
      `could not fetch ${u.href}: ${err instanceof Error ? err.message : String(err)}`,
      'fetch_failed',
    );
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw new ToolError(
      `url ${u.href} answered with a redirect (HTTP ${res.status}); redirects are not followed`,
      'forbidden_url',
    );
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new ToolError(`url ${u.href} answered HTTP ${res.status}`, 'fetch_failed');
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > opts.maxBytes) {
    await res.body.cancel();
    throw new ToolError(`url ${u.href} serves ${declared} bytes; the limit is ${opts.maxBytes}`, 'too_large');
  }
  try {
    const digest = await streamToFile(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      opts.file,
      opts.maxBytes,
    );
    const contentType = res.headers.get('content-type') ?? undefined;
    return contentType ? { ...digest, contentType } : digest;
  } catch (err) {
    if (err instanceof TooLargeError)
      throw new ToolError(`url ${u.href} serves more than the limit of ${opts.maxBytes} bytes`, 'too_large');
    throw new ToolError(
      `download of ${u.href} failed: ${err instanceof Error ? err.message : String(err)}`,
      'fetch_failed',
    );
  }
}
