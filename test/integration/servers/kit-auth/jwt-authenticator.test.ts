import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK, type KeyLike } from 'jose';
import { z } from 'zod';
import { registerTool, startMcpHttpServer, type RunningServer } from '../../../../src/servers/kit';
import {
  jwtAuthenticator,
  readClientCredentials,
  serveProtectedResourceMetadata,
  toolScopeFor,
  TokenProvider,
  TokenRequestError,
} from '../../../../src/servers/kit/auth';
import { startSecurityServer, type StartedSecurityServer } from '../../../../src/servers/security/main';
import { callOk, callTool, connectMcp } from '../../../harness/mcp-client';

jest.setTimeout(30_000);

let secDir: string;
let sec: StartedSecurityServer;
let demo: RunningServer;
let realKey: { kid: string; key: KeyLike; publicJwk: JWK };
const decisions: { outcome: string; status?: number }[] = [];

function buildDemo(): McpServer {
  const server = new McpServer({ name: 'demo', version: '0.0.0' });
  registerTool(
    server,
    'read_thing',
    {
      title: 'Read',
      description: 'reads',
      inputSchema: {},
      outputSchema: { ok: z.boolean().describe('ok'), caller: z.string().describe('client id') },
      annotations: { readOnlyHint: true },
    },
    async (_a, ctx) => ({ ok: true, caller: ctx.auth?.clientId ?? 'none' }),
  );
  registerTool(
    server,
    'write_thing',
    {
      title: 'Write',
      description: 'writes',
      inputSchema: {},
      outputSchema: { ok: z.boolean().describe('ok'), caller: z.string().describe('client id') },
      annotations: { readOnlyHint: false },
    },
    async (_a, ctx) => ({ ok: true, caller: ctx.auth?.clientId ?? 'none' }),
  );
  return server;
}

const secrets = () => path.join(secDir, 'clients.secret.json');
const provider = (clientId: string, scope?: string, audience = 'mcp:demo') => {
  const c = readClientCredentials(secrets(), clientId);
  return new TokenProvider({
    tokenUrl: `${sec.server.url}/oauth/token`,
    clientId,
    clientSecret: c.clientSecret,
    audience,
    scope,
  });
};

beforeAll(async () => {
  secDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kit-auth-sec-'));
  sec = await startSecurityServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: secDir,
    serverGroups: ['demo', 'security'],
  });
  const stored = JSON.parse(fs.readFileSync(path.join(secDir, 'keys', 'signing-keys.json'), 'utf8')) as {
    active: string;
    keys: { kid: string; privateJwk: JWK }[];
  };
  const active = stored.keys.find((k) => k.kid === stored.active)!;
  const { d: _d, ...publicJwk } = active.privateJwk;
  realKey = { kid: active.kid, key: (await importJWK(active.privateJwk, 'ES256')) as KeyLike, publicJwk };

  const scopeFor = toolScopeFor('demo', ['read_thing']);
  demo = await startMcpHttpServer({
    name: 'demo',
    version: '0.0.0',
    config: {
      host: '127.0.0.1',
      port: 0,
      dataDir: secDir,
      allowedHosts: [],
      allowedOrigins: [],
      maxBodyBytes: 1024 * 1024,
    },
    buildServer: buildDemo,
    auth: jwtAuthenticator({
      issuer: sec.server.url,
      jwksUrl: `${sec.server.url}/.well-known/jwks.json`,
      audience: 'mcp:demo',
      scopeFor,
      onDecision: (d) => {
        decisions.push({ outcome: d.outcome, status: d.status });
        // Every decision lands in the security server's hash-chained audit log, once.
        sec.deps.audit.append({
          actor: d.clientId ?? 'anonymous',
          action: 'mcp.request',
          resource: `mcp:demo${d.tools.length ? `/${d.tools.join(',')}` : ''}`,
          outcome: d.outcome,
          details: { status: d.status ?? 200, error: d.error ?? null, reason: d.reason },
        });
      },
    }),
    routes: (app) =>
      serveProtectedResourceMetadata(app, {
        resource: 'mcp:demo',
        authorizationServers: [sec.server.url],
        scopesSupported: ['demo:read', 'demo:write'],
      }),
  });
});

