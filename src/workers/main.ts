import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { Command } from 'commander';
import { temporalTarget } from '../client/temporal-connection';
import { metricsRunFile, startMetricsEndpoint, type RunningMetricsEndpoint } from '../observability/metrics/endpoint';
import { WorkerMetrics } from '../observability/metrics/worker-metrics';
import { coreMetricsTelemetry, workerMetricsSettings } from '../observability/metrics/worker-setup';
import { groupUsesStackAuth, loadRegistry } from '../registry/registry';
import { loadDataConverter } from '../codec';
import { configureLogging, temporalLogger } from '../observability/logging';
import { installTracing, shutdownTracing } from '../observability/tracing/setup';
import { activityTracingInterceptors } from '../observability/tracing/temporal';
import { tokenSourceFromEnv } from '../servers/kit/client-auth';
import { orchestratorQueue, taskQueueFor } from '../shared/constants';
import { createGroupWorker, type GroupWorkerOptions } from './group-worker';
import { createOrchestratorWorker } from './orchestrator-worker';

/**
 * Worker entry point: `main.js --group <name>` runs one server group's worker; `--group orchestrator`
 * runs the workflow worker. Shuts down gracefully on SIGTERM/SIGINT (the SDK handles the signals and
 * lets in-flight tasks finish within the grace time).
 */
async function run(): Promise<void> {
  const program = new Command()
    .requiredOption('--group <name>', 'server group to serve (data, storage, …) or "orchestrator"')
    .option('--max-concurrent <n>', 'most tool calls at once', (v) => Number(v))
    .parse(process.argv);
  const { group, maxConcurrent } = program.opts<{ group: string; maxConcurrent?: number }>();
  const service = group === 'orchestrator' ? 'orchestrator-worker' : `${group}-worker`;
  const log = configureLogging({ service });
  installTracing({ service });

  // Metrics: core serves its own Prometheus endpoint (configured here, before anything touches the
  // runtime); ours merges it with the worker's series on one /metrics (src/observability/metrics).
  const metricsSettings = workerMetricsSettings();
  const core = metricsSettings.enabled ? await coreMetricsTelemetry(metricsSettings) : undefined;
  Runtime.install({
    // The SDK's own worker logs (with workflow and activity ids) land as pino JSON lines too.
    logger: temporalLogger(log),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(core ? { metrics: core.metrics } : {}),
    },
  });
  const target = temporalTarget();
  const connection = await NativeConnection.connect(target.connectionOptions);
  // Encrypted history (MCP_PAYLOAD_CODEC=aes-gcm): keys from the security server before any task runs.
  const dataConverter = await loadDataConverter();
  const prefix = process.env.MCP_TASK_QUEUE_PREFIX;
  const metrics = metricsSettings.enabled
    ? new WorkerMetrics({
        group,
        taskQueue: group === 'orchestrator' ? orchestratorQueue(prefix) : taskQueueFor(group, prefix),
        temporal: { source: connection, namespace: target.namespace, taskQueueType: group === 'orchestrator' ? 'workflow' : 'activity' },
      })
    : undefined;
  let endpoint: RunningMetricsEndpoint | undefined;
  const serveMetrics = async () => {
    if (!metrics) return;
    endpoint = await startMetricsEndpoint({
      registry: metrics.registry,
      host: metricsSettings.host,
      port: metricsSettings.port,
      coreUrl: core?.coreUrl,
      runFile: metricsRunFile(group),
      group,
    });
    process.stderr.write(`worker ${group}: metrics on ${endpoint.url}\n`);
  };
  try {
    if (group === 'orchestrator') {
      const worker = await createOrchestratorWorker({ connection, namespace: target.namespace, taskQueuePrefix: prefix, dataConverter });
      await serveMetrics();
      process.stderr.write(`worker orchestrator ready on ${target.connectionOptions.address}\n`);
      await worker.run();
    } else {
      // One OAuth client per group (`orchestrator-<group>`): a leaked worker credential opens one server only.
      // Third-party groups (stdio, their own credentials) never get the stack's tokens.
      const registry = loadRegistry();
      const tokens = groupUsesStackAuth(registry, group) ? tokenSourceFromEnv(`orchestrator-${group}`) : undefined;
      tokens?.credentials();
      if (!tokens) process.stderr.write(`worker mcp-${group}: no stack tokens for this group (MCP_AUTH=off or a third-party server)\n`);
      const groupOptions: GroupWorkerOptions = {
        connection,
        namespace: target.namespace,
        group,
        registry,
        dataConverter,
        maxConcurrentActivities: maxConcurrent,
        taskQueuePrefix: prefix,
        tokens,
        interceptors: { activity: [...activityTracingInterceptors(), ...(metrics ? [metrics.activityInterceptor()] : [])] },
      };
      const { worker, pool } = await createGroupWorker(groupOptions);
      metrics?.attachPool(pool);
      await serveMetrics();
      process.stderr.write(`worker ${process.env.MCP_TASK_QUEUE_PREFIX ?? ''}mcp-${group} ready on ${target.connectionOptions.address}\n`);
      try {
        await worker.run();
      } finally {
        await pool.close();
      }
    }
  } finally {
    await endpoint?.close();
    await connection.close();
    await shutdownTracing();
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
