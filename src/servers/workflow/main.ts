import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { discoveryPoolOptions } from '../../client/pipeline-loader';
import { temporalTarget } from '../../client/temporal-connection';
import type { McpClientPoolOptions } from '../../mcp/pool';
import { loadRegistry, type Registry } from '../../registry/registry';
import { IdempotencyStore, runServerMain, startMcpHttpServer, type RunningServer } from '../kit';
import { authSettingsFromEnv, type McpAuthOption } from '../kit/auth';
import {
  loadWorkflowServerConfig,
  parseWorkflowServerConfig,
  type WorkflowServerConfig,
  type WorkflowServerConfigInput,
} from './config';
import {
  WORKFLOW_SERVER_NAME,
  WORKFLOW_SERVER_VERSION,
  buildServer,
  type WorkflowServerDeps,
} from './server';
import { SpecPlanner } from './spec-planner';
import { RunControl } from './temporal-runs';
import { ScheduleControl } from './temporal-schedules';

export {
  loadWorkflowServerConfig,
  type WorkflowServerConfig,
  type WorkflowServerConfigInput,
} from './config';
import { loadDataConverter } from '../../codec';
import { clientTracingInterceptors } from '../../observability/tracing/temporal';

export interface StartWorkflowServerOptions {
  /** Authenticates `/mcp` requests: an authenticator or kit auth settings (entry point: from `MCP_AUTH*`). */
  auth?: McpAuthOption;
  /** A Temporal client to use instead of one built from `temporalTarget()` (not closed by `close()`). */
  temporalClient?: Client;
  /** Server registry to plan against. @default loadRegistry() (MCP_SERVERS_CONFIG, MCP_<GROUP>_ENDPOINTS), read per call */
  registry?: Registry;
  /** Discovery pool options. @default discoveryPoolOptions() (read-only `orchestrator` tokens, as the CLI) */
  poolOptions?: McpClientPoolOptions;
  /** Environment for `temporalTarget()`. @default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface StartedWorkflowServer {
  server: RunningServer;
  config: WorkflowServerConfig;
  close(): Promise<void>;
}

/**
 * Starts the workflow server: a Temporal client (lazy, so the server starts and reports clearly while
 * Temporal is still coming up), the planner, and MCP over Streamable HTTP.
 */
export async function startWorkflowServer(
  config: WorkflowServerConfigInput,
  opts: StartWorkflowServerOptions = {},
): Promise<StartedWorkflowServer> {
  const cfg = parseWorkflowServerConfig(config);
  const target = temporalTarget(opts.env);
  let connection: Connection | undefined;
  let client = opts.temporalClient;
  if (!client) {
    connection = Connection.lazy({ ...target.connectionOptions, connectTimeout: 5000 } as never);
    client = new Client({ connection, namespace: target.namespace, dataConverter: await loadDataConverter(), interceptors: { workflow: clientTracingInterceptors() } });
  }
  const deps: WorkflowServerDeps = {
    config: cfg,
    client,
    namespace: client.options.namespace,
    temporalAddress: target.connectionOptions.address ?? 'unknown',
    runs: new RunControl(client, cfg.taskQueuePrefix),
    schedules: new ScheduleControl(client, cfg.taskQueuePrefix),
    planner: new SpecPlanner({
      registry: () => opts.registry ?? loadRegistry(),
      poolOptions: () => opts.poolOptions ?? discoveryPoolOptions(),
      pipelinesDir: cfg.pipelinesDir,
      maxSpecBytes: cfg.maxSpecBytes,
      discoverTools: cfg.discoverTools,
      discoveryTimeoutMs: cfg.discoveryTimeoutMs,
    }),
    idempotency: new IdempotencyStore(path.join(cfg.dataDir, 'idempotency')),
    startedAt: Date.now(),
  };
  let server: RunningServer;
  try {
    server = await startMcpHttpServer({
      name: WORKFLOW_SERVER_NAME,
      version: WORKFLOW_SERVER_VERSION,
      config: cfg,
      buildServer: () => buildServer(deps),
      auth: opts.auth,
      health: () => ({
        temporal: deps.temporalAddress,
        namespace: deps.namespace,
        taskQueuePrefix: cfg.taskQueuePrefix,
      }),
    });
  } catch (err) {
    await connection?.close();
    throw err;
  }
  let closed = false;
  return {
    server,
    config: cfg,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await connection?.close();
    },
  };
}

if (require.main === module) {
  runServerMain(WORKFLOW_SERVER_NAME, async () => {
    const started = await startWorkflowServer(loadWorkflowServerConfig(), { auth: authSettingsFromEnv() });
    // runServerMain closes the HTTP server itself; close() here releases the Temporal connection.
    return { server: started.server, close: () => started.close() };
  });
}
