import fs from 'node:fs';
import os from 'node:os';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  registerTool,
  ToolError,
  WEBHOOK_HEADERS,
  type IdempotencyStore,
  type ObjectStoreClient,
  MCP_SERVER_OPTIONS,
} from '../kit';
import { ApiKeyError, type ApiKeyStore } from './api-keys';
import type { IntegrationConfig } from './config';
import { requestClient, type RateLimiter } from './rate-limiter';
import { FORBIDDEN_REQUEST_HEADERS, performRestCall, RestCallError } from './rest-client';
import * as s from './schemas';
import type { Semaphore } from '../kit/semaphore';
import { SsrfError, type AllowEntry, type Resolver } from './ssrf-guard';
import type { Signaler } from './temporal-signaler';
import type { DeliveryLog, WebhookEndpoint, WebhookRegistry } from './webhook-store';

/** Server version reported by server_info and /healthz. */
export const INTEGRATION_VERSION = '0.1.0';

/** Live counters since start (measured, reported by server_info). */
export interface IntegrationCounters {
  restCalls: number;
  restCallsRefusedBySsrfGuard: number;
  restCallsFailed: number;
}

/** Backends created once in `startIntegrationServer` and shared by every per-request McpServer. */
export interface IntegrationDeps {
  config: IntegrationConfig;
  allow: AllowEntry[];
  /** DNS resolver for the SSRF guard (injectable for tests); the system resolver when absent. */
  resolve?: Resolver;
  idempotency: IdempotencyStore;
  keys: ApiKeyStore;
  webhooks: WebhookRegistry;
  deliveries: DeliveryLog;
  limiter: RateLimiter;
  signaler: Signaler;
  outbound: Semaphore;
  /** Storage server client for `rest_call.storeAs` (MCP_STORAGE_URL); absent: storeAs is refused. */
  objects?: ObjectStoreClient;
  /** Base URL senders use to reach this server (known only once it listens). */
  baseUrl: () => string;
  startedAt: number;
  counters: IntegrationCounters;
}

const TOOL_NAMES = [
  'rest_call',
  'webhook_setup',
  'delete_webhook',
  'list_webhooks',
  'list_deliveries',
  'api_key_mgmt',
  'verify_api_key',
  'rate_limit',
  'get_rate_limit',
  'server_info',
] as const;

/** Inline body cap when the caller names none: results travel through Temporal, keep them small. */
const DEFAULT_INLINE_BYTES = 256 * 1024;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function webhookSummary(e: WebhookEndpoint, baseUrl: string) {
  return {
    id: e.id,
    name: e.name,
    url: `${baseUrl}/webhooks/${e.id}`,
    binding: e.binding,
    createdAt: e.createdAt,
  };
}

function perMinute(refillPerSecond: number): number {
  return Math.round(refillPerSecond * 60 * 1000) / 1000;
}

function asToolError(err: unknown): never {
  if (err instanceof ApiKeyError) throw new ToolError(err.message, err.code);
  throw err;
}

