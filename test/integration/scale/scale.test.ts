import crypto from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { startBenchServer } from '../../../bench/bench-server';
import type { McpClientPool } from '../../../src/mcp/pool';
import type { Registry } from '../../../src/registry/registry';
import { orchestratorQueue, PIPELINE_WORKFLOW } from '../../../src/shared/constants';
import { packPlan, planPipeline, type Plan } from '../../../src/shared/plan';
import { parsePipelineSpec } from '../../../src/shared/spec-parse';
import { stepsOf, type PipelineWorkflowInput, type RunProgress, type RunReport } from '../../../src/shared/run-types';
import { createGroupWorker } from '../../../src/workers/group-worker';
import { testOrchestratorWorker } from '../../harness/test-stack';
import { EventType } from '../orchestrator/helpers';

jest.setTimeout(180_000);

/** `width` independent chains of `depth` steps of a 0 ms tool: 1 level in flight at a time, `width` wide. */
function chainsSpec(width: number, depth: number, extra: (d: number, w: number) => string = () => ''): string {
  const lines: string[] = [];
  for (let d = 0; d < depth; d++) {
    for (let w = 0; w < width; w++) {
      lines.push(`  s${d}_${w}: { server: bench, tool: work, args: { ms: 0 }${d ? `, needs: [s${d - 1}_${w}]` : ''}${extra(d, w)} }`);
    }
  }
  return `name: chains\nsteps:\n${lines.join('\n')}\n`;
}

/**
 * Scale behaviour against the suite's real Temporal dev server: continue-as-new keeps each run's
 * history under Temporal's 4,096-event suggestion, and a level wider than the in-flight cap runs in
 * chunks. A 0 ms in-process MCP tool keeps the tests about the orchestrator, not the tools.
 */
describe('scale: continue-as-new and chunked fan-out', () => {
  let bench: Awaited<ReturnType<typeof startBenchServer>>;
  let native: NativeConnection;
  let connection: Connection;
  let client: Client;
  let workers: Worker[];
  let running: Promise<void>[];
  let pool: McpClientPool;
  const prefix = `sc${crypto.randomBytes(3).toString('hex')}-`;

  beforeAll(async () => {
    const address = process.env.TEMPORAL_ADDRESS;
    if (!address) throw new Error('TEMPORAL_ADDRESS unset: run through jest.config.js (global setup starts Temporal)');
    bench = await startBenchServer();
    const registry: Registry = { groups: { bench: { endpoints: [{ transport: 'http', url: bench.mcpUrl, priority: 1, headers: {} }] } } };
    native = await NativeConnection.connect({ address });
    const group = await createGroupWorker({ connection: native, namespace: 'default', group: 'bench', registry, taskQueuePrefix: prefix, maxConcurrentActivities: 100, healthChecks: false, shutdownGraceTime: '1s' });
    pool = group.pool;
    const orchestrator = await testOrchestratorWorker(native, prefix);
    workers = [group.worker, orchestrator];
    running = workers.map((w) => w.run());
    connection = await Connection.connect({ address });
    client = new Client({ connection });
  });

  afterAll(async () => {
    for (const w of workers ?? []) w.shutdown();
    await Promise.allSettled(running ?? []);
    await pool?.close();
    await native?.close();
    await connection?.close();
    await bench?.close();
  });

  const plan = (yaml: string): Plan => planPipeline(parsePipelineSpec(yaml));
  const start = (input: Omit<PipelineWorkflowInput, 'taskQueuePrefix'>, id: string) =>
    client.workflow.start(PIPELINE_WORKFLOW, { taskQueue: orchestratorQueue(prefix), workflowId: `${id}-${crypto.randomBytes(3).toString('hex')}`, args: [{ ...input, taskQueuePrefix: prefix }] });

  /** Event count of every run of a workflow, read from the real histories (run chain from the report). */
  async function eventsPerRun(workflowId: string, p: RunProgress): Promise<number[]> {
    const runIds = [...(p.runs ?? []).map((r) => r.runId), undefined];
    const counts: number[] = [];
    for (const runId of runIds) {
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      counts.push(history.events?.length ?? 0);
    }
    return counts;
  }

  it('when 1,500 steps run, then they complete across several runs, each history under 4,096 events', async () => {
    const p = plan(chainsSpec(10, 150));
    const handle = await start({ plan: packPlan(p) }, 'can-1500');
    const report = (await handle.result()) as RunReport;
    expect(report.status).toBe('completed');
    const steps = stepsOf(report, p);
    expect(Object.keys(steps)).toHaveLength(1500);
    expect(Object.values(steps).every((s) => s.status === 'done')).toBe(true);
    // Every step of the last level has its result; the report says how many it left out.
    for (let w = 0; w < 10; w++) expect(report.results[`s149_${w}`]).toEqual({ ms: 0 });

    const counts = await eventsPerRun(handle.workflowId, report);
    expect(counts.length).toBeGreaterThanOrEqual(2);
    for (const n of counts) expect(n).toBeLessThan(4096);
    // The runs' own accounts match their histories.
    expect(report.runs!.map((r) => r.events)).toEqual(counts.slice(0, -1));
    expect(report.runs!.reduce((a, r) => a + r.steps, 0)).toBeLessThan(1500);
  });

  it('when a step fails after the run continued as new, then steps completed in earlier runs are compensated', async () => {
    // A tight history budget makes a 30-step chain span several runs; the last step's arguments are invalid.
    const yaml = chainsSpec(1, 30, (d) =>
      d === 0 ? ', compensate: { tool: work, args: { ms: "${steps.s0_0.result.ms}" } }' : '',
    ).replace('s29_0: { server: bench, tool: work, args: { ms: 0 }', 's29_0: { server: bench, tool: work, args: { ms: -1 }');
    const handle = await start({ plan: plan(yaml), maxHistoryEvents: 150 }, 'can-compensate');
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = (err as WorkflowFailedError).cause as ApplicationFailure;
    const progress = failure.details?.[0] as RunProgress;
    expect(progress.runs!.length).toBeGreaterThanOrEqual(2);
    expect(progress.steps.s0_0!.status).toBe('compensated');
    expect(progress.steps.s0_0!.compensation?.status).toBe('done');
    expect(progress.steps.s29_0!.status).toBe('failed');
    expect(progress.completionOrder).toHaveLength(29);
    for (const n of await eventsPerRun(handle.workflowId, progress)) expect(n).toBeLessThanOrEqual(150);
  });

  it('when a level is wider than the in-flight cap, then it runs in chunks of at most the cap and completes', async () => {
    const width = 40;
    const cap = 8;
    const p = plan(chainsSpec(width, 1));
    const handle = await start({ plan: p, maxInFlight: cap }, 'fanout-chunked');
    const report = (await handle.result()) as RunReport;
    expect(report.status).toBe('completed');
    expect(report.completionOrder).toHaveLength(width);
    // Pending activities at any point of the history never exceed the cap.
    const history = await handle.fetchHistory();
    let pending = 0;
    let most = 0;
    for (const e of history.events ?? []) {
      if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) most = Math.max(most, ++pending);
      if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) pending--;
    }
    expect(most).toBe(cap);
  });
});
