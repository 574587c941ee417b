import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { down, stackPaths, up, type StackInfo, type StackPaths } from '../../src/client/stack/stack';
import { entryCommand, entryExists, PACKAGE_ROOT } from '../../src/client/stack/entry';
import { isAlive, spawnBackground, stopProcess, waitFor } from '../../src/client/stack/processes';
import { freePort } from '../../src/client/stack/temporal-dev-server';
import { orchestratorQueue, PIPELINE_WORKFLOW, SERVER_GROUPS } from '../../src/shared/constants';
import { planPipeline, type Plan } from '../../src/shared/plan';
import { parsePipelineSpec } from '../../src/shared/spec-parse';
import { readClientCredentials, TokenProvider } from '../../src/servers/kit/auth';
import { callOk, connectMcp } from './mcp-client';

/**
 * The WHOLE stack as processes, started by the project's own runner `up()`: the six MCP servers
 * (security first, JWTs on), one worker per group, the orchestrator worker, and the model-serving
 * service, on free ports with a throw-away data root and a unique task-queue prefix. Temporal is the
 * suite's dev server (global setup sets TEMPORAL_ADDRESS, so `up()` does not start one).
 */
export interface FullStack {
  root: string;
  paths: StackPaths;
  prefix: string;
  info: StackInfo;
  client: Client;
  /** Base URLs (no /mcp) of the servers, by group. */
  baseUrls: Record<string, string>;
  servingUrl: string;
  /** The stack's service token (object API, model-serving API). */
  serviceToken: string;
  /** The pipeline spec planned with the given inputs (defaults: the stack's serving URL and token). */
  plan(yaml: string, input?: Record<string, unknown>): Plan;
  start(plan: Plan, workflowId?: string): Promise<WorkflowHandle>;
  /** An MCP client for one server, holding a token of that group's client. Close it after use. */
  mcp(group: string): Promise<McpClient>;
  /** Calls one tool once (connect, call, close); fails on isError. */
  call<T = Record<string, unknown>>(group: string, tool: string, args?: Record<string, unknown>): Promise<T>;
  /** HTTP to model-serving with the service token. */
  serving(method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }>;
  close(): Promise<void>;
}

const ENV_KEYS = [
  'MCP_TASK_QUEUE_PREFIX',
  'MCP_DATA_ROOT',
  'MCP_STACK_GROUPS',
  'MCP_AUTH',
  'MCP_MODEL_SERVING_PORT',
  'MCP_WORKFLOW_PORT',
  'MCP_INTEGRATION_ALLOW',
  ...SERVER_GROUPS.map((g) => `MCP_${g.toUpperCase()}_PORT`),
  ...SERVER_GROUPS.map((g) => `MCP_${g.toUpperCase()}_ENDPOINTS`),
];

export async function startFullStack(opts: { seedRows?: number; log?: (l: string) => void } = {}): Promise<FullStack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startFullStackOnce(opts);
    } catch (err) {
      // The ports are picked free before up() starts the servers one after another, seconds apart. On
      // a busy machine something else (a parallel suite, an outgoing connection's ephemeral port) can
      // take one in between, and that server exits with EADDRINUSE. Picking the ports again is the cure.
      const message = err instanceof Error ? err.message : String(err);
      if (attempt >= 3 || !message.includes('EADDRINUSE')) throw err;
      (opts.log ?? (() => undefined))(`full stack: a port was taken before its server bound it; new ports, attempt ${attempt + 1}`);
    }
  }
}

