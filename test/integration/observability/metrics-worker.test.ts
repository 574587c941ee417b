import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../../src/activities';
import { PACKAGE_ROOT } from '../../../src/client/stack/entry';
import { McpClientPool } from '../../../src/mcp/pool';
import { metricsRunFile, startMetricsEndpoint, type MetricsAnnouncement, type RunningMetricsEndpoint } from '../../../src/observability/metrics/endpoint';
import { parseExposition, select, type Sample } from '../../../src/observability/metrics/parse';
import { WorkerMetrics } from '../../../src/observability/metrics/worker-metrics';
import { loadRegistry } from '../../../src/registry/registry';
import { McpTokenSource } from '../../../src/servers/kit/client-auth';
import { taskQueueFor } from '../../../src/shared/constants';
import { startTestStack, type TestStack } from '../../harness/test-stack';

jest.setTimeout(180_000);

/**
 * Two workers after one small run: the data worker is a real process (src/workers/main.ts, so Temporal
 * core's exporter and our series share its /metrics), the storage worker runs in this process with
 * the metrics activity interceptor, so a retried call shows up in the per-call series.
 */
const saved = { root: process.env.MCP_DATA_ROOT, port: process.env.MCP_WORKER_METRICS_PORT };
let root: string;
let stack: TestStack;
let connection: NativeConnection;
let storageWorker: Worker;
let storageRunning: Promise<void>;
let storageMetrics: WorkerMetrics;
let storageEndpoint: RunningMetricsEndpoint;
let pool: McpClientPool;

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  // For docs and reports: MCP_METRICS_SAMPLE_DIR=<dir> keeps the last scrape of each endpoint.
  if (process.env.MCP_METRICS_SAMPLE_DIR) fs.writeFileSync(path.join(process.env.MCP_METRICS_SAMPLE_DIR, `worker-${new URL(url).port === String(storageEndpoint?.port) ? 'storage' : 'data'}.prom`), text);
  return parseExposition(text);
}

const sum = (samples: Sample[], name: string, labels: Record<string, string> = {}) => select(samples, name, labels).reduce((a, s) => a + s.value, 0);

/**
 * A loopback proxy in front of the storage server that answers 503 to the next `failCalls` tool
 * calls (a transient outage as the worker sees it), and passes everything else through.
 */
let failCalls = 0;
let proxy: http.Server;
async function startFlakyProxy(target: string): Promise<string> {
  const t = new URL(target);
  proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (failCalls > 0 && body.includes('"tools/call"')) {
        failCalls--;
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('injected outage');
        return;
      }
      const up = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host } }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${t.pathname}`;
}
let storageUrl: string;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-metrics-root-'));
  // Read by the worker processes the stack spawns (their environment copies ours).
  process.env.MCP_DATA_ROOT = root;
  process.env.MCP_WORKER_METRICS_PORT = '0';
  stack = await startTestStack({ groups: ['data'], seedRows: 2000 });

  storageUrl = await startFlakyProxy(stack.serverUrls.storage!);
  const registry = loadRegistry(path.join(PACKAGE_ROOT, 'config', 'servers.yaml'), { ...process.env, MCP_STORAGE_ENDPOINTS: storageUrl });
  const tokens = new McpTokenSource({ tokenUrl: `${stack.issuer}/oauth/token`, clientId: 'orchestrator-storage', credentialsFile: stack.credentialsFile });
  pool = new McpClientPool(registry, { tokenFor: (g) => tokens.tokenFor(g), onUnauthorized: (g) => tokens.invalidate(g) });
  await pool.startHealthChecks(['storage']);
  connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const taskQueue = taskQueueFor('storage', stack.prefix);
  storageMetrics = new WorkerMetrics({ group: 'storage', taskQueue, pool, temporal: { source: connection, namespace: 'default', taskQueueType: 'activity' } });
  storageWorker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    activities: createActivities({ pool }),
    interceptors: { activity: [storageMetrics.activityInterceptor()] },
    shutdownGraceTime: '1s',
  });
  storageRunning = storageWorker.run();
  storageEndpoint = await startMetricsEndpoint({ registry: storageMetrics.registry, port: 0, group: 'storage' });
});

afterAll(async () => {
  storageWorker?.shutdown();
  await storageRunning?.catch(() => undefined);
  await storageEndpoint?.close();
  await pool?.close();
  await connection?.close();
  await stack?.close();
  proxy?.closeAllConnections();
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  process.env.MCP_DATA_ROOT = saved.root;
  process.env.MCP_WORKER_METRICS_PORT = saved.port;
  if (saved.root === undefined) delete process.env.MCP_DATA_ROOT;
  if (saved.port === undefined) delete process.env.MCP_WORKER_METRICS_PORT;
  fs.rmSync(root, { recursive: true, force: true });
});

test('after a run with a retried call, each worker /metrics shows tool-call latency, errors by type, retries, breaker, rate budget, backlog, process and Temporal core series', async () => {
  // The first list_files attempt meets a 503 (retryable): one error, then one retry that succeeds.
  failCalls = 1;
  const plan = stack.plan(`
