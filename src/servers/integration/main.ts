import fs from 'node:fs';
import {
  IdempotencyStore,
  logger,
  ObjectStoreClient,
  runServerMain,
  serviceTokenFromEnv,
  startMcpHttpServer,
  type RequestAuthenticator,
  type RunningServer,
} from '../kit';
import { authSettingsFromEnv, resolveServerAuth, type McpAuthOption } from '../kit/auth';
import { ApiKeyStore } from './api-keys';
import { loadIntegrationConfig, type IntegrationConfig } from './config';
import { RateLimiter, rateLimitMiddleware } from './rate-limiter';
import { Semaphore } from '../kit/semaphore';
import { buildServer, INTEGRATION_VERSION, type IntegrationDeps } from './server';
import { parseAllowlist, type Resolver } from './ssrf-guard';
import { TemporalSignaler, type Signaler } from './temporal-signaler';
import { webhookRoutes } from './webhook-receiver';
import { DeliveryLog, WebhookRegistry } from './webhook-store';

export interface StartIntegrationOptions {
  /** Authenticates `/mcp` requests (an authenticator or kit auth settings); also names clients for rate limiting. */
  auth?: McpAuthOption;
  /** DNS resolver for the SSRF guard; tests inject one. @default the system resolver */
  resolve?: Resolver;
  /** Replaces the Temporal signaler (tests without Temporal). */
  signaler?: Signaler;
  /** Bearer token for the storage server. @default MCP_SERVICE_TOKEN */
  storageToken?: () => Promise<string | undefined>;
  /** Clock for the rate limiter (tests). */
  now?: () => number;
}

/**
 * Starts the integration server: outbound `rest_call` behind the SSRF guard, inbound webhooks at
 * `POST /webhooks/<id>` (signalling Temporal workflows), API keys and per-client rate limits enforced
 * on `/mcp`.
 */
export async function startIntegrationServer(
  config: IntegrationConfig,
  opts: StartIntegrationOptions = {},
): Promise<{ server: RunningServer; deps: IntegrationDeps; close(): Promise<void> }> {
  const log = logger('integration');
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Webhook secrets and idempotency records live here: owner-only.
  fs.chmodSync(config.dataDir, 0o700);
  const allow = parseAllowlist(config.allow);
  const limiter = new RateLimiter(
    config.dataDir,
    { capacity: config.rateCapacity, refillPerSecond: config.rateRefillPerSecond },
    opts.now,
  );
  const signaler =
    opts.signaler ??
    new TemporalSignaler({ address: config.temporalAddress, namespace: config.temporalNamespace });
  const webhooks = new WebhookRegistry(config.dataDir);
  const deliveries = new DeliveryLog(config.dataDir);
  let baseUrl = config.publicUrl?.replace(/\/+$/, '') ?? '';

  const deps: IntegrationDeps = {
    config,
    allow,
    resolve: opts.resolve,
    idempotency: new IdempotencyStore(config.dataDir),
    keys: new ApiKeyStore(config.dataDir),
    webhooks,
    deliveries,
    limiter,
    signaler,
    outbound: new Semaphore(config.maxConcurrent),
    objects: config.storageUrl
      ? new ObjectStoreClient({
          baseUrl: config.storageUrl.replace(/\/+$/, ''),
          token: opts.storageToken ?? serviceTokenFromEnv(),
        })
      : undefined,
    baseUrl: () => baseUrl,
    startedAt: Date.now(),
    counters: { restCalls: 0, restCallsRefusedBySsrfGuard: 0, restCallsFailed: 0 },
  };

  // Resolved here rather than in the kit: the rate-limit middleware needs the same authenticator.
  const auth: RequestAuthenticator | undefined = await resolveServerAuth('integration', opts.auth, () => buildServer(deps));

  const installWebhooks = webhookRoutes({
    registry: webhooks,
    deliveries,
    signaler,
    log,
    toleranceS: config.webhookToleranceS,
    maxBodyBytes: config.webhookMaxBytes,
  });

  const server = await startMcpHttpServer({
    name: 'integration',
    version: INTEGRATION_VERSION,
    config,
    buildServer: () => buildServer(deps),
    auth,
    routes: (app) => {
      // Registered before the kit's /mcp route, so every MCP request passes the bucket first.
      app.use('/mcp', rateLimitMiddleware(limiter, auth));
      installWebhooks(app);
    },
    health: () => ({
      webhooks: webhooks.size,
      temporalConnected: signaler.connected,
      allowlist: allow.length,
    }),
  });
  if (!baseUrl) baseUrl = server.url;
  log.info('integration ready', { allowlist: allow.map((e) => e.raw), temporal: config.temporalAddress });

  return {
    server,
    deps,
    async close() {
      await server.close();
      await signaler.close();
    },
  };
}

if (require.main === module) {
  runServerMain('integration', () => startIntegrationServer(loadIntegrationConfig(), { auth: authSettingsFromEnv() }));
}
