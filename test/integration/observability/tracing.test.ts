import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../../src/activities';
import { McpClientPool } from '../../../src/mcp/pool';
import { createLogger } from '../../../src/observability/logging/logger';
import { activityTracingInterceptors, clientTracingInterceptors } from '../../../src/observability/tracing/temporal';
import { readTrace, formatTrace, type SpanNode } from '../../../src/observability/tracing/read';
import { createTracing, installTracing, type Tracing } from '../../../src/observability/tracing/setup';
import { registrySchema } from '../../../src/registry/registry';
import { startDataServer, type StartedDataServer } from '../../../src/servers/data/main';
import { orchestratorQueue, PIPELINE_WORKFLOW, taskQueueFor } from '../../../src/shared/constants';
import { planPipeline } from '../../../src/shared/plan';
import type { RunReport } from '../../../src/shared/run-types';
import { parsePipelineSpec } from '../../../src/shared/spec-parse';
import { testOrchestratorWorker } from '../../harness/test-stack';

jest.setTimeout(120_000);

/**
 * One process plays every part, each with its own tracer provider and service name, as the real
 * processes would: the CLI's client (`mcp-orch`), the orchestrator worker (workflow spans through the
 * bundle's interceptors and sink), the data group's worker (activity interceptors) and the data MCP
 * server (the kit's tool span; the process-global provider, as `installTracing` sets it up).
 */
