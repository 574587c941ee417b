import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { PACKAGE_ROOT } from '../../src/client/stack/entry';
import { waitFor } from '../../src/client/stack/processes';
import { devServerArgs, freePort, portOpen, temporalCliPath } from '../../src/client/stack/temporal-dev-server';
import type { RunningServer } from '../../src/servers/kit';
import { startComputeServer } from '../../src/servers/compute/main';
import { startDataServer, type StartedDataServer } from '../../src/servers/data/main';
import { startSecurityServer } from '../../src/servers/security/main';
import { startStorageServer } from '../../src/servers/storage/main';
import type { McpAuthSettings } from '../../src/servers/kit/auth';
import { orchestratorQueue, PIPELINE_WORKFLOW, taskQueueFor } from '../../src/shared/constants';
import { planPipeline, type Plan } from '../../src/shared/plan';
import type { RunProgress, RunReport } from '../../src/shared/run-types';
import { parsePipelineSpec } from '../../src/shared/spec-parse';
import { bundleWorkflows } from '../../src/workers/orchestrator-worker';
import { Ledger, startLedgerServer } from './ledger-server';

/** Groups with a worker process: the real data, storage and compute servers, and the ledger instrument. */
export const CHAOS_GROUPS = ['data', 'storage', 'compute', 'ledger'] as const;
export type ChaosGroup = (typeof CHAOS_GROUPS)[number];

/** How a run ended, read from Temporal (describe) and the workflow's own progress query. */
export interface RunOutcome {
  workflowId: string;
  /** Temporal's execution status: COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT. */
  temporalStatus: string;
  progress: RunProgress;
  report?: RunReport;
}

export interface ChaosStackOptions {
  /** Rows seeded into each data server (small: scenarios need the table, not its size). @default 5000 */
  seedRows?: number;
  /** Which groups get servers and workers. @default all of CHAOS_GROUPS */
  groups?: ChaosGroup[];
  log?: (line: string) => void;
}

/**
 * The real stack the chaos scenarios break, on free ports in a throw-away directory:
 * - its OWN Temporal dev server (the Temporal CLI) with `--db-filename`, restartable on the same port and DB;
 * - real MCP servers in this process: security (JWT issuer), storage, compute, and TWO data servers
 *   (primary, priority 1; replica with its own DuckDB seeded the same way, priority 2), plus the
 *   ledger instrument (ledger-server.ts); servers can be stopped and started again on the same port;
 * - one worker PROCESS per group (src/workers/main.ts, as in production) and the orchestrator worker as
 *   a process too, so any of them can be SIGKILLed or SIGTERMed.
 */
export class ChaosStack {
  readonly ledger = new Ledger();
  readonly prefix = `chaos${crypto.randomBytes(3).toString('hex')}-`;
  client!: Client;
  address = '';
  /** The data group's endpoints: [primary, replica]. */
  dataUrls: string[] = [];
  dataServers: Array<StartedDataServer | undefined> = [];
  /** Every data server instance ever started per endpoint (0 primary, 1 replica), for call counts. */
  readonly dataInstances: RunningServer[][] = [[], []];
  ledgerServer!: RunningServer;
  compute?: Awaited<ReturnType<typeof startComputeServer>>;
  storageUrl = '';
  private temporal?: ChildProcess;
  private temporalPort = 0;
  private uiPort = 0;
  private connection?: Connection;
  /** Worker processes per group (the ledger group runs two, so one can die while the other serves). */
  private readonly workers = new Map<string, ChildProcess[]>();
  private readonly closers: Array<() => Promise<void>> = [];
  private workerEnv: Record<string, NodeJS.ProcessEnv> = {};
  private dataPorts: number[] = [];
  private dataConfig?: (i: number) => Parameters<typeof startDataServer>[0];
  private auth?: Extract<McpAuthSettings, { mode: 'jwt' }>;
  private bundleFile = '';
  private ledgerPort = 0;

  private constructor(
    readonly dir: string,
    private readonly opts: ChaosStackOptions,
  ) {}

