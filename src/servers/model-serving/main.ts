import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  ClientRateLimiter,
  DEFAULT_CLIENT_RATE_PER_MINUTE,
  ObjectStoreClient,
  logger,
  runServerMain,
  type BaseServerConfig,
  type RunningServer,
} from '../kit';
import {
  loadModelServingBaseConfig,
  loadModelServingOptions,
  MODEL_SERVING_NAME,
  type ModelServingOptions,
} from './config';
import { Deployments } from './deployments';
import { InferenceHost } from './inference-host';
import { ModelFiles } from './model-files';
import { Registry } from './registry';
import { buildServingApp } from './routes';

/** Reported in `/healthz`. */
export const MODEL_SERVING_VERSION = '0.1.0';

const COUNT_FLUSH_MS = 30_000;

/**
 * Starts the model-serving HTTP service: reloads the persisted deployments, then listens. Not an MCP
 * server: it is the serving infrastructure the pipeline deploys to through the integration server's
 * `rest_call`. Tests call it in-process with `port: 0`; `close()` stops HTTP, persists counters and
 * terminates the inference worker.
 */
export async function startModelServingServer(
  config: BaseServerConfig,
  options: ModelServingOptions,
): Promise<{ server: RunningServer; close(): Promise<void>; deployments: Deployments }> {
  const log = logger(MODEL_SERVING_NAME);
  const startedAt = Date.now();
  const dataDir = path.resolve(config.dataDir);
  const registry = new Registry(dataDir);
  const files = new ModelFiles(dataDir);
  const host = new InferenceHost(log, options.loadTimeoutMs ?? 120_000);
  const objects = new ObjectStoreClient({
    baseUrl: options.storageUrl.replace(/\/+$/, ''),
    token: async () => options.serviceToken,
    timeoutMs: 60_000,
  });
  if (!options.serviceToken)
    log.warn('MCP_SERVICE_TOKEN unset: the serving API is open and storage fetches carry no token');

  let baseUrl = options.publicUrl?.replace(/\/+$/, '') ?? '';
  const limits = {
    maxModelBytes: options.maxModelBytes ?? 256 * 1024 * 1024,
    maxModels: options.maxModels ?? 16,
    keepVersions: options.keepVersions ?? 2,
    maxK: options.maxK ?? 100,
    maxInflight: options.maxInflight ?? 32,
    inferenceTimeoutMs: options.inferenceTimeoutMs ?? 10_000,
  };
  const deployments = new Deployments({
    registry,
    files,
    host,
    objects,
    limits,
    log,
    baseUrl: () => baseUrl,
  });
  const restored = await deployments.restore();
  if (restored.loaded + restored.failed > 0) log.info('restored deployments', restored);

  const limiter = new ClientRateLimiter({
    perMinute: config.clientRateLimitPerMinute ?? DEFAULT_CLIENT_RATE_PER_MINUTE,
  });
  const app = buildServingApp({
    config,
    deployments,
    serviceToken: options.serviceToken,
    log,
    limiter,
    health: () => ({
      server: MODEL_SERVING_NAME,
      version: MODEL_SERVING_VERSION,
      uptimeS: (Date.now() - startedAt) / 1000,
      runtime: {
        onnxruntime: host.onnxruntimeVersion,
        executionProvider: 'cpu',
        gpu: false,
        workerRestarts: Math.max(0, host.restarts),
      },
      auth: options.serviceToken ? 'service-token' : 'off',
      limits: { ...limits, clientRateLimitPerMinute: limiter.perMinute },
      measured: {
        cpus: os.cpus().length,
        loadavg: os.loadavg(),
        freeMemBytes: os.freemem(),
        ...deployments.stats(),
      },
    }),
  });

  const httpServer = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (!baseUrl) baseUrl = url;
  log.info('listening', { url, models: registry.size });

  const flushTimer = setInterval(() => deployments.flush(), COUNT_FLUSH_MS);
  flushTimer.unref();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(flushTimer);
      await new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      });
      deployments.flush();
      await host.close();
    })());
  // No MCP endpoint here; `mcpUrl` points at the API root so RunningServer-shaped consumers get a URL.
  const server: RunningServer = {
    url,
    mcpUrl: `${url}/v1`,
    port,
    clientRateLimitPerMinute: limiter.perMinute,
    close,
  };
  return { server, close, deployments };
}

if (require.main === module) {
  runServerMain(MODEL_SERVING_NAME, () =>
    startModelServingServer(loadModelServingBaseConfig(), loadModelServingOptions()),
  );
}