describe('tracing across client, workflow, activity and MCP server', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-tracing-'));
  const traces = path.join(dir, 'traces');
  const logs = path.join(dir, 'logs');
  const prefix = `tr${crypto.randomBytes(3).toString('hex')}-`;
  const env = {}; // no OTLP endpoint, tracing on
  const activityLines: string[] = [];
  const savedLogDir = process.env.MCP_LOG_DIR;
  let data: StartedDataServer;
  let pool: McpClientPool;
  let native: NativeConnection;
  let connection: Connection;
  let client: Client;
  let workers: Worker[];
  let running: Promise<unknown>;
  let tracings: Tracing[];

  beforeAll(async () => {
    process.env.MCP_LOG_DIR = logs;
    const serverTracing = installTracing({ service: 'data', dir: traces, env });
    const clientTracing = createTracing({ service: 'mcp-orch', dir: traces, env });
    const orchestratorTracing = createTracing({ service: 'orchestrator-worker', dir: traces, env });
    const workerTracing = createTracing({ service: 'data-worker', dir: traces, env });
    tracings = [serverTracing, clientTracing, orchestratorTracing, workerTracing];

    data = await startDataServer({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'data'), seedRows: 2000 });
    pool = new McpClientPool(
      registrySchema.parse({ groups: { data: { endpoints: [{ transport: 'http', url: data.server.mcpUrl, priority: 1, auth: 'none' }] } } }),
      { clientName: 'tracing-test' },
    );
    const address = process.env.TEMPORAL_ADDRESS!;
    native = await NativeConnection.connect({ address });
    connection = await Connection.connect({ address });
    client = new Client({ connection, interceptors: { workflow: clientTracingInterceptors(clientTracing) } });
    const groupWorker = await Worker.create({
      connection: native,
      namespace: 'default',
      taskQueue: taskQueueFor('data', prefix),
      activities: createActivities({
        pool,
        log: createLogger({ service: 'data-worker', stderr: false, dir: false, stream: { write: (l) => activityLines.push(l) } }),
      }),
      interceptors: { activity: activityTracingInterceptors(workerTracing) },
      shutdownGraceTime: '1s',
    });
    const orchestrator = await testOrchestratorWorker(native, prefix, { tracing: orchestratorTracing });
    workers = [groupWorker, orchestrator];
    running = Promise.all(workers.map((w) => w.run()));
  });

  afterAll(async () => {
    for (const w of workers ?? []) if (w.getState() === 'RUNNING') w.shutdown();
    await running?.catch(() => undefined);
    await native?.close();
    await connection?.close();
    await pool?.close();
    await data?.close();
    for (const t of tracings ?? []) await t.shutdown();
    if (savedLogDir === undefined) delete process.env.MCP_LOG_DIR;
    else process.env.MCP_LOG_DIR = savedLogDir;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('when a run completes, then ONE trace holds the client start, the workflow, each activity and each MCP tool call, server spans being children of their activity', async () => {
    const plan = planPipeline(
      parsePipelineSpec(`
name: traced
steps:
  schema: { server: data, tool: table_schema, args: { table: customer_transactions } }
  total:
    server: data
    tool: sql_query
    needs: [schema]
    args: { sql: "SELECT count(*) AS n FROM customer_transactions" }
`),
      { servers: ['data'] },
    );
    const workflowId = `traced-${crypto.randomBytes(4).toString('hex')}`;
    const handle = await client.workflow.start(PIPELINE_WORKFLOW, {
      taskQueue: orchestratorQueue(prefix),
      workflowId,
      args: [{ plan, taskQueuePrefix: prefix }],
    });
    const report = (await handle.result()) as RunReport;
    expect(report.status).toBe('completed');

    // The workflow's own span ends with the run, in the workflow task that completes it; the sink
    // runs right after that task, so allow it a moment.
    let trees = await readTrace(workflowId, { dir: traces });
    for (let i = 0; i < 50 && !trees[0]?.spans.some((s) => s.name.startsWith('RunWorkflow:')); i++) {
      await new Promise((r) => setTimeout(r, 100));
      trees = await readTrace(workflowId, { dir: traces });
    }
    expect(trees.length).toBeGreaterThanOrEqual(1);
    const tree = trees[0]!;
    process.stderr.write(`${formatTrace(tree)}\n`);
    const spans = tree.spans;
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([tree.traceId]));
    expect(tree.services).toEqual(['data', 'data-worker', 'mcp-orch', 'orchestrator-worker']);

    // client → workflow
    expect(tree.roots).toHaveLength(1);
    const root = tree.roots[0]!;
    expect(root.name).toBe(`StartWorkflow:${PIPELINE_WORKFLOW}`);
    expect(root.service).toBe('mcp-orch');
    const run = root.children.find((c) => c.name === `RunWorkflow:${PIPELINE_WORKFLOW}`);
    expect(run).toBeDefined();
    expect(run!.service).toBe('orchestrator-worker');
    expect(run!.attributes.workflowId).toBe(workflowId);

    // workflow → activity → MCP server, once per step
    const starts = run!.children.filter((c) => c.name === 'StartActivity:mcpCallTool');
    expect(starts).toHaveLength(2);
    const activities: SpanNode[] = starts.flatMap((s) => s.children.filter((c) => c.name === 'RunActivity:mcpCallTool'));
    expect(activities).toHaveLength(2);
    const byStep = new Map(activities.map((a) => [a.attributes['mcp.step_id'], a]));
    expect([...byStep.keys()].sort()).toEqual(['schema', 'total']);
    for (const [step, tool] of [['schema', 'table_schema'], ['total', 'sql_query']] as const) {
      const activity = byStep.get(step)!;
      expect(activity.service).toBe('data-worker');
      expect(activity.attributes['mcp.run_id']).toBe(workflowId);
      expect(activity.attributes['mcp.tool']).toBe(tool);
      expect(activity.status.code).not.toBe('error');
      expect(activity.children).toHaveLength(1);
      const server = activity.children[0]!;
      expect(server.name).toBe(`mcp.tool data/${tool}`);
      expect(server.kind).toBe('server');
      expect(server.service).toBe('data');
      expect(server.parentSpanId).toBe(activity.spanId);
      expect(server.attributes).toMatchObject({
        'mcp.server': 'data',
        'mcp.tool': tool,
        'mcp.outcome': 'ok',
        'mcp.idempotency.replayed': false,
        'mcp.run_id': workflowId,
        'mcp.step_id': step,
      });
      // The server's span lies within the activity's.
      expect(Date.parse(server.start)).toBeGreaterThanOrEqual(Date.parse(activity.start));
      expect(Date.parse(server.end)).toBeLessThanOrEqual(Date.parse(activity.end) + 1);
    }

    // Logs of the step, on both sides of the call, name the run and the step.
    const workerLog = activityLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(workerLog.filter((l) => l.runId === workflowId).map((l) => [l.stepId, l.msg]).sort()).toEqual([
      ['schema', 'step call done'],
      ['total', 'step call done'],
    ]);
    const serverLog = fs
      .readFileSync(path.join(logs, 'data.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const calls = serverLog.filter((l) => l.msg === 'tool call' && l.runId === workflowId);
    expect(calls.map((l) => [l.stepId, l.tool]).sort()).toEqual([
      ['schema', 'table_schema'],
      ['total', 'sql_query'],
    ]);
    expect(calls.every((l) => l.service === 'data' && typeof l.time === 'string')).toBe(true);
    // …and the trace, so a log line leads to its trace and back.
    expect(new Set([...calls, ...workerLog.filter((l) => l.runId === workflowId)].map((l) => l.traceId))).toEqual(new Set([tree.traceId]));
  });
});
