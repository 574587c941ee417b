import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  IdempotencyStore,
  loadBaseServerConfig,
  logger,
  runServerMain,
  startMcpHttpServer,
  type BaseServerConfig,
  type RunningServer,
} from '../kit';
import { authSettingsFromEnv, type McpAuthOption } from '../kit/auth';
import { BackupCatalog } from './backup';
import { Semaphore } from '../kit/semaphore';
import { mountObjectRoutes } from './object-routes';
import { ObjectStore } from './object-store';
import { buildServer, STORAGE_SERVER_VERSION, type StorageDeps } from './server';
import {
  DEFAULT_INLINE_MAX_BYTES,
  DEFAULT_MAX_OBJECT_BYTES,
  DEFAULT_ZONES,
  loadStorageOptions,
  type StorageOptions,
} from './storage-config';

/** Default port of the storage server. */
export const STORAGE_DEFAULT_PORT = 8003;

/** Heavy tools (backup, restore, verify) running at once; the rest wait. Sized for a small machine. */
const MAX_CONCURRENT_HEAVY = Math.max(1, Math.min(4, os.cpus().length));

/**
 * Starts the storage server: the MCP tools on `/mcp` and the HTTP object API on `/objects/<key>`.
 * Tests call it in-process with `port: 0`; `close()` stops the HTTP server.
 */
export async function startStorageServer(
  config: BaseServerConfig & StorageOptions,
  opts: {
    /** Authenticates `/mcp` (an authenticator or kit auth settings); the object API keeps the service token. */
    auth?: McpAuthOption;
  } = {},
): Promise<{ server: RunningServer; close(): Promise<void> }> {
  const log = logger('storage');
  const dataDir = path.resolve(config.dataDir);
  const store = await ObjectStore.open(dataDir, config.zones ?? DEFAULT_ZONES);
  const idempotency = new IdempotencyStore(path.join(dataDir, 'idempotency'));
  const catalog = await BackupCatalog.open(dataDir);
  const importRoots = (config.importRoots ?? [path.join(dataDir, 'inbox')]).map((r) => path.resolve(r));
  for (const r of importRoots) fs.mkdirSync(r, { recursive: true });
  if (!config.signingSecret)
    log.info('MCP_STORAGE_SIGNING_SECRET unset: signed URLs are valid only until this process stops');
  if (!config.serviceToken) log.warn('MCP_SERVICE_TOKEN unset: the object API accepts only signed GET URLs');
  const signingSecret = config.signingSecret ?? crypto.randomBytes(32).toString('hex');
  const maxObjectBytes = config.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;

  let baseUrl = config.publicUrl?.replace(/\/+$/, '') ?? '';
  let ownOrigin = '';
  const deps: StorageDeps = {
    store,
    catalog,
    idempotency,
    signingSecret,
    serviceToken: config.serviceToken,
    importRoots,
    fetchAllowlist: () => [
      ...new Set([...(config.fetchAllowlist ?? []).map((u) => new URL(u).origin), ownOrigin].filter(Boolean)),
    ],
    baseUrl: () => baseUrl,
    maxObjectBytes,
    inlineMaxBytes: config.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES,
    maxBodyBytes: config.maxBodyBytes,
    heavy: new Semaphore(MAX_CONCURRENT_HEAVY),
  };

  const server = await startMcpHttpServer({
    name: 'storage',
    version: STORAGE_SERVER_VERSION,
    config,
    buildServer: () => buildServer(deps),
    auth: opts.auth,
    routes: (app) =>
      mountObjectRoutes(app, {
        store,
        idempotency,
        serviceToken: config.serviceToken,
        signingSecret,
        maxObjectBytes,
        log,
      }),
    health: () => ({ zones: store.zones, objects: store.stats().keys }),
  });
  ownOrigin = new URL(server.url).origin;
  if (!baseUrl) baseUrl = server.url;
  return { server, close: () => server.close() };
}

if (require.main === module) {
  runServerMain('storage', () =>
    startStorageServer(
      { ...loadBaseServerConfig('storage', STORAGE_DEFAULT_PORT), ...loadStorageOptions() },
      { auth: authSettingsFromEnv() },
    ),
  );
}
