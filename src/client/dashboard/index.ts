import { Client, Connection } from '@temporalio/client';
import type { Command } from 'commander';
import type { McpClientPoolOptions } from '../../mcp/pool';
import { loadRegistry, type Registry } from '../../registry/registry';
import { discoveryPoolOptions } from '../pipeline-loader';
import { temporalTarget } from '../temporal-connection';
import { startDashboardServer, type RunningDashboard } from './server';
import { ServersMonitor } from './servers-monitor';
import { loadDataConverter } from '../../codec';

export { startDashboardServer } from './server';
export { ServersMonitor } from './servers-monitor';

export interface StartDashboardOptions {
  /** A Temporal client to use (tests); without one, a connection from `temporalTarget()` is opened and closed with the dashboard. */
  client?: Client;
  namespace?: string;
  port?: number;
  uiUrl?: string;
  registry?: Registry;
  poolOptions?: McpClientPoolOptions;
  /** Discovery interval of the servers view. @default 10000 */
  serversIntervalMs?: number;
}

/** Starts the dashboard: Temporal client, servers monitor, HTTP server. `close()` stops all three. */
export async function startDashboard(opts: StartDashboardOptions = {}): Promise<RunningDashboard & { monitor: ServersMonitor }> {
  let connection: Connection | undefined;
  let client = opts.client;
  let namespace = opts.namespace ?? 'default';
  if (!client) {
    const target = temporalTarget();
    connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: 5000 } as never);
    namespace = opts.namespace ?? target.namespace;
    client = new Client({ connection, namespace, dataConverter: await loadDataConverter() });
  }
  const monitor = new ServersMonitor(opts.registry ?? loadRegistry(), opts.poolOptions ?? discoveryPoolOptions(), { intervalMs: opts.serversIntervalMs ?? 10_000 });
  monitor.start();
  try {
    const dash = await startDashboardServer({ client, namespace, monitor, port: opts.port, uiUrl: opts.uiUrl });
    return {
      ...dash,
      monitor,
      async close() {
        await dash.close();
        await monitor.close();
        await connection?.close();
      },
    };
  } catch (err) {
    await monitor.close();
    await connection?.close();
    throw err;
  }
}

/** `mcp-orch dashboard [--port 8090]`: serves the page until Ctrl-C. */
export function registerDashboardCommand(program: Command): Command {
  return program
    .command('dashboard')
    .description('serve the run dashboard on 127.0.0.1: recent runs, live DAG and timeline, servers, history charts')
    .option('-p, --port <port>', 'port on 127.0.0.1 (0: any free port)', '8090')
    .action(async (o: { port: string }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        process.stderr.write(`mcp-orch: --port '${o.port}' is not a port number (0-65535)\n`);
        process.exitCode = 2;
        return;
      }
      const dash = await startDashboard({ port });
      process.stdout.write(`dashboard: ${dash.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await dash.close();
    });
}
