import { NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { Command } from 'commander';
import { temporalTarget } from '../client/temporal-connection';
import { loadRegistry } from '../registry/registry';
import { tokenSourceFromEnv } from '../servers/kit/client-auth';
import { createGroupWorker } from './group-worker';
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

  Runtime.install({
    logger: undefined,
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
  const target = temporalTarget();
  const connection = await NativeConnection.connect(target.connectionOptions);
  try {
    if (group === 'orchestrator') {
      const worker = await createOrchestratorWorker({ connection, namespace: target.namespace, taskQueuePrefix: process.env.MCP_TASK_QUEUE_PREFIX });
      process.stderr.write(`worker orchestrator ready on ${target.connectionOptions.address}\n`);
      await worker.run();
    } else {
      // One OAuth client per group (`orchestrator-<group>`): a leaked worker credential opens one server only.
      const tokens = tokenSourceFromEnv(`orchestrator-${group}`);
      tokens?.credentials();
      if (!tokens) process.stderr.write(`worker mcp-${group}: MCP_AUTH=off, calling servers without tokens\n`);
      const { worker, pool } = await createGroupWorker({
        connection,
        namespace: target.namespace,
        group,
        registry: loadRegistry(),
        maxConcurrentActivities: maxConcurrent,
        taskQueuePrefix: process.env.MCP_TASK_QUEUE_PREFIX,
        tokens,
      });
      process.stderr.write(`worker ${process.env.MCP_TASK_QUEUE_PREFIX ?? ''}mcp-${group} ready on ${target.connectionOptions.address}\n`);
      try {
        await worker.run();
      } finally {
        await pool.close();
      }
    }
  } finally {
    await connection.close();
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
