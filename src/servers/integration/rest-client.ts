import http from 'node:http';
import https from 'node:https';
import { vetDestination, type AllowEntry, type Resolver, type VettedDestination } from './ssrf-guard';

/** One outbound call as asked for by `rest_call`. */
export interface RestRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
  url: string;
  headers?: Record<string, string>;
  /** JSON body (serialized here, content-type set unless given). Exclusive with `text`. */
  json?: unknown;
  /** Text body. Exclusive with `json`. */
  text?: string;
  timeoutMs: number;
  maxResponseBytes: number;
  maxRedirects: number;
}

export interface RestResponse {
  status: number;
  ok: boolean;
  /** The URL that produced the final response (after redirects). */
  finalUrl: string;
  /** Each hop, in order: status and where it pointed. */
  redirects: { status: number; location: string }[];
  headers: Record<string, string>;
  bodyKind: 'json' | 'text' | 'base64' | 'empty';
  json?: unknown;
  text?: string;
  /** Bytes of body read (at most the cap). */
  bodyBytes: number;
  truncated: boolean;
  elapsedMs: number;
  /** The vetted IP the last hop connected to. */
  connectedAddress: string;
  /** The raw body bytes read (for storing by reference); never returned to the caller as is. */
  rawBody: Buffer;
}

/** An outbound failure that is not the guard's (timeouts, refused connections, too many redirects). */
export class RestCallError extends Error {
  constructor(
    message: string,
    readonly code: 'timeout' | 'upstream_unreachable' | 'too_many_redirects' | 'bad_redirect' | 'cancelled',
  ) {
    super(message);
    this.name = 'RestCallError';
  }
}

/**
 * Request headers a caller may not set: hop-by-hop and framing headers are ours to compute, and `host`
 * must match the vetted destination (a forged Host reaches a different virtual host than was vetted).
 */
export const FORBIDDEN_REQUEST_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
]);

/** Credentials never carried to a different origin on redirect. */
const CROSS_ORIGIN_STRIPPED = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** Response headers never returned: session secrets and hop-by-hop noise. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'set-cookie',
  'set-cookie2',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'transfer-encoding',
  'trailer',
  'upgrade',
]);
const MAX_RESPONSE_HEADERS = 50;
const MAX_HEADER_VALUE = 1024;

function filterResponseHeaders(raw: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined || DROPPED_RESPONSE_HEADERS.has(k)) continue;
    if (n++ >= MAX_RESPONSE_HEADERS) break;
    const value = Array.isArray(v) ? v.join(', ') : v;
    out[k] = value.length > MAX_HEADER_VALUE ? value.slice(0, MAX_HEADER_VALUE) + '…' : value;
  }
  return out;
}

function isTextual(contentType: string): boolean {
  return (
    /^text\/|json|xml|javascript|x-www-form-urlencoded|yaml|csv/i.test(contentType) || contentType === ''
  );
}

interface HopResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  truncated: boolean;
}

/** One hop to a vetted destination: the socket goes to the vetted IP, TLS still checks the host name. */
function sendOnce(
  dest: VettedDestination,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  maxBytes: number,
  signal: AbortSignal,
): Promise<HopResult> {
  return new Promise((resolve, reject) => {
    const { url } = dest;
    const isHttps = url.protocol === 'https:';
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const options: https.RequestOptions = {
      method,
      host: dest.address,
      family: dest.family,
      port: url.port ? Number(url.port) : isHttps ? 443 : 80,
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, host: url.host },
      // A fresh socket per hop: a pooled one might have been opened to an address vetted for another call.
      agent: false,
      signal,
    };
    if (isHttps && !/^[0-9.]+$|:/.test(hostname)) options.servername = hostname;
    const req = (isHttps ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          truncated,
        });
      };
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        const room = maxBytes - size;
        if (chunk.length > room) {
          if (room > 0) chunks.push(chunk.subarray(0, room));
          size += Math.max(room, 0);
          truncated = true;
          finish();
          // Stop reading: the cap protects our memory, so the rest must not be buffered anywhere.
          res.destroy();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', finish);
      res.on('error', (err) => {
        if (!settled) reject(err);
      });
    });
    req.on('error', reject);
    if (body) req.end(body);
    else req.end();
  });
}

