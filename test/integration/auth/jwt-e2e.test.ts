import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { generateKeyPair, importJWK, SignJWT, type JWK, type KeyLike } from 'jose';
import { z } from 'zod';
import { McpCallError } from '../../../src/mcp/call-error';
import { McpClientPool } from '../../../src/mcp/pool';
import type { Registry } from '../../../src/registry/registry';
import { startMcpHttpServer, type RunningServer } from '../../../src/servers/kit';
import { readClientCredentials, TokenProvider, type McpAuthSettings } from '../../../src/servers/kit/auth';
import { McpTokenSource } from '../../../src/servers/kit/client-auth';
import { startDataServer, type StartedDataServer } from '../../../src/servers/data/main';
import { startSecurityServer, type StartedSecurityServer } from '../../../src/servers/security/main';
import { callOk, connectMcp } from '../../harness/mcp-client';

/**
 * RELIABILITY item 16 end to end: a real security server issues tokens, a real data server (auth on,
 * as `mcp-orch up` runs it) refuses every bad one with 401/403 + `WWW-Authenticate` and accepts the
 * right one; the kit never hands an inbound token to a tool; the worker pool refreshes a token on 401.
 */

jest.setTimeout(60_000);

let dir: string;
let sec: StartedSecurityServer;
let data: StartedDataServer;
let echo: RunningServer;
let secrets: string;
let signingKey: { kid: string; key: KeyLike };
const tally = { tried: 0, refused: 0 };

const now = () => Math.floor(Date.now() / 1000);
const b64u = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const claims = (over: Record<string, unknown> = {}) => ({
  iss: sec.server.url,
  sub: 'orchestrator-data',
  client_id: 'orchestrator-data',
  aud: 'mcp:data',
  scope: 'data:read data:write',
  iat: now(),
  exp: now() + 120,
  jti: crypto.randomUUID(),
  ...over,
});
const sign = (payload: Record<string, unknown>, key = signingKey.key, kid = signingKey.kid) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(key);
const tokenOf = (clientId: string, audience: string) =>
  new TokenProvider({
    tokenUrl: `${sec.server.url}/oauth/token`,
    clientId,
    clientSecret: readClientCredentials(secrets, clientId).clientSecret,
    audience,
  }).getToken();

const rpc = (method: string, params: Record<string, unknown> = {}) =>
  JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
const post = (url: string, body: string, token?: string) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body,
  });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-e2e-'));
  sec = await startSecurityServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: path.join(dir, 'security'),
    serverGroups: ['data', 'storage', 'security', 'echo'],
    requireAuth: true,
  });
  secrets = path.join(dir, 'security', 'clients.secret.json');
  const stored = JSON.parse(fs.readFileSync(path.join(dir, 'security', 'keys', 'signing-keys.json'), 'utf8')) as {
    active: string;
    keys: { kid: string; privateJwk: JWK }[];
  };
  const active = stored.keys.find((k) => k.kid === stored.active)!;
  signingKey = { kid: active.kid, key: (await importJWK(active.privateJwk, 'ES256')) as KeyLike };
  const auth: McpAuthSettings = {
    mode: 'jwt',
    issuer: sec.server.url,
    jwksUrl: `${sec.server.url}/.well-known/jwks.json`,
  };
  data = await startDataServer(
    { host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'data'), seedRows: 1000 },
    { auth },
  );

  // A server whose tool reports what it can see of the caller's credentials.
  echo = await startMcpHttpServer({
    name: 'echo',
    version: '0.0.0',
    config: { host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'echo'), allowedHosts: [], allowedOrigins: [], maxBodyBytes: 65536 },
    auth,
    buildServer: () => {
      const server = new McpServer({ name: 'echo', version: '0.0.0' });
      server.registerTool(
        'seen_credentials',
        {
          description: 'what a tool could forward',
          inputSchema: {},
          outputSchema: {
            header: z.string().describe('Authorization header visible to the tool'),
            token: z.string().describe('token in authInfo'),
            clientId: z.string().describe('client id'),
          },
          annotations: { readOnlyHint: true },
        },
        async (_args, extra) => {
          const out = {
            header: String(extra.requestInfo?.headers.authorization ?? ''),
            token: extra.authInfo?.token ?? '',
            clientId: extra.authInfo?.clientId ?? '',
          };
          return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out };
        },
      );
      return server;
    },
  });
});

afterAll(async () => {
  await echo?.close();
  await data?.close();
  await sec?.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`JWT end to end on the data server: ${tally.tried} bad tokens tried, ${tally.refused} refused with 401/403 + WWW-Authenticate`);
});

