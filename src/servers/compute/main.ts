import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import {
  IdempotencyStore,
  ObjectStoreClient,
  loadBaseServerConfig,
  logger,
  runServerMain,
  serviceTokenFromEnv,
  startMcpHttpServer,
  type BaseServerConfig,
  type RunningServer,
} from '../kit';
import { authSettingsFromEnv, type McpAuthOption } from '../kit/auth';
import { JobManager } from './job-manager';
import { ModelStore } from './model-store';
import { COMPUTE_SERVER_VERSION, buildServer } from './server';

/** Default port of the compute server. */
export const COMPUTE_DEFAULT_PORT = 8002;

/** Compute-specific options (env names in README.md). */
export interface ComputeOptions {
  /** Storage server base URL. Env `MCP_STORAGE_URL`. */
  storageUrl: string;
  /** Bearer token for the storage object API. Env `MCP_SERVICE_TOKEN`. */
  serviceToken?: string;
  /** Training jobs at once. Env `MCP_COMPUTE_MAX_CONCURRENT_JOBS`. @default 1 */
  maxConcurrentJobs?: number;
  /** Jobs that may wait. Env `MCP_COMPUTE_MAX_QUEUED_JOBS`. @default 16 */
  maxQueuedJobs?: number;
  /** Longest a job may run. Env `MCP_COMPUTE_JOB_TIMEOUT_MS`. @default 1800000 */
  jobTimeoutMs?: number;
  /** Largest dataset object read. Env `MCP_COMPUTE_MAX_DATASET_BYTES`. @default 536870912 */
  maxDatasetBytes?: number;
  /** Most user-item pairs a job accepts. Env `MCP_COMPUTE_MAX_INTERACTIONS`. @default 5000000 */
  maxInteractions?: number;
  /** Base delay of webhook retries (tests shorten it). @default 500 */
  webhookBaseDelayMs?: number;
}

const optionsSchema = z.object({
  storageUrl: z.string().url(),
  serviceToken: z.string().min(1).optional(),
  // One job at a time by default: ALS uses one core per job, and this machine has two shared by the
  // MCP server, DuckDB and everything else.
  maxConcurrentJobs: z.coerce.number().int().min(1).max(64).default(1),
  maxQueuedJobs: z.coerce.number().int().min(0).max(10_000).default(16),
  jobTimeoutMs: z.coerce.number().int().min(1000).default(30 * 60_000),
  maxDatasetBytes: z.coerce.number().int().positive().default(512 * 1024 * 1024),
  maxInteractions: z.coerce.number().int().positive().default(5_000_000),
});

/** Reads compute options from the environment, failing fast with the variable's name. */
export function loadComputeOptions(env: NodeJS.ProcessEnv = process.env): ComputeOptions {
  const parsed = optionsSchema.safeParse({
    storageUrl: env.MCP_STORAGE_URL ?? 'http://127.0.0.1:8003',
    serviceToken: env.MCP_SERVICE_TOKEN || undefined,
    maxConcurrentJobs: env.MCP_COMPUTE_MAX_CONCURRENT_JOBS,
    maxQueuedJobs: env.MCP_COMPUTE_MAX_QUEUED_JOBS,
    jobTimeoutMs: env.MCP_COMPUTE_JOB_TIMEOUT_MS,
    maxDatasetBytes: env.MCP_COMPUTE_MAX_DATASET_BYTES,
    maxInteractions: env.MCP_COMPUTE_MAX_INTERACTIONS,
  });
  if (!parsed.success) {
    const names: Record<string, string> = {
      storageUrl: 'MCP_STORAGE_URL',
      serviceToken: 'MCP_SERVICE_TOKEN',
      maxConcurrentJobs: 'MCP_COMPUTE_MAX_CONCURRENT_JOBS',
      maxQueuedJobs: 'MCP_COMPUTE_MAX_QUEUED_JOBS',
      jobTimeoutMs: 'MCP_COMPUTE_JOB_TIMEOUT_MS',
      maxDatasetBytes: 'MCP_COMPUTE_MAX_DATASET_BYTES',
      maxInteractions: 'MCP_COMPUTE_MAX_INTERACTIONS',
    };
    const issues = parsed.error.issues.map((i) => `${names[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid compute server configuration: ${issues}`);
  }
  return parsed.data;
}

/**
 * Starts the compute server: job manager, model store and the MCP endpoint. Tests call it in-process
 * with `port: 0`; `close()` stops the HTTP server, terminates training workers and flushes job state.
 */
export async function startComputeServer(
  config: BaseServerConfig,
  options: ComputeOptions,
  startOpts: { auth?: McpAuthOption } = {},
): Promise<{ server: RunningServer; jobs: JobManager; close(): Promise<void> }> {
  const log = logger('compute');
  const dataDir = path.resolve(config.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const tmpRoot = path.join(dataDir, 'tmp');
  fs.rmSync(tmpRoot, { recursive: true, force: true });
  fs.mkdirSync(tmpRoot, { recursive: true });
  const opts = optionsSchema.parse(options);
  const baseUrl = opts.storageUrl.replace(/\/+$/, '');
  const token = opts.serviceToken ? async () => opts.serviceToken : serviceTokenFromEnv();
  if (!opts.serviceToken && !process.env.MCP_SERVICE_TOKEN) log.warn('MCP_SERVICE_TOKEN unset: storage will refuse object reads and writes');
  const objects = new ObjectStoreClient({ baseUrl, token });
  const objectExists = async (key: string): Promise<boolean> => {
    const t = await token();
    const res = await fetch(`${baseUrl}/objects/${key.split('/').map(encodeURIComponent).join('/')}`, {
      method: 'HEAD',
      headers: t ? { authorization: `Bearer ${t}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status === 404 || res.status === 400) return false;
    if (!res.ok) throw new Error(`HEAD returned HTTP ${res.status}`);
    return true;
  };
  const models = new ModelStore(dataDir, objects);
  const limits = {
    maxConcurrentJobs: opts.maxConcurrentJobs,
    maxQueuedJobs: opts.maxQueuedJobs,
    jobTimeoutMs: opts.jobTimeoutMs,
    maxDatasetBytes: opts.maxDatasetBytes,
    maxInteractions: opts.maxInteractions,
  };
  const jobs = new JobManager({ dataDir, tmpRoot, objects, models, ...limits, webhookBaseDelayMs: options.webhookBaseDelayMs });
  const idempotency = new IdempotencyStore(path.join(dataDir, 'idempotency'));
  const deps = { dataDir, tmpRoot, objects, objectExists, jobs, models, idempotency, limits };
  const server = await startMcpHttpServer({
    name: 'compute',
    version: COMPUTE_SERVER_VERSION,
    config,
    buildServer: () => buildServer(deps),
    auth: startOpts.auth,
    health: () => ({ cpus: os.cpus().length, gpu: 'none detected unless server_info says otherwise', ...jobs.counts() }),
  });
  return {
    server,
    jobs,
    close: async () => {
      await server.close();
      await jobs.close();
    },
  };
}

if (require.main === module) {
  runServerMain('compute', () =>
    startComputeServer(loadBaseServerConfig('compute', COMPUTE_DEFAULT_PORT), loadComputeOptions(), {
      auth: authSettingsFromEnv(),
    }),
  );
}
