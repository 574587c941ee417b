import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { BaseServerConfig, RunningServer } from '../../../src/servers/kit';
import { readClientCredentials, TokenProvider, type McpAuthSettings } from '../../../src/servers/kit/auth';
import { startComputeServer } from '../../../src/servers/compute/main';
import { startDataServer } from '../../../src/servers/data/main';
import { parseIntegrationSettings } from '../../../src/servers/integration/config';
import { startIntegrationServer } from '../../../src/servers/integration/main';
import type { Signaler } from '../../../src/servers/integration/temporal-signaler';
import { startNotificationServer } from '../../../src/servers/notification/main';
import { startSecurityServer } from '../../../src/servers/security/main';
import { startStorageServer } from '../../../src/servers/storage/main';
import { callOk, connectMcp } from '../../harness/mcp-client';

/**
 * RELIABILITY items 15, 16 and 21 on every one of the six servers, each started as in production:
 * JWT auth against a real security server, Host/Origin checks, a body limit and per-client rate limit.
 */

jest.setTimeout(120_000);

const GROUPS = ['data', 'compute', 'storage', 'integration', 'security', 'notification'] as const;
type Group = (typeof GROUPS)[number];
const RATE_PER_MIN = 8;
const MAX_BODY = 256 * 1024;

const tally: Record<string, { tried: number; refused: number }> = {};
function attack(kind: string, refused: boolean): void {
  const t = (tally[kind] ??= { tried: 0, refused: 0 });
  t.tried++;
  if (refused) t.refused++;
}

let dir: string;
const servers = {} as Record<Group, RunningServer>;
const closers: Array<() => Promise<void>> = [];
let issuer: string;
let secrets: string;

const readTokens = new Map<Group, TokenProvider>();
const groupTokens = new Map<Group, TokenProvider>();

function base(name: string): BaseServerConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    dataDir: path.join(dir, name),
    allowedHosts: [],
    allowedOrigins: [],
    maxBodyBytes: MAX_BODY,
    clientRateLimitPerMinute: RATE_PER_MIN,
  };
}

function provider(clientId: string, audience: string): TokenProvider {
  return new TokenProvider({
    tokenUrl: `${issuer}/oauth/token`,
    clientId,
    clientSecret: readClientCredentials(secrets, clientId).clientSecret,
    audience,
  });
}

const rpc = (method: string, params: Record<string, unknown> = {}) =>
  JSON.stringify({ jsonrpc: '2.0', id: crypto.randomInt(1e9), method, params });

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body,
  });
}

/** fetch() will not send a forged Host header; a raw request will. */
function postWithHost(url: string, host: string, body: string, token: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          host,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-hardening-'));
  const serviceToken = crypto.randomBytes(16).toString('hex');
  const security = await startSecurityServer({ ...base('security'), requireAuth: true });
  closers.push(() => security.close());
  servers.security = security.server;
  issuer = security.server.url;
  secrets = path.join(dir, 'security', 'clients.secret.json');
  const auth: McpAuthSettings = { mode: 'jwt', issuer, jwksUrl: `${issuer}/.well-known/jwks.json` };

  const storage = await startStorageServer({ ...base('storage'), serviceToken }, { auth });
  closers.push(() => storage.close());
  servers.storage = storage.server;
  const data = await startDataServer(
    { ...base('data'), seedRows: 1000, storageUrl: storage.server.url, serviceToken },
    { auth },
  );
  closers.push(() => data.close());
  servers.data = data.server;
  const compute = await startComputeServer(base('compute'), { storageUrl: storage.server.url, serviceToken }, { auth });
  closers.push(() => compute.close());
  servers.compute = compute.server;
  const signaler: Signaler = { connected: false, signal: async () => undefined, close: async () => undefined };
  const integration = await startIntegrationServer(
    { ...base('integration'), ...parseIntegrationSettings({}) },
    { auth, signaler, storageToken: async () => serviceToken },
  );
  closers.push(() => integration.close());
  servers.integration = integration.server;
  const notification = await startNotificationServer({ ...base('notification'), smtpSink: { port: 0 } }, { auth });
  closers.push(() => notification.close());
  servers.notification = notification.server;

  for (const g of GROUPS) {
    readTokens.set(g, provider('orchestrator', `mcp:${g}`));
    groupTokens.set(g, provider(`orchestrator-${g}`, `mcp:${g}`));
  }
});

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
  const rows = Object.entries(tally).map(([k, v]) => `  ${k.padEnd(34)} tried ${String(v.tried).padStart(3)}  refused ${String(v.refused).padStart(3)}`);
  const tried = Object.values(tally).reduce((a, v) => a + v.tried, 0);
  const refused = Object.values(tally).reduce((a, v) => a + v.refused, 0);
  console.log(`kit hardening on ${GROUPS.length} servers: ${tried} attacks tried, ${refused} refused\n${rows.join('\n')}`);
});

