import fs from 'node:fs';
import type { Express, Request } from 'express';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthOutcome, RequestAuthenticator } from './http-app';

/**
 * Bearer-token authentication of MCP endpoints with JWTs issued by the security server
 * (src/servers/security), plus the client side: a {@link TokenProvider} for workers.
 *
 * Scheme (documented in src/servers/security/README.md):
 * - audience `mcp:<server>` (e.g. `mcp:data`): stable across hosts, ports and backup replicas;
 * - scopes `<server>:read` for tools annotated `readOnlyHint: true`, `<server>:write` for the others
 *   (write implies read), and `<server>/<tool>` for one tool only.
 */

/** Asymmetric algorithms only: an HS* token could be forged with the public key as the HMAC secret. */
export const DEFAULT_JWT_ALGORITHMS: readonly string[] = ['ES256', 'EdDSA'];

/** Scopes of which the token must hold at least one; undefined: no scope needed. */
export type ScopeRequirement = string | readonly string[] | undefined;

/** One authentication decision, for servers that audit them. */
export interface AuthDecision {
  outcome: 'allow' | 'deny';
  status?: 401 | 403;
  error?: string;
  reason: string;
  clientId?: string;
  /** Tools called by the request (tools/call only). */
  tools: string[];
}

export interface JwtAuthenticatorOptions {
  /** Expected `iss`, e.g. `http://127.0.0.1:8005`. */
  issuer: string;
  /** The issuer's JWKS, e.g. `http://127.0.0.1:8005/.well-known/jwks.json`; fetched once and cached. */
  jwksUrl: string | URL;
  /** This server's audience, e.g. `mcp:data`. */
  audience: string;
  /** Scope a `tools/call` of `toolName` needs; see {@link toolScopeFor}. Absent: any valid token may call any tool. */
  scopeFor?: (toolName: string, body: unknown) => ScopeRequirement;
  /** @default DEFAULT_JWT_ALGORITHMS */
  algorithms?: readonly string[];
  /** Clock skew allowed on exp/nbf/iat. @default 5 */
  clockToleranceS?: number;
  /** Tokens whose exp − iat exceeds this are refused (long-lived tokens defeat revocation by expiry). @default 3600 */
  maxTokenLifetimeS?: number;
  /** Least time between JWKS refetches triggered by an unknown kid (bounds refetch floods). @default 30000 */
  jwksCooldownMs?: number;
  /** Called for every decision (for audit logs); must not throw. */
  onDecision?: (decision: AuthDecision) => void;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt']);

interface JsonRpcCall {
  method?: unknown;
  params?: { name?: unknown };
}

function toolCalls(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const names: string[] = [];
  for (const m of messages as JsonRpcCall[]) {
    if (m && typeof m === 'object' && m.method === 'tools/call')
      names.push(typeof m.params?.name === 'string' ? m.params.name : '');
  }
  return names;
}

/** Scopes of a token: RFC 9068 `scope` (space-separated) or an `scp` array. */
export function tokenScopes(payload: JWTPayload): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter(Boolean);
  if (Array.isArray(payload.scp)) return payload.scp.filter((s): s is string => typeof s === 'string');
  return [];
}

/** True when `granted` contains at least one of the required scopes. */
export function scopeSatisfied(granted: readonly string[], required: ScopeRequirement): boolean {
  if (required === undefined) return true;
  const anyOf = typeof required === 'string' ? [required] : required;
  return anyOf.length === 0 || anyOf.some((s) => granted.includes(s));
}

/**
 * The house scope rule for a server: read-only tools need `<server>:read` or `<server>:write`, others
 * `<server>:write`; `<server>/<tool>` grants one tool. Unknown tool names count as writes (fail closed).
 */
export function toolScopeFor(
  server: string,
  readOnlyTools: Iterable<string>,
): (toolName: string) => string[] {
  const readOnly = new Set(readOnlyTools);
  return (toolName) =>
    readOnly.has(toolName)
      ? [`${server}:read`, `${server}:write`, `${server}/${toolName}`]
      : [`${server}:write`, `${server}/${toolName}`];
}

function describeJoseError(err: unknown, audience: string): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return `token audience is not ${audience}`;
    if (err.claim === 'iss') return 'token issuer is not trusted';
    if (err.claim === 'nbf') return 'token is not valid yet';
    return `token claim ${err.claim} is invalid: ${err.reason}`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not allowed';
  if (err instanceof errors.JWKSNoMatchingKey) return 'token key id is not in the issuer JWKS';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (err instanceof errors.JWKSTimeout) return 'cannot verify token: issuer JWKS timed out';
  if (err instanceof errors.JOSEError) return `token is invalid (${err.code})`;
  return 'cannot verify token: issuer JWKS unavailable';
}