/** Builds the integration MCP server (called per HTTP request; all state lives in `deps`). */
export function buildServer(deps: IntegrationDeps): McpServer {
  const server = new McpServer({ name: 'integration', version: INTEGRATION_VERSION }, MCP_SERVER_OPTIONS);
  const { config } = deps;

  registerTool(
    server,
    'rest_call',
    {
      title: 'Call an HTTP API',
      description:
        'Makes an outbound HTTP request to an allowlisted destination. An SSRF guard refuses loopback, private, ' +
        'link-local/metadata and other internal addresses in any spelling, names resolving to them and redirects to ' +
        'them (unless the exact origin is allowlisted), and non-HTTP schemes. Returns status, filtered headers, the ' +
        'body (JSON or text, capped, with a truncated flag) and elapsed time. Non-2xx answers are results (ok: false), not errors.',
      inputSchema: s.restCallInput,
      outputSchema: s.restCallOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      if (args.json !== undefined && args.text !== undefined) {
        throw new ToolError('give either json or text as the body, not both', 'invalid_argument');
      }
      if (
        (args.method === 'GET' || args.method === 'HEAD') &&
        (args.json !== undefined || args.text !== undefined)
      ) {
        throw new ToolError(
          `method ${args.method} cannot carry a body; use POST/PUT/PATCH or drop json/text`,
          'invalid_argument',
        );
      }
      if (args.storeAs && !deps.objects) {
        throw new ToolError(
          'storeAs needs the storage server: set MCP_STORAGE_URL on the integration server, or drop storeAs',
          'unavailable',
        );
      }
      const cap = args.storeAs ? config.maxStoredBytes : config.maxResponseBytes;
      const maxResponseBytes =
        args.maxResponseBytes ?? (args.storeAs ? cap : Math.min(DEFAULT_INLINE_BYTES, cap));
      if (maxResponseBytes > cap) {
        throw new ToolError(
          `maxResponseBytes=${maxResponseBytes} exceeds the server limit ${cap}${args.storeAs ? ' (maxStoredBytes)' : ''}`,
          'invalid_argument',
        );
      }
      if (args.timeoutMs > config.maxTimeoutMs) {
        throw new ToolError(
          `timeoutMs=${args.timeoutMs} exceeds the server limit ${config.maxTimeoutMs}`,
          'invalid_argument',
        );
      }
      for (const [name, value] of Object.entries(args.headers ?? {})) {
        if (!HEADER_NAME.test(name))
          throw new ToolError(`header name "${name}" is not a valid HTTP token`, 'invalid_argument');
        if (FORBIDDEN_REQUEST_HEADERS.has(name.toLowerCase())) {
          throw new ToolError(
            `header "${name}" may not be set by the caller (computed by the server)`,
            'invalid_argument',
          );
        }
        if (/[\r\n\0]/.test(value))
          throw new ToolError(`header "${name}" contains CR, LF or NUL`, 'invalid_argument');
      }
      let headers = args.headers;
      if (args.expectStatus && args.expectStatus.length === 0) throw new ToolError('expectStatus needs at least one status code', 'invalid_argument');
      let maxRedirects = args.maxRedirects;
      if (args.credential === 'service') {
        let origin: string;
        try {
          origin = new URL(args.url).origin;
        } catch {
          throw new ToolError(`url "${args.url}" is not an absolute URL`, 'invalid_argument');
        }
        if (!config.allow.includes(origin)) {
          throw new ToolError(`credential "service" is attached only to origins listed exactly in the allowlist; ${origin} is not`, 'forbidden');
        }
        if (!config.serviceToken) throw new ToolError('credential "service" needs MCP_SERVICE_TOKEN on the integration server', 'unavailable');
        if (Object.keys(headers ?? {}).some((h) => h.toLowerCase() === 'authorization')) {
          throw new ToolError('give either an authorization header or credential "service", not both', 'invalid_argument');
        }
        headers = { ...headers, authorization: `Bearer ${config.serviceToken}` };
        // A redirect must not carry the credential elsewhere.
        maxRedirects = 0;
      }
      deps.counters.restCalls++;
      let response;
      try {
        response = await deps.outbound.run(() =>
          performRestCall(
            {
              method: args.method,
              url: args.url,
              // Only what the caller passed (plus the service credential when asked for): the inbound MCP
              // request's Authorization never reaches here.
              headers,
              json: args.json,
              text: args.text,
              timeoutMs: args.timeoutMs,
              maxResponseBytes,
              maxRedirects,
            },
            { allow: deps.allow, resolve: deps.resolve },
            ctx.signal,
          ),
        );
      } catch (err) {
        if (err instanceof SsrfError) {
          deps.counters.restCallsRefusedBySsrfGuard++;
          throw new ToolError(`refused by SSRF guard: ${err.message}`, `ssrf_${err.reason}`);
        }
        deps.counters.restCallsFailed++;
        if (err instanceof RestCallError) throw new ToolError(err.message, err.code);
        throw err;
      }
      const { rawBody, ...result } = response;
      if (args.expectStatus && !args.expectStatus.includes(response.status)) {
        const body = rawBody.toString('utf8').slice(0, 500);
        throw new ToolError(
          `${args.method} ${args.url} answered HTTP ${response.status} (expected ${args.expectStatus.join(' or ')}): ${body}`,
          'unexpected_status',
        );
      }
      if (!args.storeAs || !deps.objects) return result;
      if (response.truncated) {
        throw new ToolError(
          `response body exceeds maxResponseBytes=${maxResponseBytes}; not stored as ${args.storeAs} (it would be incomplete)`,
          'too_large',
        );
      }
      const stored = await deps.objects.put(args.storeAs, rawBody, {
        idempotencyKey: ctx.idempotencyKey ? `rest_call:${ctx.idempotencyKey}` : undefined,
        metadata: {
          sourceUrl: response.finalUrl,
          status: response.status,
          contentType: response.headers['content-type'] ?? null,
        },
      });
      return {
        ...result,
        bodyKind: 'stored' as const,
        json: undefined,
        text: undefined,
        stored: {
          uri: stored.uri,
          key: stored.key,
          version: stored.version,
          sha256: stored.sha256,
          size: stored.size,
        },
      };
    },
  );

  registerTool(
    server,
    'webhook_setup',
    {
      title: 'Register an inbound webhook',
      description:
        'Creates an endpoint POST /webhooks/<id> for a sender, returning its URL and HMAC secret (shown once). ' +
        'Deliveries must be signed (X-Webhook-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>) and ' +
        'carry a unique X-Webhook-Id; bad signatures, stale timestamps and replays are refused. With a binding, each ' +
        'verified delivery signals the workflow (payload: { webhookId, eventId, receivedAt, contentType, body }).',
      inputSchema: s.webhookSetupInput,
      outputSchema: s.webhookSetupOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args) => {
      const e = deps.webhooks.create({ name: args.name, binding: args.binding });
      return {
        ...webhookSummary(e, deps.baseUrl()),
        secret: e.secret,
        signatureHeader: WEBHOOK_HEADERS.signature,
        idHeader: WEBHOOK_HEADERS.id,
        toleranceS: config.webhookToleranceS,
      };
    },
  );

  registerTool(
    server,
    'delete_webhook',
    {
      title: 'Delete a webhook endpoint',
      description:
        'Deletes an inbound webhook endpoint; later deliveries to it get 404. Its delivery log entries remain. ' +
        'Deleting an endpoint that is already gone succeeds with existed: false (safe as a saga compensation).',
      inputSchema: s.deleteWebhookInput,
      outputSchema: s.deleteWebhookOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      idempotency: deps.idempotency,
    },
    async (args) => {
      const existed = deps.webhooks.delete(args.id);
      return { id: args.id, deleted: true, existed };
    },
  );

  registerTool(
    server,
    'list_webhooks',
    {
      title: 'List webhook endpoints',
      description:
        'Lists registered inbound webhook endpoints with their URL and binding (never their secrets).',
      inputSchema: s.listWebhooksInput,
      outputSchema: s.listWebhooksOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const all = deps.webhooks.list();
      return {
        webhooks: all.slice(0, args.limit).map((e) => webhookSummary(e, deps.baseUrl())),
        total: all.length,
      };
    },
  );

  registerTool(
    server,
    'list_deliveries',
    {
      title: 'List recent webhook deliveries',
      description:
        'Lists recent inbound deliveries, newest first, with their verdict (delivered, accepted, or why refused).',
      inputSchema: s.listDeliveriesInput,
      outputSchema: s.listDeliveriesOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const { deliveries, total } = deps.deliveries.query(args);
      return {
        deliveries: deliveries.map((d) => ({
          at: d.at,
          webhookId: d.webhookId,
          eventId: d.eventId,
          verdict: d.verdict,
          httpStatus: d.httpStatus,
          detail: d.detail,
          bytes: d.bytes,
          bodySha256: d.bodySha256,
          signal: d.signal,
        })),
        total,
      };
    },
  );

  registerTool(
    server,
    'api_key_mgmt',
    {
      title: 'Manage API keys',
      description:
        'create, list, rotate or revoke API keys per environment (prod/staging). Keys are stored as SHA-256 hashes; the ' +
        'plaintext is returned only by create/rotate. rotate issues a new key and retires the old one after graceSeconds. ' +
        'Send an idempotency key with create/rotate/revoke so a retry does the effect once.',
      inputSchema: s.apiKeyMgmtInput,
      outputSchema: s.apiKeyMgmtOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      },
      // No kit idempotency store: it would write the plaintext key to disk. The key store dedupes itself.
    },
    async (args, ctx) => {
      const callKey = ctx.idempotencyKey ? `api_key_mgmt:${args.action}:${ctx.idempotencyKey}` : undefined;
      try {
        switch (args.action) {
          case 'create': {
            if (!args.env)
              throw new ToolError('action create needs env ("prod" or "staging")', 'invalid_argument');
            if (!args.name) throw new ToolError('action create needs name', 'invalid_argument');
            const r = deps.keys.create(
              { env: args.env, name: args.name, scopes: args.scopes, expiresInDays: args.expiresInDays },
              callKey,
            );
            return { action: args.action, key: r.key, plaintext: r.plaintext, replayed: r.replayed };
          }
          case 'list': {
            const r = deps.keys.list({
              env: args.env,
              includeRevoked: args.includeRevoked,
              limit: args.limit,
            });
            return { action: args.action, keys: r.keys, total: r.total, replayed: false };
          }
          case 'rotate': {
            if (!args.keyId) throw new ToolError('action rotate needs keyId', 'invalid_argument');
            const r = deps.keys.rotate(args.keyId, args.graceSeconds, callKey);
            return {
              action: args.action,
              key: r.key,
              plaintext: r.plaintext,
              replaced: r.replaced,
              replayed: r.replayed,
            };
          }
          case 'revoke': {
            if (!args.keyId) throw new ToolError('action revoke needs keyId', 'invalid_argument');
            const r = deps.keys.revoke(args.keyId, callKey);
            return {
              action: args.action,
              key: r.key,
              alreadyRevoked: r.alreadyRevoked,
              replayed: r.replayed,
            };
          }
        }
      } catch (err) {
        asToolError(err);
      }
    },
  );

  registerTool(
    server,
    'verify_api_key',
    {
      title: 'Verify an API key',
      description:
        'Checks an API key: known, hash matches (constant time), not revoked or expired, and of the given environment.',
      inputSchema: s.verifyApiKeyInput,
      outputSchema: s.verifyApiKeyOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const r = deps.keys.verify(args.key, args.env);
      return r.valid ? { valid: true, key: r.key } : { valid: false, reason: r.reason, keyId: r.keyId };
    },
  );

  registerTool(
    server,
    'rate_limit',
    {
      title: 'Set a rate limit',
      description:
        'Sets the token-bucket limit (capacity, refillPerSecond) the server enforces on its MCP endpoint for one client ' +
        '("sub:<id>", an x-client-id value, "ip:<addr>") or for all ("*"), or removes a client\'s own limit. ' +
        'Exhausted clients get HTTP 429 with Retry-After. Limits persist across restarts.',
      inputSchema: s.rateLimitInput,
      outputSchema: s.rateLimitOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args) => {
      if (args.remove) {
        if (args.clientId === '*')
          throw new ToolError(
            'the default limit ("*") cannot be removed; set it instead',
            'invalid_argument',
          );
        const { previous } = deps.limiter.set(args.clientId, undefined);
        const now = deps.limiter.limitFor(args.clientId);
        return {
          clientId: args.clientId,
          limit: now.limit,
          previous,
          source: now.source,
          rateLimitPerMinute: perMinute(now.limit.refillPerSecond),
        };
      }
      if (args.capacity === undefined || args.refillPerSecond === undefined) {
        throw new ToolError('give both capacity and refillPerSecond (or remove: true)', 'invalid_argument');
      }
      if (args.capacity < 1)
        throw new ToolError(
          `capacity=${args.capacity} must be at least 1 (a bucket must hold one request)`,
          'invalid_argument',
        );
      const limit = { capacity: args.capacity, refillPerSecond: args.refillPerSecond };
      const { previous } = deps.limiter.set(args.clientId, limit);
      return {
        clientId: args.clientId,
        limit,
        previous,
        source: args.clientId === '*' ? 'default' : 'client',
        rateLimitPerMinute: perMinute(limit.refillPerSecond),
      } as const;
    },
  );

  registerTool(
    server,
    'get_rate_limit',
    {
      title: 'Read a rate limit',
      description:
        'Reads the limit in force for a client (default: the caller) and its live bucket level, plus the default and overrides.',
      inputSchema: s.getRateLimitInput,
      outputSchema: s.getRateLimitOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const caller = requestClient.getStore()?.clientId;
      const clientId = args.clientId ?? caller;
      if (!clientId)
        throw new ToolError('the caller could not be identified; pass clientId', 'invalid_argument');
      const st = deps.limiter.inspect(clientId);
      return {
        clientId,
        isCaller: clientId === caller,
        limit: st.limit,
        source: st.source,
        tokens: st.tokens,
        tracked: st.tracked,
        defaultLimit: deps.limiter.defaultLimit,
        overrides: deps.limiter.overrides(50),
        overrideCount: deps.limiter.overrideCount,
      };
    },
  );

  registerTool(
    server,
    'server_info',
    {
      title: 'Integration server facts',
      description:
        'Version, tools, capabilities, enforced limits, outbound allowlist, counts, and live measurements.',
      inputSchema: s.serverInfoInput,
      outputSchema: s.serverInfoOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      const keys = deps.keys.counts();
      const def = deps.limiter.defaultLimit;
      let diskFreeBytes: number | undefined;
      try {
        const st = fs.statfsSync(config.dataDir);
        diskFreeBytes = st.bavail * st.bsize;
      } catch {
        diskFreeBytes = undefined;
      }
      return {
        server: 'integration',
        version: INTEGRATION_VERSION,
        tools: [...TOOL_NAMES],
        capabilities: {
          outboundHttp: true,
          schemes: ['http', 'https'],
          ssrfGuard:
            'allowlist + internal-address block (all IP spellings, DNS answers pinned, redirects re-vetted)',
          webhookSignature:
            'HMAC-SHA256 over t.<raw body>, timestamp window, replay refusal by event id and MAC',
          webhookToTemporalSignal: true,
          storeResponsesByReference: !!deps.objects,
          temporalAddress: config.temporalAddress,
          temporalNamespace: config.temporalNamespace,
          apiKeyEnvironments: ['prod', 'staging'],
          apiKeyStorage: 'sha256 hash; plaintext shown once',
          rateLimiting:
            'token bucket per client on /mcp (bearer subject, else x-client-id, else remote address)',
          gpu: false,
        },
        limits: {
          rateLimitPerMinute: perMinute(def.refillPerSecond),
          rateLimitBurst: def.capacity,
          maxConcurrent: deps.outbound.max,
          maxResponseBytes: config.maxResponseBytes,
          defaultInlineResponseBytes: Math.min(DEFAULT_INLINE_BYTES, config.maxResponseBytes),
          maxStoredBytes: deps.objects ? config.maxStoredBytes : 0,
          maxTimeoutMs: config.maxTimeoutMs,
          maxRedirects: 10,
          webhookToleranceS: config.webhookToleranceS,
          webhookMaxBytes: config.webhookMaxBytes,
          maxRequestBodyBytes: config.maxBodyBytes,
        },
        allowlist: deps.allow.map((e) => e.raw),
        counts: {
          webhooks: deps.webhooks.size,
          apiKeys: keys.active,
          apiKeysByEnv: keys.byEnv,
          deliveriesRecorded: deps.deliveries.size,
          rateLimitOverrides: deps.limiter.overrideCount,
        },
        measured: {
          uptimeS: Math.round((Date.now() - deps.startedAt) / 100) / 10,
          cpuCount: os.cpus().length,
          loadAvg1m: os.loadavg()[0],
          freeMemBytes: os.freemem(),
          dataDirFreeBytes: diskFreeBytes,
          outboundInFlight: deps.outbound.inUse,
          outboundQueued: deps.outbound.queued,
          restCalls: deps.counters.restCalls,
          restCallsRefusedBySsrfGuard: deps.counters.restCallsRefusedBySsrfGuard,
          restCallsFailed: deps.counters.restCallsFailed,
          requestsAllowed: deps.limiter.allowed,
          requestsRateLimited: deps.limiter.rejected,
          rateLimitedClientsTracked: deps.limiter.trackedClients,
          deliveriesSinceStart: { ...deps.deliveries.totals },
          temporalConnected: deps.signaler.connected,
          gpuAvailable: false,
        },
      };
    },
  );

  return server;
}
