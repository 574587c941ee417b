import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { McpCallError } from '../../../src/mcp/call-error';
import { McpClientPool } from '../../../src/mcp/pool';
import { toolSchemaHash } from '../../../src/mcp/schema-hash';
import { pidAlive } from '../../../src/mcp/stdio-process';
import { registrySchema, type Registry } from '../../../src/registry/registry';

jest.setTimeout(60_000);

const STUB = path.join(__dirname, 'fixtures/stub-server.mjs');
const FS_SERVER = path.resolve(__dirname, '../../../node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');

function stdioRegistry(endpoint: Record<string, unknown>, extra: Record<string, unknown> = {}): Registry {
  return registrySchema.parse({ groups: { s: { endpoints: [{ transport: 'stdio', ...endpoint }], ...extra } } });
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('stdio MCP servers in the pool', () => {
  const pools: McpClientPool[] = [];
  const stderr: string[] = [];
  const pool = (registry: Registry, env: NodeJS.ProcessEnv = process.env) => {
    const p = new McpClientPool(registry, { env, schemaHashes: true, stdioStderr: (g, line) => stderr.push(`[${g}] ${line}`) });
    pools.push(p);
    return p;
  };
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stdio-pool-'))));
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('when a stdio server is first called, then it starts, answers, and the call carries the tool schema hash of its catalog', async () => {
    const p = pool(stdioRegistry({ command: 'node', args: [FS_SERVER, '${STDIO_TEST_DIR}'] }), { ...process.env, STDIO_TEST_DIR: dir });
    // Lazy: nothing runs until the first call.
    expect(p.stdioPids()).toEqual([]);
    expect(p.poolStatus().groups[0]!.endpoints[0]).toMatchObject({ transport: 'stdio', process: { state: 'idle', starts: 0 } });
    const wrote = await p.callTool('s', 'write_file', { path: 'a.txt', content: 'hello' }, { meta: { idempotencyKey: 'k1' } });
    expect(wrote.result.isError).toBeFalsy();
    expect(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('hello');
    expect(wrote.endpoint).toBe(`stdio:node ${FS_SERVER} \${STDIO_TEST_DIR}`);
    const { tools } = await p.listTools('s');
    const listed = tools.find((t) => t.name === 'write_file')!;
    expect(wrote.schemaHash).toBe(toolSchemaHash(listed));
    const status = p.poolStatus().groups[0]!.endpoints[0]!;
    expect(status.process).toMatchObject({ state: 'running', starts: 1, crashes: 0 });
    expect(status.url).toMatch(/^stdio:node /);
    // The child's stderr reaches the worker's stderr prefixed with its group.
    expect(stderr.some((l) => l.startsWith('[s] Secure MCP Filesystem Server running on stdio'))).toBe(true);
  });

  test('when the process is killed, then the pool restarts it and the next call succeeds', async () => {
    const p = pool(stdioRegistry({ command: 'node', args: [STUB] }));
    const first = await p.callTool('s', 'echo', { text: 'one' });
    const pid1 = (first.result.structuredContent as { pid: number }).pid;
    expect(p.stdioPids('s')).toEqual([pid1]);
    process.kill(pid1, 'SIGKILL');
    const pid2 = await until('a restarted process', () => p.stdioPids('s').find((pid) => pid !== pid1));
    const next = await p.callTool('s', 'echo', { text: 'two' });
    expect(next.result.structuredContent).toEqual({ text: 'two', pid: pid2 });
    expect(p.poolStatus().groups[0]!.endpoints[0]!.process).toMatchObject({ state: 'running', starts: 2, crashes: 1 });
    expect(pidAlive(pid1)).toBe(false);
  });

  test('when a call is in flight as the process dies, then it fails as a retryable ServerUnavailable that the breaker counts', async () => {
    const p = pool(stdioRegistry({ command: 'node', args: [STUB] }, { breaker: { failure_threshold: 1, recovery_timeout: '300ms' } }));
    await p.callTool('s', 'echo', { text: 'warm' });
    const [pid] = p.stdioPids('s');
    const inFlight = p.callTool('s', 'sleep', { ms: 5000 });
    await until('the call in flight', () => (p.poolStatus().groups[0]!.endpoints[0]!.inFlight === 1 ? true : undefined));
    process.kill(pid!, 'SIGKILL');
    const err = await inFlight.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(McpCallError);
    expect(err).toMatchObject({ type: 'ServerUnavailable', retryable: true });
    const status = p.poolStatus().groups[0]!.endpoints[0]!;
    expect(status.transportFailures).toBe(1);
    expect(status.breaker.state).toBe('open');
    // Once the breaker lets a trial through, the restarted server answers.
    await until('a restarted process', () => p.stdioPids('s').find((x) => x !== pid));
    await new Promise((r) => setTimeout(r, 350));
    const ok = await p.callTool('s', 'echo', { text: 'back' });
    expect((ok.result.structuredContent as { text: string }).text).toBe('back');
  });

  test('when the server announces a changed tool list, then the next calls report the new schema hash', async () => {
    const p = pool(stdioRegistry({ command: 'node', args: [STUB] }));
    const before = (await p.callTool('s', 'echo', { text: 'a' })).schemaHash;
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    await p.callTool('s', 'reshape', {});
    // The notification may arrive just after the reshape answer: a few calls at most.
    let after = before;
    for (let i = 0; i < 20 && after === before; i++) {
      after = (await p.callTool('s', 'echo', { text: 'b' })).schemaHash;
      if (after === before) await new Promise((r) => setTimeout(r, 50));
    }
    expect(after).toMatch(/^[0-9a-f]{64}$/);
    expect(after).not.toBe(before);
  });

  test('when a stdio server is started, then it gets its configured env and cwd but not the worker secrets', async () => {
    const p = pool(stdioRegistry({ command: 'node', args: [STUB], env: { STUB_GREETING: '${GREETING:-hi}' }, cwd: dir }), { ...process.env, STDIO_TEST_SECRET: 's3cret' });
    process.env.STDIO_TEST_SECRET = 's3cret';
    try {
      const r = await p.callTool('s', 'env', {});
      const text = (r.result.content[0] as { text: string }).text;
      expect(JSON.parse(text)).toEqual({ STUB_GREETING: 'hi', LEAK: null, cwd: fs.realpathSync(dir) });
    } finally {
      delete process.env.STDIO_TEST_SECRET;
    }
  });

  test('when a referenced variable is unset, then the call fails at once, not retryable, naming it', async () => {
    const p = pool(stdioRegistry({ command: 'node', args: [STUB, '${STDIO_UNSET_VAR}'] }), {});
    await expect(p.callTool('s', 'echo', { text: 'x' })).rejects.toMatchObject({
      retryable: false,
      message: expect.stringContaining('environment variable STDIO_UNSET_VAR is not set'),
    });
    expect(p.stdioPids()).toEqual([]);
  });

  test('when the pool closes, then no child process is left, even one that ignores SIGTERM', async () => {
    const p = new McpClientPool(
      registrySchema.parse({
        groups: {
          a: { endpoints: [{ transport: 'stdio', command: 'node', args: [STUB] }] },
          b: { endpoints: [{ transport: 'stdio', command: 'node', args: [STUB], env: { IGNORE_SIGTERM: '1' }, shutdown_grace: '300ms' }] },
        },
      }),
      { stdioStderr: (g, line) => stderr.push(`[${g}] ${line}`) },
    );
    await p.callTool('a', 'echo', { text: 'x' });
    await p.callTool('b', 'echo', { text: 'x' });
    const pids = p.stdioPids();
    expect(pids).toHaveLength(2);
    const t0 = Date.now();
    await p.close();
    const closeMs = Date.now() - t0;
    expect(pids.filter(pidAlive)).toEqual([]);
    // The stubborn one was given its grace, then killed.
    expect(closeMs).toBeGreaterThanOrEqual(290);
    expect(stderr.some((l) => l.includes('[b] ignoring SIGTERM'))).toBe(true);
    // And nothing restarts it afterwards.
    await new Promise((r) => setTimeout(r, 300));
    expect(p.stdioPids()).toEqual([]);
    await expect(p.callTool('a', 'echo', { text: 'x' })).rejects.toBeInstanceOf(McpCallError);
  });
});

describe('third-party HTTP servers with their own token', () => {
  let server: http.Server;
  const seen: Array<string | undefined> = [];
  let url: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(503).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('when an endpoint has bearer_token_env, then it receives that token and never the stack token', async () => {
    const registry = registrySchema.parse({ groups: { w: { endpoints: [{ url, bearer_token_env: 'W_TOKEN' }] } } });
    const stack = jest.fn(async () => 'STACK-JWT');
    const p = new McpClientPool(registry, { env: { W_TOKEN: 'their-token' }, tokenFor: stack });
    await expect(p.callTool('w', 'anything', {})).rejects.toBeInstanceOf(McpCallError);
    await p.close();
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set(['Bearer their-token']));
    expect(stack).not.toHaveBeenCalled();
  });

  test('when its token variable is unset, then the call fails as unauthorized without reaching the server', async () => {
    seen.length = 0;
    const registry = registrySchema.parse({ groups: { w: { endpoints: [{ url, bearer_token_env: 'W_TOKEN' }] } } });
    const p = new McpClientPool(registry, { env: {}, tokenFor: async () => 'STACK-JWT' });
    await expect(p.callTool('w', 'anything', {})).rejects.toMatchObject({ type: 'McpUnauthorized', retryable: false, message: expect.stringContaining('W_TOKEN') });
    await p.close();
    expect(seen).toEqual([]);
  });
});