/**
 * A kit {@link RequestAuthenticator} that accepts only bearer JWTs signed by the issuer's JWKS with an
 * allowed asymmetric algorithm, for this audience, unexpired; and, for `tools/call`, holding the tool's
 * scope. Missing/invalid/expired/wrong-audience tokens → 401 `invalid_token`; insufficient scope → 403
 * `insufficient_scope` (the kit adds `WWW-Authenticate`).
 */
export function jwtAuthenticator(opts: JwtAuthenticatorOptions): RequestAuthenticator {
  const algorithms = [...(opts.algorithms ?? DEFAULT_JWT_ALGORITHMS)];
  for (const a of algorithms) {
    if (a === 'none' || /^HS/i.test(a))
      throw new Error(`jwtAuthenticator: algorithm ${a} is not allowed (asymmetric algorithms only)`);
  }
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl), {
    cacheMaxAge: 10 * 60_000,
    cooldownDuration: opts.jwksCooldownMs ?? 30_000,
    timeoutDuration: 5_000,
  });
  const maxLifetime = opts.maxTokenLifetimeS ?? 3600;

  const deny = (
    status: 401 | 403,
    error: string,
    description: string,
    tools: string[],
    clientId?: string,
  ): AuthOutcome => {
    opts.onDecision?.({ outcome: 'deny', status, error, reason: description, clientId, tools });
    return { ok: false, status, error, description };
  };

  const authenticate = async (req: Request): Promise<AuthOutcome> => {
    const tools = toolCalls(req.body);
    const header = req.headers.authorization;
    if (!header)
      return deny(401, 'invalid_token', 'missing bearer token (Authorization: Bearer <jwt>)', tools);
    const m = BEARER.exec(header);
    if (!m) return deny(401, 'invalid_token', 'Authorization header is not a bearer token', tools);
    const token = m[1]!;

    // Checked before any key lookup so that alg confusion never reaches signature verification.
    let alg: unknown;
    let typ: unknown;
    try {
      ({ alg, typ } = decodeProtectedHeader(token));
    } catch {
      return deny(401, 'invalid_token', 'token is not a JWS compact serialization', tools);
    }
    if (typeof alg !== 'string' || !algorithms.includes(alg))
      return deny(
        401,
        'invalid_token',
        `token algorithm ${String(alg)} is not allowed (accepted: ${algorithms.join(', ')})`,
        tools,
      );
    if (typ !== undefined && (typeof typ !== 'string' || !ACCEPTED_TYP.has(typ.toLowerCase())))
      return deny(401, 'invalid_token', `token type ${String(typ)} is not an access token`, tools);

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms,
        clockTolerance: opts.clockToleranceS ?? 5,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (err) {
      return deny(401, 'invalid_token', describeJoseError(err, opts.audience), tools);
    }
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : payload.sub!;
    if (payload.exp! - payload.iat! > maxLifetime)
      return deny(401, 'invalid_token', `token lifetime exceeds ${maxLifetime} s`, tools, clientId);

    const scopes = tokenScopes(payload);
    if (opts.scopeFor) {
      const messages = Array.isArray(req.body) ? req.body : [req.body];
      for (const msg of messages as JsonRpcCall[]) {
        if (!msg || typeof msg !== 'object' || msg.method !== 'tools/call') continue;
        const name = typeof msg.params?.name === 'string' ? msg.params.name : '';
        const required = opts.scopeFor(name, msg);
        if (!scopeSatisfied(scopes, required)) {
          const need = typeof required === 'string' ? required : (required ?? []).join(' or ');
          return deny(403, 'insufficient_scope', `tool ${name} requires scope ${need}`, tools, clientId);
        }
      }
    }
    opts.onDecision?.({ outcome: 'allow', reason: 'valid token', clientId, tools });
    return {
      ok: true,
      info: {
        token,
        clientId,
        scopes,
        expiresAt: payload.exp,
        extra: { sub: payload.sub, iss: payload.iss, aud: payload.aud, jti: payload.jti },
      },
    };
  };
  return Object.assign(authenticate, { issuer: opts.issuer, audience: opts.audience });
}

export interface ProtectedResourceOptions {
  /** The resource identifier: this server's audience (e.g. `mcp:data`). */
  resource: string;
  /** Issuer URLs of the authorization servers (the security server's base URL); a function when known only after listen. */
  authorizationServers: string[] | (() => string[]);
  scopesSupported?: string[];
  resourceName?: string;
}