describe('data server with auth on', () => {
  const refusedCases: Array<[string, () => Promise<string | undefined>, 401 | 403, RegExp]> = [
    ['missing token', async () => undefined, 401, /missing bearer token/],
    ['garbage token', async () => 'not.a.jwt', 401, /not a JWS|invalid/],
    ['alg none', async () => `${b64u({ alg: 'none', typ: 'at+jwt' })}.${b64u(claims())}.`, 401, /algorithm none is not allowed/],
    [
      'HS256 forged with a guessed secret',
      async () => new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(Buffer.from('secret')),
      401,
      /algorithm HS256 is not allowed/,
    ],
    ['expired', () => sign(claims({ iat: now() - 900, exp: now() - 600 })), 401, /token expired/],
    ['foreign issuer', () => sign(claims({ iss: 'http://evil.example' })), 401, /issuer is not trusted/],
    [
      'signed by a foreign key under the real kid',
      async () => sign(claims(), (await generateKeyPair('ES256')).privateKey as KeyLike),
      401,
      /signature is invalid/,
    ],
    ['lifetime of two hours', () => sign(claims({ exp: now() + 7200 })), 401, /lifetime exceeds/],
    ['real token for another audience (mcp:storage)', () => tokenOf('orchestrator-storage', 'mcp:storage'), 401, /audience is not mcp:data/],
    ['read-only token calling a write tool', () => tokenOf('orchestrator', 'mcp:data'), 403, /tool run_etl requires scope data:write/],
  ];

  it.each(refusedCases)('when the token is %s, then tools/call of run_etl is refused', async (_name, make, status, reason) => {
    tally.tried++;
    const res = await post(data.server.mcpUrl, rpc('tools/call', { name: 'run_etl', arguments: {} }), await make());
    const challenge = res.headers.get('www-authenticate') ?? '';
    if (res.status === status && challenge.startsWith('Bearer ')) tally.refused++;
    expect(res.status).toBe(status);
    expect(challenge).toMatch(status === 401 ? /error="invalid_token"/ : /error="insufficient_scope"/);
    expect(challenge).toMatch(/resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource"/);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(reason);
  });

  it('when the group client calls a read and a write tool, then both pass authentication', async () => {
    const token = await tokenOf('orchestrator-data', 'mcp:data');
    const client = await connectMcp(data.server.mcpUrl, token);
    try {
      const rows = await callOk<{ rows: unknown[] }>(client, 'sql_query', { sql: 'SELECT 42 AS answer' });
      expect(rows.rows).toEqual([{ answer: 42 }]);
    } finally {
      await client.close();
    }
    // Accepted by auth: whatever the tool says about the empty arguments, it is not a 401/403.
    const res = await post(data.server.mcpUrl, rpc('tools/call', { name: 'run_etl', arguments: {} }), token);
    expect(res.status).toBe(200);
  });

  it('when the read-only orchestrator client discovers, then tools/list and server_info are served', async () => {
    const client = await connectMcp(data.server.mcpUrl, await tokenOf('orchestrator', 'mcp:data'));
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['sql_query', 'run_etl', 'server_info']));
      await callOk(client, 'server_info', {});
    } finally {
      await client.close();
    }
  });
});

describe('the inbound token stops at the kit', () => {
  it('when a tool runs, then it sees the client id but neither the Authorization header nor the token', async () => {
    const token = await tokenOf('orchestrator-echo', 'mcp:echo');
    const client = await connectMcp(echo.mcpUrl, token);
    try {
      const seen = await callOk<{ header: string; token: string; clientId: string }>(client, 'seen_credentials', {});
      expect(seen).toEqual({ header: '', token: '', clientId: 'orchestrator-echo' });
    } finally {
      await client.close();
    }
  });
});

describe('worker pool tokens', () => {
  const registry = (): Registry => ({
    groups: { data: { endpoints: [{ transport: 'http', url: data.server.mcpUrl, priority: 1, headers: {} }] } },
  });

  it('when a server answers 401 mid-run (token expired), then the pool refreshes the token once and the call succeeds', async () => {
    const expired = await sign(claims({ iat: now() - 900, exp: now() - 600 }));
    const source = new McpTokenSource({ tokenUrl: `${sec.server.url}/oauth/token`, clientId: 'orchestrator-data', credentialsFile: secrets });
    let stale = true;
    let refreshes = 0;
    const pool = new McpClientPool(registry(), {
      tokenFor: async (g) => (stale ? expired : source.tokenFor(g)),
      onUnauthorized: (g) => {
        refreshes++;
        stale = false;
        source.invalidate(g);
      },
    });
    try {
      const { result } = await pool.callTool('data', 'sql_query', { sql: 'SELECT 1 AS one' });
      expect(result.isError).toBeFalsy();
      expect(refreshes).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('when the refreshed token is refused too, then the call fails non-retryably after one refresh (no retry storm)', async () => {
    const bad = await sign(claims({ aud: 'mcp:storage' }));
    let refreshes = 0;
    const pool = new McpClientPool(registry(), { tokenFor: async () => bad, onUnauthorized: () => void refreshes++ });
    try {
      const err = await pool.callTool('data', 'sql_query', { sql: 'SELECT 1' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(McpCallError);
      expect((err as McpCallError).type).toBe('McpUnauthorized');
      expect((err as McpCallError).retryable).toBe(false);
      expect(refreshes).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('when a worker uses its group client from the credentials file, then discovery and calls work with real tokens', async () => {
    const source = new McpTokenSource({ tokenUrl: `${sec.server.url}/oauth/token`, clientId: 'orchestrator-data', credentialsFile: secrets });
    const pool = new McpClientPool(registry(), { tokenFor: (g) => source.tokenFor(g), onUnauthorized: (g) => source.invalidate(g) });
    try {
      const listed = await pool.listTools('data');
      expect(listed.tools.length).toBeGreaterThan(3);
      const { result } = await pool.callTool('data', 'table_schema', { table: 'customer_transactions' });
      expect(result.isError).toBeFalsy();
    } finally {
      await pool.close();
    }
  });
});
