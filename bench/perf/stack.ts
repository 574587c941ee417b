import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { devServerArgs, freePort, temporalCliPath } from '../../src/client/stack/temporal-dev-server';
import { stopProcess, waitFor } from '../../src/client/stack/processes';
import { McpClientPool } from '../../src/mcp/pool';
import type { Registry } from '../../src/registry/registry';
import { orchestratorQueue, PIPELINE_WORKFLOW, taskQueueFor } from '../../src/shared/constants';
import { planForWire, planPipeline, type Plan } from '../../src/shared/plan';
import type { PipelineWorkflowInput, RunReport } from '../../src/shared/run-types';
import { parsePipelineSpec } from '../../src/shared/spec-parse';
import { workflowTracingSinks } from '../../src/observability/tracing/temporal';
import { tracingEnabled } from '../../src/observability/tracing/setup';
import { bundleWorkflows } from '../../src/workers/orchestrator-worker';
import { startBenchServer } from '../bench-server';

/** Worker options a benchmark varies; empty = what src/workers/*.ts set today. */
export interface WorkerTuning {
  orchestrator?: Partial<Pick<WorkerOptions, 'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentWorkflowTaskPolls' | 'nonStickyToStickyPollRatio' | 'reuseV8Context' | 'stickyQueueScheduleToStartTimeout'>>;
  group?: Partial<Pick<WorkerOptions, 'maxConcurrentActivityTaskPolls' | 'maxConcurrentActivityTaskExecutions'>>;
}

/** One set of workers (orchestrator + bench group) on their own task-queue prefix. */
export interface WorkerSet {
  prefix: string;
  tuning: WorkerTuning;
  run(plan: Plan, extra?: Partial<PipelineWorkflowInput>): Promise<RunReport>;
  start(plan: Plan, extra?: Partial<PipelineWorkflowInput>): Promise<WorkflowHandle>;
}

/**
 * A throw-away Temporal dev server (free ports, its own SQLite file), the bench MCP server and
 * in-process workers. Several worker sets with different options can run side by side on one server,
 * so a baseline and a tuned configuration are measured in the same process run, under the same load.
 */
export class BenchStack {
  readonly sets: WorkerSet[] = [];
  private readonly running: Array<Promise<void>> = [];
  private readonly workers: Worker[] = [];
  private readonly pools: McpClientPool[] = [];
  private constructor(
    readonly dir: string,
    private readonly temporal: ChildProcess,
    readonly bench: Awaited<ReturnType<typeof startBenchServer>>,
    readonly registry: Registry,
    readonly native: NativeConnection,
    readonly connection: Connection,
    readonly client: Client,
    private readonly bundle: { code: string },
  ) {}

  private bareBundle?: { code: string };

  /**
   * Workers for the Temporal floor (bench/perf/bare): a minimal workflow and a no-op activity on their
   * own queues, as separate workers like ours. Returns a runner of an n-step chain; resolves when done.
   */
  async addBareWorkers(): Promise<(n: number) => Promise<void>> {
    this.bareBundle ??= await bundleWorkflowCode({ workflowsPath: require.resolve('./bare/workflows'), logger: quietLogger });
    const prefix = `bare${crypto.randomBytes(3).toString('hex')}-`;
    const wf = await Worker.create({ connection: this.native, taskQueue: `${prefix}wf`, workflowBundle: this.bareBundle, shutdownGraceTime: '2s' });
    const act = await Worker.create({ connection: this.native, taskQueue: `${prefix}act`, activities: { noop: () => Promise.resolve(1) }, shutdownGraceTime: '2s' });
    this.workers.push(wf, act);
    this.running.push(wf.run(), act.run());
    return async (n) => {
      await this.client.workflow.execute('bareChain', { taskQueue: `${prefix}wf`, workflowId: `bare-${crypto.randomUUID()}`, args: [n, `${prefix}act`] });
    };
  }

  static async start(dynamicConfig: Record<string, string | number | boolean> = {}): Promise<BenchStack> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-bench-'));
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const log = fs.openSync(path.join(dir, 'temporal.log'), 'a');
    const temporal = spawn(temporalCliPath(), devServerArgs({ dbFile: path.join(dir, 'temporal.db'), port, uiPort: await freePort(), dynamicConfig }), { stdio: ['ignore', log, log], detached: true });
    const bench = await startBenchServer();
    const registry: Registry = { groups: { bench: { endpoints: [{ transport: 'http', url: bench.mcpUrl, priority: 1, headers: {} }] } } };
    await waitFor('Temporal', async () => {
      const c = await Connection.connect({ address, connectTimeout: 1000 });
      await c.close();
      return true;
    }, 60_000);
    const native = await NativeConnection.connect({ address });
    const connection = await Connection.connect({ address });
    // `MCP_TRACING=off npm run bench` measures the workflow without its tracing interceptors.
    const bundle = await bundleWorkflows({ tracing: tracingEnabled() });
    return new BenchStack(dir, temporal, bench, registry, native, connection, new Client({ connection }), bundle);
  }

  /** Starts an orchestrator worker and a bench group worker with the given options, on a fresh prefix. */
  async addWorkers(tuning: WorkerTuning = {}): Promise<WorkerSet> {
    const prefix = `b${crypto.randomBytes(3).toString('hex')}-`;
    // As src/workers/group-worker.ts builds it: schema hashes travel with every result.
    const pool = new McpClientPool(this.registry, { clientName: 'bench-worker', schemaHashes: true });
    const group = await Worker.create({
      connection: this.native,
      taskQueue: taskQueueFor('bench', prefix),
      activities: createActivities({ pool }),
      maxConcurrentActivityTaskExecutions: 200,
      shutdownGraceTime: '2s',
      ...tuning.group,
    });
    const orchestrator = await Worker.create({
      connection: this.native,
      taskQueue: orchestratorQueue(prefix),
      workflowBundle: this.bundle,
      // The bundle carries the tracing interceptors: their sink must exist (a no-op without tracing).
      sinks: workflowTracingSinks(),
      shutdownGraceTime: '2s',
      ...tuning.orchestrator,
    });
    this.workers.push(group, orchestrator);
    this.pools.push(pool);
    this.running.push(group.run(), orchestrator.run());
    const start = (plan: Plan, extra: Partial<PipelineWorkflowInput> = {}) =>
      this.client.workflow.start(PIPELINE_WORKFLOW, {
        taskQueue: orchestratorQueue(prefix),
        workflowId: `bench-${crypto.randomUUID()}`,
        // Large plans travel packed: a 10,000-step Plan is above the 2 MB payload limit.
        args: [{ plan: planForWire(plan), taskQueuePrefix: prefix, ...extra }],
      });
    const set: WorkerSet = { prefix, tuning, start, run: async (plan, extra) => (await (await start(plan, extra)).result()) as RunReport };
    this.sets.push(set);
    return set;
  }

  async close(): Promise<void> {
    for (const w of this.workers) w.shutdown();
    await Promise.allSettled(this.running);
    for (const p of this.pools) await p.close();
    await this.native.close();
    await this.connection.close();
    await this.bench.close();
    if (this.temporal.pid) await stopProcess(this.temporal.pid, 10_000);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

const quietLogger = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => process.stderr.write(`[bundler] ${m}\n`), log: () => undefined };

export const plan = (yaml: string): Plan => planPipeline(parsePipelineSpec(yaml));