/** RFC 9728 protected-resource metadata document. */
export function protectedResourceMetadata(opts: ProtectedResourceOptions): Record<string, unknown> {
  return {
    resource: opts.resource,
    authorization_servers:
      typeof opts.authorizationServers === 'function'
        ? opts.authorizationServers()
        : opts.authorizationServers,
    bearer_methods_supported: ['header'],
    resource_signing_alg_values_supported: [...DEFAULT_JWT_ALGORITHMS],
    ...(opts.scopesSupported ? { scopes_supported: opts.scopesSupported } : {}),
    ...(opts.resourceName ? { resource_name: opts.resourceName } : {}),
  };
}

/**
 * Serves {@link protectedResourceMetadata} at `/.well-known/oauth-protected-resource` (where the kit's
 * `WWW-Authenticate` points) and at `…/mcp` (RFC 9728 path insertion for the `/mcp` endpoint). Pass it
 * as (part of) `routes` in `startMcpHttpServer`.
 */
export function serveProtectedResourceMetadata(app: Express, opts: ProtectedResourceOptions): void {
  for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
    app.get(p, (_req, res) => {
      res.setHeader('Cache-Control', 'max-age=300');
      res.json(protectedResourceMetadata(opts));
    });
  }
}

/** A token endpoint refused the request, or could not be reached. */
export class TokenRequestError extends Error {
  override name = 'TokenRequestError';
  constructor(
    message: string,
    /** HTTP status, 0 when the endpoint could not be reached. */
    readonly status: number,
    /** OAuth error code (`invalid_client`, `invalid_scope`, …) when the endpoint gave one. */
    readonly error?: string,
  ) {
    super(message);
  }
}

export interface TokenProviderOptions {
  /** e.g. `http://127.0.0.1:8005/oauth/token`. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** e.g. `mcp:data`. */
  audience: string;
  /** Space-separated scopes; absent: all the client holds for the audience. */
  scope?: string;
  /** Refresh this long before expiry (capped at half the token lifetime). @default 30 */
  refreshSkewS?: number;
  /** @default 10000 */
  timeoutMs?: number;
  /** @default 'client_secret_basic' */
  authMethod?: 'client_secret_basic' | 'client_secret_post';
}

/**
 * Client-credentials access tokens for one audience, cached and refreshed before they expire;
 * concurrent callers share one request. Give `() => provider.getToken()` wherever a token is needed.
 */
export class TokenProvider {
  private cached?: { token: string; refreshAt: number; expiresAt: number };
  private pending?: Promise<string>;

  constructor(private readonly opts: TokenProviderOptions) {}

