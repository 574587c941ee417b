import path from 'node:path';
import {
  IdempotencyStore,
  ObjectStoreClient,
  logger,
  runServerMain,
  startMcpHttpServer,
  type RunningServer,
} from '../kit';
import { authSettingsFromEnv, type McpAuthOption } from '../kit/auth';
import {
  loadDataServerConfig,
  parseDataServerConfig,
  type DataServerConfig,
  type DataServerConfigInput,
} from './config';
import { RateLimiter } from './connection-pool';
import { DataEngine } from './duckdb-engine';
import { DATA_SERVER_NAME, DATA_SERVER_VERSION, buildServer, type DataServerDeps } from './server';

export { loadDataServerConfig, type DataServerConfig, type DataServerConfigInput } from './config';

export interface StartDataServerOptions {
  /** Object store client to use instead of one built from `storageUrl`/`serviceToken` (tests, custom auth). */
  storage?: ObjectStoreClient;
  /** Authenticates `/mcp` requests: an authenticator or kit auth settings (entry point: from `MCP_AUTH*`). */
  auth?: McpAuthOption;
}

export interface StartedDataServer {
  server: RunningServer;
  /** The DuckDB engine, for in-process tests. */
  engine: DataEngine;
  config: DataServerConfig;
  close(): Promise<void>;
}

/**
 * Starts the data server: opens DuckDB under `config.dataDir` (seeding it on first start), locks the
 * configuration, and serves MCP over Streamable HTTP. `config` is the kit's base config; the data settings
 * (seedRows, queryTimeoutMs, storageUrl, …) are optional and default as documented in config.ts.
 */
export async function startDataServer(
  config: DataServerConfigInput,
  opts: StartDataServerOptions = {},
): Promise<StartedDataServer> {
  const cfg = parseDataServerConfig(config);
  const log = logger(DATA_SERVER_NAME);
  const engine = await DataEngine.open({
    dataDir: cfg.dataDir,
    seed: { seed: cfg.seed, rows: cfg.seedRows, customers: cfg.seedCustomers, products: cfg.seedProducts },
    memoryLimit: cfg.memoryLimit,
    threads: cfg.threads,
    maxConcurrent: cfg.maxConcurrent,
    etlSchemas: cfg.etlSchemas,
  });
  const storage =
    opts.storage ??
    (cfg.storageUrl
      ? new ObjectStoreClient({
          baseUrl: cfg.storageUrl.replace(/\/+$/, ''),
          token: async () => cfg.serviceToken,
        })
      : undefined);
  if (!storage) log.warn('MCP_STORAGE_URL not set: parquet/csv outputs will fail until it is configured');
  const deps: DataServerDeps = {
    config: cfg,
    engine,
    idempotency: new IdempotencyStore(path.join(cfg.dataDir, 'idempotency')),
    limiter: new RateLimiter(cfg.rateLimitPerMinute),
    storage,
    startedAt: Date.now(),
  };
  let server: RunningServer;
  try {
    server = await startMcpHttpServer({
      name: DATA_SERVER_NAME,
      version: DATA_SERVER_VERSION,
      config: cfg,
      buildServer: () => buildServer(deps),
      auth: opts.auth,
      health: () => ({ duckdb: engine.duckdbVersion, seedRows: engine.seedInfo.rows, ...engine.load }),
    });
  } catch (err) {
    await engine.close();
    throw err;
  }
  let closed = false;
  return {
    server,
    engine,
    config: cfg,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await engine.close();
    },
  };
}

if (require.main === module) {
  runServerMain(DATA_SERVER_NAME, async () => {
    const started = await startDataServer(loadDataServerConfig(), { auth: authSettingsFromEnv() });
    // runServerMain closes the HTTP server itself; close() here releases DuckDB.
    return { server: started.server, close: () => started.engine.close() };
  });
}
