import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { type AesGcmPayloadCodec, loadDataConverter } from '../../../src/codec';
import { temporalCliPath } from '../../../src/client/stack/temporal-dev-server';
import { readClientCredentials, TokenProvider } from '../../../src/servers/kit/auth';
import { startSecurityServer, type StartedSecurityServer } from '../../../src/servers/security/main';
import type { CodecTestActivities } from './codec-workflows';

const run = promisify(execFile);
jest.setTimeout(120_000);

const MARKER = `marker-${crypto.randomBytes(6).toString('hex')}`;
const ENCRYPTED_B64 = Buffer.from('binary/encrypted').toString('base64');
const JSON_PLAIN_B64 = Buffer.from('json/plain').toString('base64');

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** Every `{ metadata: { encoding }, data }` object anywhere in a JSON document (history events nest them). */
function payloadsIn(node: unknown, out: JsonPayload[] = []): JsonPayload[] {
  if (Array.isArray(node)) for (const n of node) payloadsIn(n, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    const meta = o.metadata as Record<string, unknown> | undefined;
    if (meta && typeof meta === 'object' && typeof meta.encoding === 'string') out.push(o as JsonPayload);
    else for (const v of Object.values(o)) payloadsIn(v, out);
  }
  return out;
}

let dir: string;
let security: StartedSecurityServer;
let issuer: string;
let credentialsFile: string;
let address: string;
let cli: string;
let dataConverter: DataConverter;
let worker: Worker;
let running: Promise<void>;
let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;
const taskQueue = `codec-it-${crypto.randomBytes(3).toString('hex')}`;

const tokenOf = (clientId: string, audience: string) =>
  new TokenProvider({
    tokenUrl: `${issuer}/oauth/token`,
    clientId,
    clientSecret: readClientCredentials(credentialsFile, clientId).clientSecret,
    audience,
  }).getToken();

const postCodec = (kind: 'decode' | 'encode', body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${issuer}/codec/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });

async function showHistory(workflowId: string, extra: string[] = []): Promise<string> {
  const { stdout } = await run(
    cli,
    ['workflow', 'show', '-w', workflowId, '--output', 'json', '--address', address, '--namespace', 'default', '--color', 'never', ...extra],
    { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

async function runEcho(workflowId: string) {
  return client.workflow.execute('codecEchoWorkflow', { taskQueue, workflowId, args: [{ marker: MARKER }], workflowExecutionTimeout: '60s' });
}

beforeAll(async () => {
  address = process.env.TEMPORAL_ADDRESS!;
  if (!address) throw new Error('TEMPORAL_ADDRESS unset: run through jest.config.js (global setup starts Temporal)');
  cli = process.env.MCP_IT_TEMPORAL_BIN ?? temporalCliPath();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-codec-it-'));
  security = await startSecurityServer({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'security'), requireAuth: true });
  issuer = security.server.url;
  credentialsFile = path.join(dir, 'security', 'clients.secret.json');
  const converter = await loadDataConverter({
    ...process.env,
    MCP_PAYLOAD_CODEC: 'aes-gcm',
    MCP_AUTH_ISSUER: issuer,
    MCP_CLIENT_CREDENTIALS_FILE: credentialsFile,
  });
  if (!converter) throw new Error('loadDataConverter returned undefined with MCP_PAYLOAD_CODEC=aes-gcm');
  dataConverter = converter;

  const activities: CodecTestActivities = { shout: async (text) => `loud ${text}` };
  nativeConnection = await NativeConnection.connect({ address });
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./codec-workflows'), logger: { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => process.stderr.write(`${m}\n`), log: () => undefined } });
  worker = await Worker.create({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: { code },
    activities,
    dataConverter,
    shutdownGraceTime: '1s',
  });
  running = worker.run();
  connection = await Connection.connect({ address });
  client = new Client({ connection, namespace: 'default', dataConverter });
});

afterAll(async () => {
  if (worker) {
    worker.shutdown();
    await running.catch(() => undefined);
  }
  await nativeConnection?.close();
  await connection?.close();
  await security?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('encrypted Temporal history (MCP_PAYLOAD_CODEC=aes-gcm)', () => {
  const workflowId = `codec-echo-${crypto.randomBytes(4).toString('hex')}`;
  let historyPayloads: JsonPayload[] = [];

  test('when the codec is off, then loadDataConverter returns undefined (Temporal default converter)', async () => {
    expect(await loadDataConverter({ ...process.env, MCP_PAYLOAD_CODEC: 'off' })).toBeUndefined();
    expect(await loadDataConverter({ ...process.env, MCP_PAYLOAD_CODEC: '' })).toBeUndefined();
    await expect(loadDataConverter({ ...process.env, MCP_PAYLOAD_CODEC: 'aes' })).rejects.toThrow(/MCP_PAYLOAD_CODEC must be/);
  });

  test('when a Worker and a Client use the codec, then the workflow runs and `temporal workflow show` prints only encrypted payloads', async () => {
    expect(await runEcho(workflowId)).toEqual({ echoed: `loud ${MARKER}`, marker: MARKER });
    const stdout = await showHistory(workflowId);
    expect(stdout).not.toContain(MARKER);
    expect(stdout).not.toContain(JSON_PLAIN_B64);
    historyPayloads = payloadsIn(JSON.parse(stdout));
    // Workflow input, activity input, activity result, workflow result.
    expect(historyPayloads.length).toBeGreaterThanOrEqual(4);
    const activeKid = (dataConverter.payloadCodecs![0] as AesGcmPayloadCodec).activeKey;
    for (const p of historyPayloads) {
      expect(p.metadata!.encoding).toBe(ENCRYPTED_B64);
      expect(Buffer.from(p.metadata!['encryption-key-id']!, 'base64').toString()).toBe(activeKid);
      expect(Buffer.from(p.data!, 'base64').toString('latin1')).not.toContain(MARKER);
    }
  });

  test('when an operator with codec:decode posts those payloads to the codec endpoint, then the decoded JSON contains the marker', async () => {
    expect(historyPayloads.length).toBeGreaterThanOrEqual(4);
    const token = await tokenOf('codec-operator', 'mcp:codec');
    const res = await postCodec('decode', { payloads: historyPayloads }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { payloads: JsonPayload[] };
    expect(body.payloads).toHaveLength(historyPayloads.length);
    for (const p of body.payloads) expect(p.metadata!.encoding).toBe(JSON_PLAIN_B64);
    const texts = body.payloads.map((p) => Buffer.from(p.data!, 'base64').toString('utf8'));
    expect(texts.filter((t) => t.includes(MARKER)).length).toBe(texts.length);
    expect(texts).toContain(JSON.stringify({ marker: MARKER }));
    expect(texts).toContain(JSON.stringify(`loud ${MARKER}`));
    const audited = security.deps.audit.query({ action: 'codec.decode', actor: 'codec-operator' }, 10).entries;
    expect(audited.some((e) => e.outcome === 'allow')).toBe(true);
  });

  test('when the Temporal CLI is pointed at the codec endpoint with an operator token, then it shows the history decoded', async () => {
    const token = await tokenOf('codec-operator', 'mcp:codec');
    const stdout = await showHistory(workflowId, ['--codec-endpoint', `${issuer}/codec`, '--codec-auth', `Bearer ${token}`]);
    const payloads = payloadsIn(JSON.parse(stdout));
    expect(payloads).toHaveLength(historyPayloads.length);
    // JSON output keeps `data` in base64; the codec turned every payload back into plain JSON.
    for (const p of payloads) {
      expect(p.metadata!.encoding).toBe(JSON_PLAIN_B64);
      expect(Buffer.from(p.data!, 'base64').toString('utf8')).toContain(MARKER);
    }
  });

  test('when the codec endpoint is called without a token, with a keys-only token or with another audience, then it refuses (401/403) and decodes nothing', async () => {
    const body = { payloads: historyPayloads.slice(0, 1) };
    const none = await postCodec('decode', body);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    expect(await none.text()).not.toContain(MARKER);

    const garbage = await postCodec('decode', body, { authorization: 'Bearer not.a.jwt' });
    expect(garbage.status).toBe(401);

    const keysOnly = await postCodec('decode', body, { authorization: `Bearer ${await tokenOf('orchestrator-codec', 'mcp:codec')}` });
    expect(keysOnly.status).toBe(403);
    expect(((await keysOnly.json()) as { error: string }).error).toBe('insufficient_scope');

    const otherAudience = await postCodec('decode', body, { authorization: `Bearer ${await tokenOf('orchestrator-data', 'mcp:data')}` });
    expect(otherAudience.status).toBe(401);

    const encodeNoToken = await postCodec('encode', body);
    expect(encodeNoToken.status).toBe(401);

    const denied = security.deps.audit.query({ action: 'codec.decode', outcome: 'deny' }, 50).entries;
    expect(denied.length).toBeGreaterThanOrEqual(4);
  });

  test('when the key endpoint is asked without codec:keys, then it refuses; with it, it hands out the keys', async () => {
    expect((await fetch(`${issuer}/codec/keys`)).status).toBe(401);
    const operator = await fetch(`${issuer}/codec/keys`, { headers: { authorization: `Bearer ${await tokenOf('codec-operator', 'mcp:codec')}` } });
    expect(operator.status).toBe(403);
    const ok = await fetch(`${issuer}/codec/keys`, { headers: { authorization: `Bearer ${await tokenOf('orchestrator-codec', 'mcp:codec')}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const keys = (await ok.json()) as { activeKeyId: string; keys: { id: string; key: string }[] };
    expect(keys.keys.map((k) => k.id)).toContain(keys.activeKeyId);
    expect(Buffer.from(keys.keys[0]!.key, 'base64')).toHaveLength(32);
  });

  test('when Temporal Web UI preflights from its origin, then CORS allows it; other origins are refused', async () => {
    const pre = await fetch(`${issuer}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:8233', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-namespace');
    const evil = await fetch(`${issuer}/codec/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('when an operator starts a browser session with the codec-operator credentials, then the Web UI origin decodes with the cookie alone', async () => {
    expect((await fetch(`${issuer}/codec/login`)).status).toBe(200);
    const secret = readClientCredentials(credentialsFile, 'codec-operator').clientSecret;
    const wrong = await fetch(`${issuer}/codec/session`, { method: 'POST', body: new URLSearchParams({ client_id: 'codec-operator', client_secret: `${secret}x` }) });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const login = await fetch(`${issuer}/codec/session`, { method: 'POST', body: new URLSearchParams({ client_id: 'codec-operator', client_secret: secret }) });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^mcp_codec_session=[^;]+; Path=\/codec; HttpOnly; SameSite=Strict; Max-Age=\d+/);
    const cookie = setCookie.split(';')[0]!;
    const ui = 'http://127.0.0.1:8233';
    const res = await postCodec('decode', { payloads: historyPayloads }, { cookie, origin: ui });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ui);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(JSON.stringify(await res.json())).not.toContain(ENCRYPTED_B64);
    // A keys-only token in the cookie does not open decode.
    const keysOnly = await postCodec('decode', { payloads: historyPayloads }, { cookie: `mcp_codec_session=${await tokenOf('orchestrator-codec', 'mcp:codec')}` });
    expect(keysOnly.status).toBe(403);
    const logout = await fetch(`${issuer}/codec/logout`, { method: 'POST' });
    expect(logout.headers.get('set-cookie')).toContain('Max-Age=0');
  });

  test('when the payload key is rotated, then new histories use the new key id and the old history still decodes', async () => {
    const codec = dataConverter.payloadCodecs![0] as AesGcmPayloadCodec;
    const oldKid = codec.activeKey;
    const { kid } = security.deps.payloadKeys.rotate();
    // Workers pick the new key up within MCP_CODEC_KEY_REFRESH_S; force it here.
    expect(await codec.refreshKeys()).toBe(true);
    expect(codec.activeKey).toBe(kid);
    const id2 = `${workflowId}-rotated`;
    expect(await runEcho(id2)).toEqual({ echoed: `loud ${MARKER}`, marker: MARKER });
    const kids = payloadsIn(JSON.parse(await showHistory(id2))).map((p) => Buffer.from(p.metadata!['encryption-key-id']!, 'base64').toString());
    expect(new Set(kids)).toEqual(new Set([kid]));
    expect(await client.workflow.getHandle(workflowId).result()).toEqual({ echoed: `loud ${MARKER}`, marker: MARKER });
    const token = await tokenOf('codec-operator', 'mcp:codec');
    const res = await postCodec('decode', { payloads: historyPayloads }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    const decoded = (await res.json()) as { payloads: JsonPayload[] };
    expect(historyPayloads.every((p) => Buffer.from(p.metadata!['encryption-key-id']!, 'base64').toString() === oldKid)).toBe(true);
    expect(decoded.payloads.every((p) => Buffer.from(p.data!, 'base64').toString().includes(MARKER))).toBe(true);
  });
});