afterAll(async () => {
  await demo?.close();
  await sec?.close();
  fs.rmSync(secDir, { recursive: true, force: true });
});

const b64u = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}) => ({
  iss: sec.server.url,
  sub: 'orchestrator-demo',
  client_id: 'orchestrator-demo',
  aud: 'mcp:demo',
  scope: 'demo:read demo:write',
  iat: now(),
  exp: now() + 120,
  jti: crypto.randomUUID(),
  ...over,
});
async function signReal(
  over: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims(over))
    .setProtectedHeader({ alg: 'ES256', kid: realKey.kid, typ: 'at+jwt', ...header })
    .sign(realKey.key);
}
function hs256(secret: string | Buffer, over: Record<string, unknown> = {}): string {
  const input = `${b64u({ alg: 'HS256', kid: realKey.kid, typ: 'JWT' })}.${b64u(claims(over))}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function post(token: string | undefined, body: unknown, rawAuth?: string) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (rawAuth) headers.authorization = rawAuth;
  else if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(demo.mcpUrl, { method: 'POST', headers, body: JSON.stringify(body) });
  await res.text();
  return { status: res.status, wwwAuth: res.headers.get('www-authenticate') ?? '' };
}
const callBody = (name: string) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name, arguments: {} },
});
const initBody = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } },
};

describe('jwtAuthenticator on a demo MCP server (RELIABILITY 16)', () => {
  test('when a worker uses TokenProvider tokens with write scope, then read and write tools work and the tool sees the client id', async () => {
    const tp = provider('orchestrator-demo');
    const client = await connectMcp(demo.mcpUrl, await tp.getToken());
    try {
      expect(await callOk(client, 'read_thing', {})).toEqual({ ok: true, caller: 'orchestrator-demo' });
      expect(await callOk(client, 'write_thing', {})).toEqual({ ok: true, caller: 'orchestrator-demo' });
    } finally {
      await client.close();
    }
  });

  test('when a read-only token calls a read tool, then it works; when it calls a write tool, then 403 insufficient_scope', async () => {
    const token = await provider('orchestrator-demo', 'demo:read').getToken();
    const client = await connectMcp(demo.mcpUrl, token);
    try {
      expect(await callOk(client, 'read_thing', {})).toMatchObject({ ok: true });
      await expect(callTool(client, 'write_thing', {})).rejects.toThrow(
        /403|insufficient_scope|requires scope/,
      );
    } finally {
      await client.close();
    }
    const r = await post(token, callBody('write_thing'));
    expect(r.status).toBe(403);
    expect(r.wwwAuth).toMatch(
      /^Bearer error="insufficient_scope", error_description="tool write_thing requires scope demo:write or demo\/write_thing"/,
    );
  });

  test('when tokens are missing, malformed, forged, expired, for another audience or lacking scope, then each is refused with 401/403 and WWW-Authenticate', async () => {
    const attackerKeys = await generateKeyPair('ES256');
    const pem = await exportSPKI((await importJWK(realKey.publicJwk, 'ES256')) as KeyLike);
    const securityAudience = await provider('orchestrator-security', undefined, 'mcp:security').getToken();
    const validToken = await signReal();
    const [h, p, sig] = validToken.split('.') as [string, string, string];
    const escalated = `${h}.${b64u({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), scope: 'demo:admin demo:write' })}.${sig}`;
    const readOnly = await provider('orchestrator-demo', 'demo:read').getToken();

    const attacks: {
      name: string;
      token?: string;
      raw?: string;
      body?: unknown;
      status: 401 | 403;
      reason: RegExp;
    }[] = [
      { name: 'no token', status: 401, reason: /missing bearer token/ },
      {
        name: 'basic auth instead of bearer',
        raw: 'Basic b3JjaGVzdHJhdG9yOnNlY3JldA==',
        status: 401,
        reason: /not a bearer token/,
      },
      { name: 'garbage bearer', token: 'not-a-jwt', status: 401, reason: /not a JWS/ },
      {
        name: 'alg none',
        token: `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u(claims())}.`,
        status: 401,
        reason: /algorithm none is not allowed/,
      },
      {
        name: 'alg NONE uppercase',
        token: `${b64u({ alg: 'NONE' })}.${b64u(claims())}.`,
        status: 401,
        reason: /algorithm NONE is not allowed/,
      },
      {
        name: 'HS256 keyed with public JWK x',
        token: hs256(Buffer.from(realKey.publicJwk.x!, 'base64url')),
        status: 401,
        reason: /algorithm HS256 is not allowed/,
      },
      {
        name: 'HS256 keyed with public PEM',
        token: hs256(pem),
        status: 401,
        reason: /algorithm HS256 is not allowed/,
      },
      {
        name: 'RS256 header',
        token: `${b64u({ alg: 'RS256', kid: realKey.kid })}.${b64u(claims())}.AAAA`,
        status: 401,
        reason: /algorithm RS256 is not allowed/,
      },
      {
        name: 'expired',
        token: await signReal({ iat: now() - 600, exp: now() - 300 }),
        status: 401,
        reason: /token expired/,
      },
      {
        name: 'not yet valid',
        token: await signReal({ nbf: now() + 600 }),
        status: 401,
        reason: /not valid yet/,
      },
      {
        name: 'wrong audience (real token for mcp:security)',
        token: securityAudience,
        status: 401,
        reason: /audience is not mcp:demo/,
      },
      {
        name: 'audience as array without ours',
        token: await signReal({ aud: ['mcp:data', 'mcp:compute'] }),
        status: 401,
        reason: /audience is not mcp:demo/,
      },
      {
        name: 'wrong issuer',
        token: await signReal({ iss: 'http://evil.example' }),
        status: 401,
        reason: /issuer is not trusted/,
      },
      {
        name: 'attacker key, real kid',
        token: await new SignJWT(claims())
          .setProtectedHeader({ alg: 'ES256', kid: realKey.kid })
          .sign(attackerKeys.privateKey),
        status: 401,
        reason: /signature is invalid/,
      },
      {
        name: 'attacker key, unknown kid',
        token: await new SignJWT(claims())
          .setProtectedHeader({ alg: 'ES256', kid: 'evil' })
          .sign(attackerKeys.privateKey),
        status: 401,
        reason: /key id is not in the issuer JWKS/,
      },
      {
        name: 'payload edited to escalate scope',
        token: escalated,
        status: 401,
        reason: /signature is invalid/,
      },
      {
        name: 'lifetime of a day',
        token: await signReal({ exp: now() + 86_400 }),
        status: 401,
        reason: /lifetime exceeds 3600/,
      },
      { name: 'no exp claim', token: await signReal({ exp: undefined }), status: 401, reason: /exp/ },
      {
        name: 'not an access token (typ)',
        token: await signReal({}, { typ: 'dpop+jwt' }),
        status: 401,
        reason: /not an access token/,
      },
      {
        name: 'read-only scope calling a write tool',
        token: readOnly,
        body: callBody('write_thing'),
        status: 403,
        reason: /requires scope demo:write/,
      },
      {
        name: 'batch smuggling a write call',
        token: readOnly,
        body: [callBody('read_thing'), { ...callBody('write_thing'), id: 2 }],
        status: 403,
        reason: /write_thing requires scope/,
      },
      {
        name: 'unknown tool counts as write',
        token: readOnly,
        body: callBody('drop_everything'),
        status: 403,
        reason: /requires scope demo:write/,
      },
    ];
    let refused = 0;
    const auditBefore = sec.deps.audit.count;
    const decisionsBefore = decisions.length;
    for (const a of attacks) {
      const r = await post(a.token, a.body ?? initBody, a.raw);
      expect({ name: a.name, status: r.status }).toEqual({ name: a.name, status: a.status });
      const errorCode = a.status === 401 ? 'invalid_token' : 'insufficient_scope';
      expect(r.wwwAuth).toContain(`Bearer error="${errorCode}"`);
      expect(r.wwwAuth).toContain(`resource_metadata="${demo.url}/.well-known/oauth-protected-resource"`);
      const desc = /error_description="([^"]*)"/.exec(r.wwwAuth)?.[1] ?? '';
      expect({ name: a.name, desc }).toEqual({ name: a.name, desc: expect.stringMatching(a.reason) });
      refused++;
    }
    console.log(`bearer-token attacks tried: ${attacks.length}, refused: ${refused}`);
    expect(refused).toBe(attacks.length);
    // RELIABILITY 23: every denied request logged exactly once, as a deny.
    expect(decisions.slice(decisionsBefore).every((d) => d.outcome === 'deny')).toBe(true);
    expect(sec.deps.audit.count - auditBefore).toBe(attacks.length);
    const denied = sec.deps.audit.query({ sinceSeq: auditBefore + 1, action: 'mcp.request' }, 100).entries;
    expect(denied.map((e) => e.outcome)).toEqual(attacks.map(() => 'deny'));
    expect(denied.map((e) => e.details.status)).toEqual(attacks.map((a) => a.status));
  });

  test('when allowed and denied calls are mixed, then each is audited once with its outcome and the chain verifies', async () => {
    const good = await provider('orchestrator-demo').getToken();
    const ro = await provider('orchestrator-demo', 'demo:read').getToken();
    const plan: { token?: string; tool: string; expect: 'allow' | 'deny' }[] = [
      { token: good, tool: 'read_thing', expect: 'allow' },
      { token: good, tool: 'write_thing', expect: 'allow' },
      { token: ro, tool: 'write_thing', expect: 'deny' },
      { token: undefined, tool: 'read_thing', expect: 'deny' },
      { token: ro, tool: 'read_thing', expect: 'allow' },
    ];
    const before = sec.deps.audit.count;
    for (const p of plan) await post(p.token, callBody(p.tool));
    const entries = sec.deps.audit.query({ sinceSeq: before + 1 }, 100).entries;
    expect(entries.map((e) => [e.resource, e.outcome])).toEqual(
      plan.map((p) => [`mcp:demo/${p.tool}`, p.expect]),
    );
    expect(sec.deps.audit.verify().ok).toBe(true);
  });

  test('the protected-resource metadata (RFC 9728) names the audience and the authorization server', async () => {
    for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const doc = (await (await fetch(`${demo.url}${p}`)).json()) as Record<string, unknown>;
      expect(doc).toMatchObject({
        resource: 'mcp:demo',
        authorization_servers: [sec.server.url],
        scopes_supported: ['demo:read', 'demo:write'],
        bearer_methods_supported: ['header'],
      });
    }
  });

  test('when the signing key rotates, then tokens from the old and the new key are both accepted (JWKS refetched on unknown kid)', async () => {
    const old = await provider('orchestrator-demo').getToken();
    await sec.deps.signingKeys.rotate();
    const fresh = await provider('orchestrator-demo').getToken();
    expect((await post(old, callBody('read_thing'))).status).toBe(200);
    expect((await post(fresh, callBody('read_thing'))).status).toBe(200);
  });
});

describe('TokenProvider against the security server', () => {
  test('when asked twice, then the cached token is reused; after invalidate, a new one is fetched', async () => {
    const tp = provider('orchestrator-demo');
    const [a, b] = await Promise.all([tp.getToken(), tp.getToken()]);
    expect(a).toBe(b);
    expect(await tp.getToken()).toBe(a);
    tp.invalidate();
    expect(await tp.getToken()).not.toBe(a);
    expect(tp.expiresAt).toBeGreaterThan(Date.now());
  });

  test('when the secret is wrong or the scope not held, then getToken rejects with the OAuth error', async () => {
    const bad = new TokenProvider({
      tokenUrl: `${sec.server.url}/oauth/token`,
      clientId: 'orchestrator-demo',
      clientSecret: 'wrong',
      audience: 'mcp:demo',
      authMethod: 'client_secret_post',
    });
    await expect(bad.getToken()).rejects.toMatchObject({
      name: 'TokenRequestError',
      status: 401,
      error: 'invalid_client',
    });
    await expect(provider('orchestrator', 'demo:write').getToken()).rejects.toBeInstanceOf(TokenRequestError);
  });
});
