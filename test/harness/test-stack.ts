import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { PACKAGE_ROOT } from '../../src/client/stack/entry';
import { waitFor } from '../../src/client/stack/processes';
import { orchestratorQueue, PIPELINE_WORKFLOW, taskQueueFor } from '../../src/shared/constants';
import { planPipeline, type Plan } from '../../src/shared/plan';
import { parsePipelineSpec } from '../../src/shared/spec-parse';
import type { RunReport } from '../../src/shared/run-types';
import { createOrchestratorWorker } from '../../src/workers/orchestrator-worker';
import { startDataServer } from '../../src/servers/data/main';
import { startStorageServer } from '../../src/servers/storage/main';

/**
 * A real stack for one test file: the suite's Temporal dev server (global setup), real MCP servers
 * on free ports, one worker PROCESS per server group (so tests can SIGKILL them) and an in-process
 * orchestrator worker. A unique task-queue prefix keeps test files from taking each other's tasks.
 */
export interface TestStack {
  dir: string;
  prefix: string;
  client: Client;
  urls: Record<string, string>;
  serviceToken: string;
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

  const storage = await startStorageServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: path.join(dir, 'storage'),
    allowedHosts: [],
    allowedOrigins: [],
    maxBodyBytes: 64 * 1024 * 1024,
    serviceToken,
  });
  closers.push(() => storage.close());
  urls.storage = storage.server.mcpUrl;
  if (opts.groups.includes('data')) {
    const data = await startDataServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: path.join(dir, 'data'),
      seedRows: opts.seedRows ?? 20_000,
      storageUrl: storage.server.url,
      serviceToken,
    });
    closers.push(() => data.close());
    urls.data = data.server.mcpUrl;
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: address,
    MCP_TASK_QUEUE_PREFIX: prefix,
    MCP_SERVERS_CONFIG: path.join(PACKAGE_ROOT, 'config', 'servers.yaml'),
  };
  for (const [g, url] of Object.entries(urls)) env[`MCP_${g.toUpperCase()}_ENDPOINTS`] = url;

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
  const bundlePath = process.env.MCP_IT_WORKFLOW_BUNDLE;
  const orchestrator = await createOrchestratorWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueuePrefix: prefix,
    workflowBundle: bundlePath ? { code: fs.readFileSync(bundlePath, 'utf8') } : undefined,
    shutdownGraceTime: '1s',
  });
  const running = orchestrator.run();

  const stack: TestStack = {
    dir,
    prefix,
    client,
    urls,
    serviceToken,
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