async function startFullStackOnce(opts: { seedRows?: number; log?: (l: string) => void }): Promise<FullStack> {
  if (!process.env.TEMPORAL_ADDRESS) throw new Error('TEMPORAL_ADDRESS unset: run e2e tests through jest.config.js (global setup starts Temporal)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-e2e-'));
  const paths = stackPaths(root);
  const prefix = `e2e${crypto.randomBytes(3).toString('hex')}-`;
  const log = opts.log ?? (() => undefined);

  // up() reads ports and the queue prefix from process.env; restore them afterwards.
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  const restoreEnv = () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  const baseUrls: Record<string, string> = {};
  for (const g of SERVER_GROUPS) {
    const port = await stablePort();
    process.env[`MCP_${g.toUpperCase()}_PORT`] = String(port);
    delete process.env[`MCP_${g.toUpperCase()}_ENDPOINTS`];
    baseUrls[g] = `http://127.0.0.1:${port}`;
  }
  const servingPort = await stablePort();
  const servingUrl = `http://127.0.0.1:${servingPort}`;
  process.env.MCP_MODEL_SERVING_PORT = String(servingPort);
  process.env.MCP_WORKFLOW_PORT = String(await stablePort());
  // up() admits the stack's own origins (servers and model-serving) on the integration allowlist.
  delete process.env.MCP_INTEGRATION_ALLOW;
  process.env.MCP_TASK_QUEUE_PREFIX = prefix;
  process.env.MCP_DATA_ROOT = root;
  delete process.env.MCP_STACK_GROUPS;
  delete process.env.MCP_AUTH;

  const env: NodeJS.ProcessEnv = {
    MCP_DATA_SEED_ROWS: String(opts.seedRows ?? 60_000),
    MCP_SERVERS_CONFIG: path.join(PACKAGE_ROOT, 'config', 'servers.yaml'),
    // The notification server's in-process SMTP sink defaults to 2525: other stacks may hold it.
    MCP_SMTP_SINK_PORT: String(await stablePort()),
  };

  let info: StackInfo;
  let serviceToken: string;
  let servingPid: number | undefined;
  try {
    info = await up({ paths, env, log });
    const state = JSON.parse(fs.readFileSync(paths.state, 'utf8')) as { serviceToken: string };
    serviceToken = state.serviceToken;
    // up() starts model-serving in this build; a build without it in the runner gets one started here.
    if (!(await healthy(servingUrl))) {
      if (!entryExists('servers/model-serving/main')) throw new Error('src/servers/model-serving/main.ts is missing');
      const { command, args } = entryCommand('servers/model-serving/main');
      servingPid = spawnBackground(command, args, {
        env: {
          ...process.env,
          MCP_DATA_ROOT: root,
          MCP_MODEL_SERVING_PORT: String(servingPort),
          MCP_STORAGE_URL: baseUrls.storage,
          MCP_SERVICE_TOKEN: serviceToken,
        },
        logFile: path.join(paths.logs, 'server-model-serving.log'),
        cwd: PACKAGE_ROOT,
      });
      await waitFor(`model-serving at ${servingUrl}`, async () => {
        if (!isAlive(servingPid!)) throw new Error(`model-serving exited; see ${paths.logs}/server-model-serving.log`);
        return healthy(servingUrl);
      }, 60_000, 250);
    }
  } catch (err) {
    if (servingPid !== undefined) await stopProcess(servingPid, 5_000);
    await down({ paths, log }).catch(() => undefined);
    throw err;
  } finally {
    // The processes have their environment; this jest worker gets its own back.
    restoreEnv();
  }

  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
  const credentialsFile = path.join(root, 'security', 'clients.secret.json');
  const providers = new Map<string, TokenProvider>();
  const tokenFor = (group: string) => {
    let p = providers.get(group);
    if (!p) {
      p = new TokenProvider({
        tokenUrl: `${baseUrls.security}/oauth/token`,
        clientId: `orchestrator-${group}`,
        clientSecret: readClientCredentials(credentialsFile, `orchestrator-${group}`).clientSecret,
        audience: `mcp:${group}`,
      });
      providers.set(group, p);
    }
    return p.getToken();
  };

  const stack: FullStack = {
    root,
    paths,
    prefix,
    info,
    client,
    baseUrls,
    servingUrl,
    serviceToken,
    plan(yaml, input = {}) {
      return planPipeline(parsePipelineSpec(yaml), {
        input: { serving_url: servingUrl, ...input },
        servers: [...SERVER_GROUPS],
      });
    },
    start(plan, workflowId) {
      return client.workflow.start(PIPELINE_WORKFLOW, {
        taskQueue: orchestratorQueue(prefix),
        workflowId: workflowId ?? `${plan.name}-${crypto.randomBytes(4).toString('hex')}`,
        args: [{ plan, taskQueuePrefix: prefix }],
      });
    },
    async mcp(group) {
      return connectMcp(`${baseUrls[group]}/mcp`, await tokenFor(group));
    },
    async call(group, tool, args = {}) {
      const c = await stack.mcp(group);
      try {
        return await callOk(c, tool, args);
      } finally {
        await c.close();
      }
    },
    async serving(method, p, body) {
      const res = await fetch(`${servingUrl}${p}`, {
        method,
        headers: { authorization: `Bearer ${serviceToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, json };
    },
    async close() {
      await connection.close().catch(() => undefined);
      if (servingPid !== undefined) await stopProcess(servingPid, 10_000);
      await down({ paths, log });
      if (!process.env.MCP_E2E_KEEP) fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return stack;
}

/**
 * A free port below Linux's ephemeral range (32768–60999 by default), which outgoing connections and
 * `listen(0)` draw from: the stack's ports are picked before its servers start, seconds apart, and a
 * port from that range can be taken in between by any connection of a parallel suite.
 */
async function stablePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + crypto.randomInt(12_000);
    if (await canBind(port)) return port;
  }
  return freePort();
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function healthy(base: string): Promise<boolean> {
  try {
    return (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}