  private get log(): (l: string) => void {
    return this.opts.log ?? ((l) => process.stderr.write(`[chaos] ${l}\n`));
  }

  get groups(): ChaosGroup[] {
    return this.opts.groups ?? [...CHAOS_GROUPS];
  }

  static async start(opts: ChaosStackOptions = {}): Promise<ChaosStack> {
    const stack = new ChaosStack(fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-chaos-')), opts);
    try {
      await stack.boot();
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  private async boot(): Promise<void> {
    const t0 = Date.now();
    const groups = this.groups;
    this.temporalPort = await freePort();
    this.uiPort = await freePort();
    this.address = `127.0.0.1:${this.temporalPort}`;
    const bundling = process.env.MCP_IT_WORKFLOW_BUNDLE
      ? Promise.resolve(process.env.MCP_IT_WORKFLOW_BUNDLE)
      : bundleWorkflows().then(({ code }) => {
          const f = path.join(this.dir, 'workflow-bundle.js');
          fs.writeFileSync(f, code);
          return f;
        });
    await this.startTemporal();
    this.connection = await Connection.connect({ address: this.address });
    this.client = new Client({ connection: this.connection, namespace: 'default' });

    const serviceToken = crypto.randomBytes(16).toString('hex');
    const needsAuth = groups.some((g) => g !== 'ledger');
    const endpoints: Record<string, Array<{ url: string; priority: number }>> = {};
    if (needsAuth) {
      const security = await startSecurityServer({ host: '127.0.0.1', port: 0, dataDir: path.join(this.dir, 'security'), requireAuth: true });
      this.closers.push(() => security.close());
      const issuer = security.server.url;
      this.auth = { mode: 'jwt', issuer, jwksUrl: `${issuer}/.well-known/jwks.json` };
      const storage = await startStorageServer(
        { host: '127.0.0.1', port: 0, dataDir: path.join(this.dir, 'storage'), allowedHosts: [], allowedOrigins: [], maxBodyBytes: 64 << 20, serviceToken },
        { auth: this.auth },
      );
      this.closers.push(() => storage.close());
      this.storageUrl = storage.server.url;
      endpoints.storage = [{ url: storage.server.mcpUrl, priority: 1 }];
    }
    if (groups.includes('data')) {
      this.dataPorts = [await freePort(), await freePort()];
      this.dataConfig = (i) => ({
        host: '127.0.0.1',
        port: this.dataPorts[i]!,
        // Each replica has its own DuckDB (a file is locked by one process), seeded identically.
        dataDir: path.join(this.dir, `data-${i + 1}`),
        seedRows: this.opts.seedRows ?? 5000,
        storageUrl: this.storageUrl,
        serviceToken,
        threads: 1,
      });
      await Promise.all([this.startDataServer(0), this.startDataServer(1)]);
      this.dataUrls = this.dataPorts.map((p) => `http://127.0.0.1:${p}/mcp`);
      endpoints.data = this.dataUrls.map((url, i) => ({ url, priority: i + 1 }));
    }
    if (groups.includes('compute')) {
      this.compute = await startComputeServer(
        { host: '127.0.0.1', port: 0, dataDir: path.join(this.dir, 'compute'), allowedHosts: [], allowedOrigins: [], maxBodyBytes: 16 << 20 },
        { storageUrl: this.storageUrl, serviceToken, maxConcurrentJobs: 1 },
        { auth: this.auth },
      );
      const compute = this.compute;
      this.closers.push(() => compute.close());
      endpoints.compute = [{ url: compute.server.mcpUrl, priority: 1 }];
    }
    this.ledgerPort = await freePort();
    await this.startLedger();
    endpoints.ledger = [{ url: this.ledgerServer.mcpUrl, priority: 1 }];

    const registryFile = path.join(this.dir, 'servers.yaml');
    fs.writeFileSync(registryFile, registryYaml(endpoints));
    const base: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: this.address, TEMPORAL_NAMESPACE: 'default', MCP_TASK_QUEUE_PREFIX: this.prefix, MCP_SERVERS_CONFIG: registryFile };
    for (const k of Object.keys(base)) if (/^MCP_[A-Z_]+_(ENDPOINTS|PORT)$/.test(k) || k === 'MCP_CLIENT_ID' || k === 'MCP_CLIENT_SECRET' || k === 'MCP_FAULTS') delete base[k];
    for (const g of groups) {
      this.workerEnv[g] =
        g === 'ledger' || !this.auth
          ? { ...base, MCP_AUTH: 'off' }
          : { ...base, MCP_AUTH: 'jwt', MCP_AUTH_ISSUER: this.auth.issuer, MCP_CLIENT_CREDENTIALS_FILE: path.join(this.dir, 'security', 'clients.secret.json') };
    }
    this.bundleFile = await bundling;
    this.workerEnv.orchestrator = { ...base, MCP_CHAOS_WORKFLOW_BUNDLE: this.bundleFile };
    await this.ensureWorkers();
    this.log(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (Temporal ${this.address}, dir ${this.dir})`);
  }

  // ------------------------------------------------------------------------------------------ Temporal

  /** Starts the dev server (same port, UI port and DB file every time) and waits until it answers. */
  async startTemporal(): Promise<void> {
    const log = fs.openSync(path.join(this.dir, 'temporal.log'), 'a');
    const child = spawn(temporalCliPath(), devServerArgs({ dbFile: path.join(this.dir, 'temporal.db'), port: this.temporalPort, uiPort: this.uiPort }), {
      stdio: ['ignore', log, log],
      detached: true,
    });
    fs.closeSync(log);
    this.temporal = child;
    await waitFor(`Temporal dev server at ${this.address} (log ${this.dir}/temporal.log)`, async () => {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
      const c = await Connection.connect({ address: this.address, connectTimeout: 1000 });
      try {
        await c.workflowService.getSystemInfo({});
        return true;
      } finally {
        await c.close();
      }
    }, 60_000, 100);
  }

  /** Stops the dev server with `signal` and waits until the process is gone and its port is free. */
  async stopTemporal(signal: NodeJS.Signals): Promise<void> {
    const child = this.temporal;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await killAndWait(child, signal, 15_000, { group: true });
    await waitFor('the Temporal port to close', async () => !(await portOpen(this.temporalPort)), 15_000, 100);
  }

  // ------------------------------------------------------------------------------------------- workers

  /** Starts the worker process of a group (or `orchestrator`) and waits until it polls its queue. */
  async startWorker(group: string): Promise<ChildProcess> {
    const env = this.workerEnv[group];
    if (!env) throw new Error(`no worker environment for group '${group}'`);
    const file = group === 'orchestrator' ? path.join(PACKAGE_ROOT, 'bench', 'chaos', 'orchestrator-main.ts') : path.join(PACKAGE_ROOT, 'src', 'workers', 'main.ts');
    const log = fs.openSync(path.join(this.dir, `worker-${group}.log`), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...(group === 'orchestrator' ? [] : ['--group', group])], { env, cwd: PACKAGE_ROOT, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.workers.set(group, [...(this.workers.get(group) ?? []), child]);
    const queue = group === 'orchestrator' ? orchestratorQueue(this.prefix) : taskQueueFor(group, this.prefix);
    await waitFor(`worker ${group} polling ${queue} (log ${this.dir}/worker-${group}.log)`, async () => {
      if (child.exitCode !== null) throw new Error(`worker ${group} exited with ${child.exitCode}`);
      const r = await this.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType: group === 'orchestrator' ? 1 : 2 });
      // A dead worker's poller is remembered for a while; only a recent poll counts.
      const now = Date.now() / 1000;
      return (r.pollers ?? []).some((p) => now - Number(p.lastAccessTime?.seconds ?? 0) < 3);
    }, 240_000, 150);
    return child;
  }

  /** Sends `signal` to every worker process of a group; resolves with the ms until the last exited. */
  async killWorker(group: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    const children = this.workers.get(group) ?? [];
    this.workers.delete(group);
    const times = await Promise.all(children.map((c) => killAndWait(c, signal, 60_000)));
    return Math.max(0, ...times);
  }

  /** Starts the worker processes that are missing (two for the ledger group, one for the others). */
  async ensureWorkers(): Promise<void> {
    const want: Array<[string, number]> = [...this.groups.map((g): [string, number] => [g, g === 'ledger' ? 2 : 1]), ['orchestrator', 1]];
    await Promise.all(want.flatMap(([g, n]) => Array.from({ length: Math.max(0, n - this.workerCount(g)) }, () => this.startWorker(g))));
  }

  /** Worker processes of a group that are running. */
  workerCount(group: string): number {
    return (this.workers.get(group) ?? []).filter((c) => c.exitCode === null && c.signalCode === null).length;
  }

  /**
   * Sends `signal` to the worker process running the run's pending activity (Temporal's
   * `lastWorkerIdentity` is `<pid>@<host>`); resolves with that pid and the ms until it exited.
   */
  async killWorkerRunning(handle: WorkflowHandle, group: string, signal: NodeJS.Signals): Promise<{ pid: number; exitMs: number }> {
    const d = await handle.describe();
    const identities = (d.raw.pendingActivities ?? []).map((a) => a.lastWorkerIdentity ?? '');
    const children = this.workers.get(group) ?? [];
    const child = children.find((c) => identities.some((id) => id.startsWith(`${c.pid}@`)));
    if (!child || child.pid === undefined) throw new Error(`no ${group} worker of this stack runs a pending activity of ${handle.workflowId} (identities: ${identities.join(', ') || 'none'})`);
    this.workers.set(group, children.filter((c) => c !== child));
    return { pid: child.pid, exitMs: await killAndWait(child, signal, 60_000) };
  }

  // ------------------------------------------------------------------------------------------- servers

  private async startDataServer(i: number): Promise<void> {
    const s = await startDataServer(this.dataConfig!(i), { auth: this.auth });
    // A fault switch at 0 % counts every tool call: the server's own evidence of who answered.
    s.server.faults?.set({ failRate: 0, latencyMs: 0, hangRate: 0 });
    this.dataServers[i] = s;
    this.dataInstances[i]!.push(s.server);
  }

  /** Stops data server `i` (0 primary, 1 replica): connections are refused from now on. */
  async stopData(i: number): Promise<void> {
    const s = this.dataServers[i];
    this.dataServers[i] = undefined;
    await s?.close();
  }

  /** Starts data server `i` again on its port, on its (persisted) DuckDB. */
  async restartData(i: number): Promise<void> {
    if (this.dataServers[i]) return;
    await this.startDataServer(i);
  }

  /** Tool calls answered by data endpoint `i`, over every instance it ran as. */
  dataCalls(i: number): number {
    return this.dataInstances[i]!.reduce((a, s) => a + (s.faults?.counters.seen ?? 0), 0);
  }

  private async startLedger(): Promise<void> {
    this.ledgerServer = await startLedgerServer(this.ledger, { port: this.ledgerPort, dataDir: path.join(this.dir, 'ledger') });
  }

  /** Restarts the ledger server on its port (its ledger, the evidence, survives). */
  async restartLedger(downMs = 0): Promise<void> {
    await this.ledgerServer.close();
    if (downMs > 0) await sleep(downMs);
    await this.startLedger();
  }

  // ---------------------------------------------------------------------------------------------- runs

  plan(yaml: string, input?: Record<string, unknown>): Plan {
    return planPipeline(parsePipelineSpec(yaml), { input, servers: [...this.groups] });
  }

  async start(plan: Plan, workflowId: string): Promise<WorkflowHandle> {
    return this.client.workflow.start(PIPELINE_WORKFLOW, {
      taskQueue: orchestratorQueue(this.prefix),
      workflowId: `${this.prefix}${workflowId}`,
      args: [{ plan, taskQueuePrefix: this.prefix }],
    });
  }

  /** Waits for the run's end (bounded) and reads how it ended. */
  async outcome(handle: WorkflowHandle, timeoutMs = 180_000): Promise<RunOutcome> {
    let report: RunReport | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`run ${handle.workflowId} did not end within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      report = (await Promise.race([handle.result(), timeout])) as RunReport;
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
    } finally {
      clearTimeout(timer);
    }
    const d = await handle.describe();
    const progress = report ?? (await handle.query<RunProgress>('progress'));
    return { workflowId: handle.workflowId, temporalStatus: d.status.name, progress, report };
  }

  async progress(handle: WorkflowHandle): Promise<RunProgress | undefined> {
    try {
      return await handle.query<RunProgress>('progress');
    } catch {
      return undefined;
    }
  }

  /** Polls the progress query until `pred` holds (bounded). */
  async waitProgress(handle: WorkflowHandle, pred: (p: RunProgress) => boolean, timeoutMs = 60_000): Promise<RunProgress> {
    const deadline = Date.now() + timeoutMs;
    let last: RunProgress | undefined;
    while (Date.now() < deadline) {
      last = await this.progress(handle);
      if (last && pred(last)) return last;
      await sleep(100);
    }
    throw new Error(`run ${handle.workflowId}: condition not met in ${timeoutMs} ms; steps ${JSON.stringify(last && Object.values(last.steps).map((s) => [s.id, s.status]))}`);
  }

  async close(): Promise<void> {
    for (const g of [...this.workers.keys()]) await this.killWorker(g, 'SIGKILL').catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    await this.ledgerServer?.close().catch(() => undefined);
    for (let i = 0; i < this.dataServers.length; i++) await this.stopData(i).catch(() => undefined);
    for (const c of this.closers.reverse()) await c().catch(() => undefined);
    if (this.temporal && this.temporal.exitCode === null) await killAndWait(this.temporal, 'SIGKILL', 10_000, { group: true }).catch(() => undefined);
    if (!process.env.MCP_CHAOS_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The registry the workers load: the chaos stack's endpoints, with the product defaults. */
function registryYaml(endpoints: Record<string, Array<{ url: string; priority: number }>>): string {
  const lines = [
    '# Written by bench/chaos/stack.ts for one chaos run.',
    'defaults:',
    '  breaker: { failure_threshold: 5, recovery_timeout: 30s, half_open_max_calls: 3, success_threshold: 2 }',
    '  health_check_interval: 30s',
    '  concurrency: { min: 2, max: 50 }',
    'groups:',
  ];
  for (const [g, eps] of Object.entries(endpoints)) {
    lines.push(`  ${g}:`, '    endpoints:');
    for (const e of eps) lines.push(`      - { url: "${e.url}", priority: ${e.priority}, transport: http }`);
    // Failover scenario: the product thresholds, with a recovery timeout and health period short
    // enough that "back to the primary" happens within a run of seconds.
    if (g === 'data') lines.push('    breaker: { failure_threshold: 5, recovery_timeout: 2s, half_open_max_calls: 3, success_threshold: 2 }', '    health_check_interval: 500ms');
    // The instrument must not throttle what it measures.
    if (g === 'ledger') lines.push('    rate_limit_per_minute: 0');
  }
  return lines.join('\n') + '\n';
}

/** Signals a child and waits for its exit (SIGKILL after `graceMs`); resolves with the ms it took. */
export async function killAndWait(child: ChildProcess, signal: NodeJS.Signals, graceMs: number, opts: { group?: boolean } = {}): Promise<number> {
  const t0 = Date.now();
  if (child.exitCode !== null || child.signalCode !== null) return 0;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    // A detached child leads its own process group: signal the group so nothing is left behind.
    if (child.pid !== undefined) process.kill(opts.group ? -child.pid : child.pid, signal);
  } catch {
    child.kill(signal);
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  return Date.now() - t0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