describe.each(GROUPS)('%s server /mcp', (group) => {
  const url = () => servers[group].mcpUrl;
  const readToken = () => readTokens.get(group)!.getToken();

  it('when Host is evil.example (DNS rebinding), then it answers 403 even with a valid token', async () => {
    const status = await postWithHost(url(), 'evil.example', rpc('tools/list'), await readToken());
    attack('Host: evil.example', status === 403);
    expect(status).toBe(403);
  });

  it('when the Origin is foreign, then it answers 403 even with a valid token', async () => {
    const res = await post(url(), rpc('tools/list'), { origin: 'http://evil.example', authorization: `Bearer ${await readToken()}` });
    attack('foreign Origin', res.status === 403);
    expect(res.status).toBe(403);
  });

  it('when the body exceeds the limit, then it answers 413 before any tool runs', async () => {
    const huge = rpc('tools/call', { name: 'server_info', arguments: { pad: 'x'.repeat(MAX_BODY) } });
    const res = await post(url(), huge, { authorization: `Bearer ${await readToken()}` });
    attack('oversized body', res.status === 413);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/Payload too large/);
  });

  it('when no token is sent, then it answers 401 with WWW-Authenticate pointing at its protected-resource metadata', async () => {
    const res = await post(url(), rpc('tools/list'));
    attack('missing token', res.status === 401);
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer error="invalid_token"/);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
    const meta = (await (await fetch(metadataUrl)).json()) as { resource: string; authorization_servers: string[] };
    expect(meta.resource).toBe(`mcp:${group}`);
    expect(meta.authorization_servers).toEqual([issuer]);
  });

  it('when the read-only client lists tools and calls server_info, then it is served; a write tool with the same token is 403', async () => {
    const client: Client = await connectMcp(url(), await readToken());
    let writeTool: string | undefined;
    try {
      const { tools } = await client.listTools();
      expect(tools.some((t) => t.name === 'server_info')).toBe(true);
      const info = await callOk<{ server?: string }>(client, 'server_info', {});
      expect(info).toBeDefined();
      writeTool = tools.find((t) => t.annotations?.readOnlyHint !== true)?.name;
    } finally {
      await client.close();
    }
    expect(writeTool).toBeDefined();
    const res = await post(url(), rpc('tools/call', { name: writeTool, arguments: {} }), {
      authorization: `Bearer ${await readToken()}`,
    });
    attack('write tool with read-only token', res.status === 403);
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  });

  it('when one client floods, then it gets 429 with Retry-After while another client is still served', async () => {
    const token = await groupTokens.get(group)!.getToken();
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < RATE_PER_MIN + 4; i++) {
      const res = await post(url(), rpc('ping'), { authorization: `Bearer ${token}` });
      await res.arrayBuffer();
      statuses.push(res.status);
      if (res.status === 429) retryAfter ??= res.headers.get('retry-after');
    }
    const limited = statuses.filter((s) => s === 429).length;
    attack(`flood of ${statuses.length} requests`, limited >= 4);
    expect(limited).toBeGreaterThanOrEqual(4);
    expect(statuses.slice(0, RATE_PER_MIN - 2).every((s) => s !== 429)).toBe(true);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const other = await post(url(), rpc('ping'), { authorization: `Bearer ${await readToken()}` });
    expect(other.status).not.toBe(429);
    expect(other.status).toBeLessThan(300);
  });
});