name: metrics-run
steps:
  schema: { server: data, tool: table_schema, args: { table: customer_transactions } }
  answer: { server: data, tool: sql_query, needs: [schema], args: { sql: "SELECT 42 AS answer" } }
  files:
    server: storage
    tool: list_files
    needs: [answer]
    args: { prefix: "metrics/" }
    retry: { maximumAttempts: 20, initialInterval: 200ms, backoffCoefficient: 1 }
`);
  const handle = await stack.start(plan);
  const report = (await handle.result()) as { status: string };
  expect(report.status).toBe('completed');

  // In-process storage worker: our per-call series.
  const st = await scrape(storageEndpoint.url);
  const call = { worker: 'storage', server: 'storage', tool: 'list_files' };
  expect(sum(st, 'mcp_worker_tool_call_duration_seconds_count', { ...call, outcome: 'ok' })).toBe(1);
  expect(sum(st, 'mcp_worker_tool_call_duration_seconds_sum', { ...call, outcome: 'ok' })).toBeGreaterThan(0);
  expect(sum(st, 'mcp_worker_tool_call_duration_seconds_count', { ...call, outcome: 'error' })).toBe(1);
  expect(sum(st, 'mcp_worker_tool_call_errors_total', { ...call, type: 'ServerUnavailable' })).toBe(1);
  expect(sum(st, 'mcp_worker_tool_call_retries_total', call)).toBe(1);
  expect(select(st, 'mcp_worker_tool_calls_in_flight', call)).toEqual([expect.objectContaining({ value: 0 })]);
  const ep = { worker: 'storage', group: 'storage', endpoint: storageUrl };
  expect(select(st, 'mcp_worker_breaker_state', ep)).toHaveLength(1);
  expect(sum(st, 'mcp_worker_rate_budget_per_minute', ep)).toBeGreaterThan(0);
  expect(sum(st, 'mcp_worker_rate_budget_tokens', ep)).toBeGreaterThan(0);
  expect(sum(st, 'mcp_worker_endpoint_up', ep)).toBe(1);
  expect(sum(st, 'mcp_worker_endpoint_calls', ep)).toBeGreaterThanOrEqual(2);
  expect(sum(st, 'mcp_worker_endpoint_transport_failures', ep)).toBe(1);
  expect(select(st, 'mcp_worker_task_queue_backlog', { worker: 'storage', task_queue: taskQueueFor('storage', stack.prefix) })).toHaveLength(1);

  // Data worker process: announced in the run file; ours and core's series on one endpoint.
  const announcement = JSON.parse(fs.readFileSync(metricsRunFile('data', { MCP_DATA_ROOT: root, MCP_TASK_QUEUE_PREFIX: stack.prefix }), 'utf8')) as MetricsAnnouncement;
  expect(announcement.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const dt = await scrape(announcement.url);
  const dataEp = { worker: 'data', group: 'data', endpoint: stack.serverUrls.data! };
  expect(sum(dt, 'mcp_worker_info', { worker: 'data', task_queue: taskQueueFor('data', stack.prefix) })).toBe(1);
  expect(sum(dt, 'mcp_worker_breaker_state', dataEp)).toBe(0);
  expect(sum(dt, 'mcp_worker_rate_budget_tokens', dataEp)).toBeGreaterThan(0);
  expect(sum(dt, 'mcp_worker_endpoint_calls', dataEp)).toBeGreaterThanOrEqual(2);
  expect(sum(dt, 'mcp_worker_endpoint_latency_seconds', dataEp)).toBeGreaterThan(0);
  expect(sum(dt, 'process_resident_memory_bytes', { worker: 'data' })).toBeGreaterThan(0);
  expect(sum(dt, 'process_cpu_seconds_total', { worker: 'data' })).toBeGreaterThan(0);
  expect(sum(dt, 'mcp_worker_core_metrics_up', { worker: 'data' })).toBe(1);
  // Temporal core: activity slots, polls and schedule-to-start latency of the worker's own tasks.
  expect(sum(dt, 'temporal_activity_schedule_to_start_latency_count', { task_queue: taskQueueFor('data', stack.prefix) })).toBeGreaterThanOrEqual(2);
  expect(sum(dt, 'temporal_activity_execution_latency_count', { task_queue: taskQueueFor('data', stack.prefix) })).toBeGreaterThanOrEqual(2);
  expect(select(dt, 'temporal_worker_task_slots_available', { task_queue: taskQueueFor('data', stack.prefix) }).length).toBeGreaterThan(0);
});