export interface RestClientOptions {
  allow: AllowEntry[];
  resolve?: Resolver;
}

/**
 * Performs a call through the SSRF guard, following redirects by hand so every hop is vetted (and
 * pinned) again, with a total timeout and a response size cap.
 */
export async function performRestCall(
  req: RestRequest,
  opts: RestClientOptions,
  cancel?: AbortSignal,
): Promise<RestResponse> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = cancel ? AbortSignal.any([cancel, timeout]) : timeout;

  const headers: Record<string, string> = {
    'accept-encoding': 'identity',
    'user-agent': 'mcp-orchestrator-integration/0.1',
  };
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  let body: Buffer | undefined;
  if (req.json !== undefined) {
    body = Buffer.from(JSON.stringify(req.json));
    headers['content-type'] ??= 'application/json';
  } else if (req.text !== undefined) {
    body = Buffer.from(req.text);
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  }
  if (body) headers['content-length'] = String(body.length);

  let method: string = req.method;
  let current: string | URL = req.url;
  const redirects: { status: number; location: string }[] = [];
  for (let hop = 0; ; hop++) {
    const dest = await vetDestination(current, { allow: opts.allow, resolve: opts.resolve });
    let res: HopResult;
    try {
      res = await sendOnce(dest, method, headers, body, req.maxResponseBytes, signal);
    } catch (err) {
      if (timeout.aborted)
        throw new RestCallError(
          `no complete response from ${dest.url.origin} within timeoutMs=${req.timeoutMs}`,
          'timeout',
        );
      if (cancel?.aborted) throw new RestCallError('the call was cancelled by the client', 'cancelled');
      const msg = err instanceof Error ? err.message : String(err);
      throw new RestCallError(
        `could not reach ${dest.url.origin} (${dest.address}): ${msg}`,
        'upstream_unreachable',
      );
    }
    const location = res.headers.location;
    if ([301, 302, 303, 307, 308].includes(res.status) && location) {
      if (hop >= req.maxRedirects) {
        throw new RestCallError(
          `too many redirects: more than maxRedirects=${req.maxRedirects} (last to ${location})`,
          'too_many_redirects',
        );
      }
      let next: URL;
      try {
        next = new URL(location, dest.url);
      } catch {
        throw new RestCallError(
          `redirect from ${dest.url.href} has an invalid Location "${location}"`,
          'bad_redirect',
        );
      }
      redirects.push({ status: res.status, location: next.href });
      if (next.origin !== dest.url.origin) for (const h of CROSS_ORIGIN_STRIPPED) delete headers[h];
      // 303 always, and 301/302 after POST by long-standing browser practice, switch to a bodiless GET.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
        delete headers['content-length'];
        delete headers['content-type'];
      }
      current = next;
      continue;
    }
    return shapeResponse(res, dest, redirects, started, method);
  }
}

function shapeResponse(
  res: HopResult,
  dest: VettedDestination,
  redirects: { status: number; location: string }[],
  started: number,
  method: string,
): RestResponse {
  const contentType = String(res.headers['content-type'] ?? '').toLowerCase();
  const base = {
    status: res.status,
    ok: res.status >= 200 && res.status < 300,
    finalUrl: dest.url.href,
    redirects,
    headers: filterResponseHeaders(res.headers),
    bodyBytes: res.body.length,
    truncated: res.truncated,
    connectedAddress: dest.address,
    rawBody: res.body,
  };
  const elapsedMs = Math.round((performance.now() - started) * 10) / 10;
  if (res.body.length === 0 || method === 'HEAD') return { ...base, bodyKind: 'empty', elapsedMs };
  if (contentType.includes('json') && !res.truncated) {
    try {
      return { ...base, bodyKind: 'json', json: JSON.parse(res.body.toString('utf8')) as unknown, elapsedMs };
    } catch {
      // A server that lies about JSON still gets its text returned.
    }
  }
  if (isTextual(contentType))
    return { ...base, bodyKind: 'text', text: res.body.toString('utf8'), elapsedMs };
  return { ...base, bodyKind: 'base64', text: res.body.toString('base64'), elapsedMs };
}