  /** A token valid for at least the refresh skew (fetches a new one when needed). */
  async getToken(): Promise<string> {
    if (this.cached && Date.now() < this.cached.refreshAt) return this.cached.token;
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Drops the cached token (e.g. after a 401), so the next call fetches a fresh one. */
  invalidate(): void {
    this.cached = undefined;
  }

  /** Expiry (ms since epoch) of the cached token, if any. */
  get expiresAt(): number | undefined {
    return this.cached?.expiresAt;
  }

  private async fetchToken(): Promise<string> {
    const { clientId, clientSecret } = this.opts;
    const form = new URLSearchParams({ grant_type: 'client_credentials', audience: this.opts.audience });
    if (this.opts.scope) form.set('scope', this.opts.scope);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if ((this.opts.authMethod ?? 'client_secret_basic') === 'client_secret_basic') {
      // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
      const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
    } else {
      form.set('client_id', clientId);
      form.set('client_secret', clientSecret);
    }
    let res: Response;
    try {
      res = await fetch(this.opts.tokenUrl, {
        method: 'POST',
        headers,
        body: form,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new TokenRequestError(
        `token endpoint ${this.opts.tokenUrl} unreachable: ${(err as Error).message}`,
        0,
      );
    }
    const body = (await res.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (!res.ok || typeof body.access_token !== 'string') {
      throw new TokenRequestError(
        `token request for ${clientId} → ${this.opts.audience} failed: HTTP ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`.trim(),
        res.status,
        body.error,
      );
    }
    const lifetimeMs = (typeof body.expires_in === 'number' ? body.expires_in : 60) * 1000;
    const skewMs = Math.min((this.opts.refreshSkewS ?? 30) * 1000, lifetimeMs / 2);
    const now = Date.now();
    this.cached = {
      token: body.access_token,
      refreshAt: now + lifetimeMs - skewMs,
      expiresAt: now + lifetimeMs,
    };
    return body.access_token;
  }
}

/** One client's entry in the security server's `clients.secret.json`. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  audiences: string[];
  scopes: string[];
}

/**
 * Reads a client's credentials from the security server's `clients.secret.json` (local stack). Refuses
 * a file that group or others can read.
 */
export function readClientCredentials(secretFile: string, clientId: string): ClientCredentials {
  const mode = fs.statSync(secretFile).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new Error(`${secretFile} has mode ${mode.toString(8)}; it must be 0600`);
  const doc = JSON.parse(fs.readFileSync(secretFile, 'utf8')) as { clients?: ClientCredentials[] };
  const entry = doc.clients?.find((c) => c.clientId === clientId);
  if (!entry) throw new Error(`client ${clientId} not found in ${secretFile}`);
  return entry;
}

/** Where the security server answers by default (the local stack). */
export const DEFAULT_AUTH_ISSUER = 'http://127.0.0.1:8005';

/**
 * How a server authenticates its `/mcp` endpoint: `jwt` (the default) verifies bearer JWTs from the
 * security server; `off` is a documented switch for local experiments only.
 */
export type McpAuthSettings =
  | { mode: 'off' }
  | {
      mode: 'jwt';
      /** Expected `iss` of tokens; also where clients get them (`<issuer>/oauth/token`). */
      issuer: string;
      /** The issuer's JWKS. @default `<issuer>/.well-known/jwks.json` */
      jwksUrl: string;
    };

function httpUrl(name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`${name} is not a URL: '${value}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${name} must be an http(s) URL, got '${value}'`);
  return value;
}

/**
 * Reads `MCP_AUTH` (`jwt` default | `off`), `MCP_AUTH_ISSUER` (default {@link DEFAULT_AUTH_ISSUER}) and
 * `MCP_AUTH_JWKS_URL` (default `<issuer>/.well-known/jwks.json`). Anything else in `MCP_AUTH` fails
 * start-up rather than silently running open.
 */
export function authSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): McpAuthSettings {
  const raw = (env.MCP_AUTH ?? '').trim().toLowerCase();
  if (raw === 'off') return { mode: 'off' };
  if (raw !== '' && raw !== 'jwt') throw new Error(`MCP_AUTH must be 'jwt' or 'off', got '${env.MCP_AUTH}'`);
  // Follow a moved local security server (MCP_SECURITY_PORT) when no issuer is given.
  const localIssuer = env.MCP_SECURITY_PORT ? `http://127.0.0.1:${env.MCP_SECURITY_PORT}` : DEFAULT_AUTH_ISSUER;
  const issuer = httpUrl('MCP_AUTH_ISSUER', (env.MCP_AUTH_ISSUER || localIssuer).replace(/\/+$/, ''));
  const jwksUrl = httpUrl('MCP_AUTH_JWKS_URL', env.MCP_AUTH_JWKS_URL || `${issuer}/.well-known/jwks.json`);
  return { mode: 'jwt', issuer, jwksUrl };
}

/** What a server's `start…()` accepts as `auth`: an authenticator (tests, custom schemes) or settings. */
export type McpAuthOption = RequestAuthenticator | McpAuthSettings;

/**
 * Names of the tools a server annotates `readOnlyHint: true`, asked through the MCP protocol itself
 * (an in-memory client), so the scope rule follows the annotations the server actually publishes.
 */
export async function readOnlyToolNames(server: McpServer): Promise<string[]> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'kit-scope-introspection', version: '0.0.0' });
  await server.connect(serverSide);
  try {
    await client.connect(clientSide);
    const names: string[] = [];
    let cursor: string | undefined;
    // Bounded: a server with more than 100 pages of tools is a bug, not a reason to loop forever.
    for (let page = 0; page < 100; page++) {
      const r = await client.listTools(cursor ? { cursor } : undefined);
      for (const t of r.tools) if (t.annotations?.readOnlyHint === true) names.push(t.name);
      cursor = r.nextCursor;
      if (!cursor) break;
    }
    return names;
  } finally {
    await client.close().catch(() => undefined);
    await server.close().catch(() => undefined);
  }
}

/**
 * Turns a server's `auth` option into a {@link RequestAuthenticator}: settings `jwt` → a
 * {@link jwtAuthenticator} for audience `mcp:<server>` whose scope rule ({@link toolScopeFor}) comes from
 * the tools' `readOnlyHint` annotations; `off` or absent → undefined (no authentication); a function is
 * used as is.
 */
export async function resolveServerAuth(
  server: string,
  auth: McpAuthOption | undefined,
  buildServer: () => McpServer,
  extra: Pick<JwtAuthenticatorOptions, 'onDecision' | 'maxTokenLifetimeS' | 'clockToleranceS'> = {},
): Promise<RequestAuthenticator | undefined> {
  if (auth === undefined) return undefined;
  if (typeof auth === 'function') return auth;
  if (auth.mode === 'off') return undefined;
  const readOnly = await readOnlyToolNames(buildServer());
  return jwtAuthenticator({
    issuer: auth.issuer,
    jwksUrl: auth.jwksUrl,
    audience: `mcp:${server}`,
    scopeFor: toolScopeFor(server, readOnly),
    ...extra,
  });
}
