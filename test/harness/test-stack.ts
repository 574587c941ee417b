import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { PACKAGE_ROOT } from '../../src/client/stack/entry';
import { waitFor } from '../../src/client/stack/processes';
import { orchestratorQueue, PIPELINE_WORKFLOW, taskQueueFor } from '../../src/shared/constants';
import { planPipeline, type Plan } from '../../src/shared/plan';
import { parsePipelineSpec } from '../../src/shared/spec-parse';
import type { RunReport } from '../../src/shared/run-types';
import { createOrchestratorWorker, type OrchestratorWorkerOptions } from '../../src/workers/orchestrator-worker';
import { startDataServer } from '../../src/servers/data/main';
import { startStorageServer } from '../../src/servers/storage/main';
import { startSecurityServer } from '../../src/servers/security/main';
import { readClientCredentials, TokenProvider, type McpAuthSettings } from '../../src/servers/kit/auth';

/**
 * A loopback reverse proxy that adds a bearer token: how a test, acting as an operator holding the
 * group client's credentials, talks to a server that requires JWTs through a plain `connectMcp(url)`.
 */
async function startTokenProxy(target: string, token: () => Promise<string>): Promise<{ url: string; close(): Promise<void> }> {
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    token().then(
      (bearer) => {
        const up = http.request(
          { host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host, authorization: `Bearer ${bearer}` } },
          (ur) => {
            res.writeHead(ur.statusCode ?? 502, ur.headers);
            ur.pipe(res);
          },
        );
        up.on('error', () => {
          if (!res.headersSent) res.writeHead(502);
          res.end();
        });
        req.pipe(up);
      },
      (err: unknown) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`token proxy: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${t.pathname}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A real stack for one test file: the suite's Temporal dev server (global setup), real MCP servers
 * on free ports, one worker PROCESS per server group (so tests can SIGKILL them) and an in-process
 * orchestrator worker. A unique task-queue prefix keeps test files from taking each other's tasks.
 * Authentication is ON as in production: an in-process security server issues the JWTs that the
 * data and storage servers require, and each worker gets its group's client credentials file.
 */
export interface TestStack {
  dir: string;
  prefix: string;
  client: Client;
  /**
   * MCP endpoints for the test itself: loopback proxies that add a token of the group's client
   * (`orchestrator-<group>`), since the servers require one. Workers call `serverUrls` with their own tokens.
   */
  urls: Record<string, string>;
  /** The servers' own MCP endpoints (JWT required). */
  serverUrls: Record<string, string>;
  serviceToken: string;
  /** The security server's base URL (token issuer, JWKS). */
  issuer: string;
  /** The generated client credentials (`clients.secret.json`, 0600). */
  credentialsFile: string;
  startWorker(group: string): Promise<ChildProcess>;
  killWorker(group: string, signal?: NodeJS.Signals): Promise<void>;
  plan(yaml: string, input?: Record<string, unknown>): Plan;
  start(plan: Plan, workflowId?: string): Promise<WorkflowHandle>;
  run(plan: Plan, workflowId?: string): Promise<RunReport>;
  close(): Promise<void>;
}

export async function startTestStack(opts: { groups: Array<'data' | 'storage'>; seedRows?: number }): Promise<TestStack> {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS unset: run integration tests through jest.config.js (global setup starts Temporal)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-stack-'));
  const prefix = `t${crypto.randomBytes(3).toString('hex')}-`;
  const serviceToken = crypto.randomBytes(16).toString('hex');
  const closers: Array<() => Promise<void>> = [];
  const urls: Record<string, string> = {};
  const serverUrls: Record<string, string> = {};

  const security = await startSecurityServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: path.join(dir, 'security'),
    requireAuth: true,
  });
  closers.push(() => security.close());
  const issuer = security.server.url;
  const credentialsFile = path.join(dir, 'security', 'clients.secret.json');
  const auth: McpAuthSettings = { mode: 'jwt', issuer, jwksUrl: `${issuer}/.well-known/jwks.json` };

  const storage = await startStorageServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: path.join(dir, 'storage'),
    allowedHosts: [],
    allowedOrigins: [],
    maxBodyBytes: 64 * 1024 * 1024,
    serviceToken,
  }, { auth });
  closers.push(() => storage.close());
  serverUrls.storage = storage.server.mcpUrl;
  if (opts.groups.includes('data')) {
    const data = await startDataServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: path.join(dir, 'data'),
      seedRows: opts.seedRows ?? 20_000,
      storageUrl: storage.server.url,
      serviceToken,
    }, { auth });
    closers.push(() => data.close());
    serverUrls.data = data.server.mcpUrl;
  }
  for (const [g, url] of Object.entries(serverUrls)) {
    const provider = new TokenProvider({
      tokenUrl: `${issuer}/oauth/token`,
      clientId: `orchestrator-${g}`,
      clientSecret: readClientCredentials(credentialsFile, `orchestrator-${g}`).clientSecret,
      audience: `mcp:${g}`,
    });
    const proxy = await startTokenProxy(url, () => provider.getToken());
    closers.push(() => proxy.close());
    urls[g] = proxy.url;
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: address,
    MCP_TASK_QUEUE_PREFIX: prefix,
    MCP_SERVERS_CONFIG: path.join(PACKAGE_ROOT, 'config', 'servers.yaml'),
    MCP_AUTH: 'jwt',
    MCP_AUTH_ISSUER: issuer,
    MCP_CLIENT_CREDENTIALS_FILE: credentialsFile,
  };
  delete env.MCP_CLIENT_ID;
  delete env.MCP_CLIENT_SECRET;
  for (const [g, url] of Object.entries(serverUrls)) env[`MCP_${g.toUpperCase()}_ENDPOINTS`] = url;

  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const workers = new Map<string, ChildProcess>();

  const waitForPoller = (queue: string, type: 1 | 2) =>
    waitFor(`poller on ${queue}`, async () => {
      const r = await connection.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType: type });
      // Pollers are remembered for a while after a worker dies; only a recent poll counts.
      const now = Date.now() / 1000;
      return (r.pollers ?? []).some((p) => now - Number(p.lastAccessTime?.seconds ?? 0) < 5);
    }, 60_000, 200);

  const startWorker = async (group: string) => {
    const log = fs.openSync(path.join(dir, `worker-${group}.log`), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PACKAGE_ROOT, 'src/workers/main.ts'), '--group', group], {
      env,
      cwd: PACKAGE_ROOT,
      stdio: ['ignore', log, log],
    });
    workers.set(group, child);
    await waitForPoller(taskQueueFor(group, prefix), 2);
    return child;
  };
  for (const g of opts.groups) await startWorker(g);

  const nativeConnection = await NativeConnection.connect({ address });
  const orchestrator = await testOrchestratorWorker(nativeConnection, prefix);
  const running = orchestrator.run();

  const stack: TestStack = {
    dir,
    prefix,
    client,
    urls,
    serverUrls,
    serviceToken,
    issuer,
    credentialsFile,
    startWorker,
    async killWorker(group, signal = 'SIGKILL') {
      const child = workers.get(group);
      if (!child || child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      await exited;
      workers.delete(group);
    },
    plan(yaml, input) {
      return planPipeline(parsePipelineSpec(yaml), { input, servers: ['data', 'storage', 'compute', 'integration', 'security', 'notification'] });
    },
    async start(plan, workflowId) {
      return client.workflow.start(PIPELINE_WORKFLOW, {
        taskQueue: orchestratorQueue(prefix),
        workflowId: workflowId ?? `${plan.name}-${crypto.randomBytes(4).toString('hex')}`,
        args: [{ plan, taskQueuePrefix: prefix }],
      });
    },
    async run(plan, workflowId) {
      return (await stack.start(plan, workflowId)).result();
    },
    async close() {
      for (const g of [...workers.keys()]) await stack.killWorker(g, 'SIGTERM');
      orchestrator.shutdown();
      await running.catch(() => undefined);
      await nativeConnection.close();
      await connection.close();
      for (const c of closers.reverse()) await c().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** An orchestrator worker on the test server, running the workflow bundle that global setup built once. */
export function testOrchestratorWorker(connection: NativeConnection, taskQueuePrefix: string, extra: Partial<OrchestratorWorkerOptions> = {}) {
  const bundlePath = process.env.MCP_IT_WORKFLOW_BUNDLE;
  return createOrchestratorWorker({
    connection,
    namespace: 'default',
    taskQueuePrefix,
    workflowBundle: bundlePath ? { code: fs.readFileSync(bundlePath, 'utf8') } : undefined,
    shutdownGraceTime: '1s',
    ...extra,
  });
}
