import { z } from 'zod';

/** Zod shapes of the integration server's tools. No side effects: imported by server and tests. */

const signalTarget = z
  .object({
    workflowId: z.string().min(1).max(400).describe('Id of the workflow to signal on each verified delivery'),
    signalName: z
      .string()
      .min(1)
      .max(200)
      .describe('Signal name the workflow handles (e.g. "webhookReceived")'),
    namespace: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('Temporal namespace; the server default (TEMPORAL_NAMESPACE) when absent'),
  })
  .describe('Binding: signal this workflow with the delivery as payload');

// ------------------------------------------------------------------------------------------ rest_call

export const restCallInput = {
  method: z
    .enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
    .default('GET')
    .describe('HTTP method'),
  url: z
    .string()
    .min(1)
    .max(4096)
    .describe('Absolute http(s) URL; must match the allowlist and pass the SSRF guard'),
  headers: z
    .record(z.string(), z.string().max(8192))
    .optional()
    .describe(
      'Request headers (host, connection, content-length, transfer-encoding and other hop-by-hop headers are refused)',
    ),
  json: z
    .unknown()
    .optional()
    .describe('JSON body (sets content-type application/json); exclusive with text'),
  expectStatus: z
    .array(z.number().int().min(100).max(599))
    .optional()
    .describe('Statuses that count as success; any other answer makes the call fail (isError) with the status and body. Default: every answer is a result (ok: false for non-2xx)'),
  credential: z
    .enum(['none', 'service'])
    .default('none')
    .describe(
      'none: send only the given headers. service: the gateway attaches the stack service credential as a bearer token ' +
        '(only to an origin listed exactly in the allowlist; redirects are then not followed), so no secret passes through the caller',
    ),
  text: z
    .string()
    .max(4 * 1024 * 1024)
    .optional()
    .describe('Text body; exclusive with json'),
  timeoutMs: z
    .number()
    .int()
    .min(1)
    .max(600_000)
    .default(15_000)
    .describe('Total time for the call including redirects, ms'),
  maxResponseBytes: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'Cap on response body bytes read; the body is truncated (truncated: true) beyond it. Default 256 KiB (storeAs: maxStoredBytes); maximum: server limit',
    ),
  maxRedirects: z
    .number()
    .int()
    .min(0)
    .max(10)
    .default(5)
    .describe('Redirects followed (each hop re-vetted); more fail the call'),
  storeAs: z
    .string()
    .min(1)
    .max(512)
    .regex(/^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[\w./-]+$/, 'a relative object key without ".." segments')
    .optional()
    .describe(
      'Store the response body in the storage server under this object key and return a storage:// reference instead of the body (large downloads). Cap: server maxStoredBytes',
    ),
};

export const restCallOutput = {
  status: z.number().int().describe('HTTP status of the final response'),
  ok: z.boolean().describe('True for 2xx'),
  finalUrl: z.string().describe('URL of the final response, after redirects'),
  redirects: z
    .array(
      z.object({
        status: z.number().int().describe('Redirect status'),
        location: z.string().describe('Absolute target'),
      }),
    )
    .describe('Redirect hops followed, in order'),
  headers: z
    .record(z.string(), z.string())
    .describe('Response headers, filtered (no set-cookie or hop-by-hop), at most 50'),
  bodyKind: z
    .enum(['json', 'text', 'base64', 'empty', 'stored'])
    .describe(
      'How the body is returned: parsed JSON, text, base64 bytes, none, or stored by reference (see stored)',
    ),
  json: z.unknown().optional().describe('Parsed JSON body (bodyKind json; only when not truncated)'),
  text: z.string().optional().describe('Body as text (bodyKind text) or base64 (bodyKind base64)'),
  bodyBytes: z.number().int().describe('Body bytes read (at most maxResponseBytes)'),
  truncated: z.boolean().describe('True when the body was cut at maxResponseBytes'),
  elapsedMs: z.number().describe('Wall time of the whole call, ms, measured'),
  connectedAddress: z.string().describe('IP address the final hop connected to (the vetted, pinned address)'),
  stored: z
    .object({
      uri: z.string().describe('storage://<key> reference to the body'),
      key: z.string().describe('Object key'),
      version: z.number().int().describe('Object version'),
      sha256: z.string().describe('SHA-256 of the stored bytes'),
      size: z.number().int().describe('Stored bytes'),
    })
    .optional()
    .describe('Where the body was stored (storeAs); the body itself is then not returned'),
};

// ------------------------------------------------------------------------------------------ webhooks

export const webhookSetupInput = {
  name: z.string().min(1).max(100).describe('Human name of the endpoint (e.g. "training-finished")'),
  binding: signalTarget.optional(),
};

const webhookSummary = {
  id: z.string().describe('Endpoint id (wh_…)'),
  name: z.string().describe('Endpoint name'),
  url: z.string().describe('URL senders POST deliveries to'),
  binding: signalTarget.optional(),
  createdAt: z.string().describe('Creation time, ISO 8601'),
};

export const webhookSetupOutput = {
  ...webhookSummary,
  secret: z.string().describe('HMAC secret (whsec_…), shown only now: store it with the sender'),
  signatureHeader: z
    .string()
    .describe('Header carrying "t=<unix s>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>"'),
  idHeader: z.string().describe('Header carrying the unique event id; a repeated id is refused'),
  toleranceS: z.number().int().describe('Accepted age of a signature timestamp, seconds'),
};

export const deleteWebhookInput = { id: z.string().min(1).max(100).describe('Endpoint id to delete') };
export const deleteWebhookOutput = {
  id: z.string().describe('The deleted endpoint id'),
  deleted: z.boolean().describe('True: the endpoint no longer accepts deliveries'),
  existed: z.boolean().describe('False when there was no such endpoint (already deleted): nothing changed'),
};

export const listWebhooksInput = {
  limit: z.number().int().min(1).max(200).default(50).describe('Most endpoints to return'),
};
export const listWebhooksOutput = {
  webhooks: z.array(z.object(webhookSummary)).describe('Endpoints, oldest first (no secrets)'),
  total: z.number().int().describe('Endpoints registered in all'),
};

export const deliveryVerdicts = [
  'delivered',
  'accepted',
  'bad_signature',
  'stale',
  'malformed',
  'replayed',
  'signal_failed',
] as const;

export const listDeliveriesInput = {
  webhookId: z.string().max(100).optional().describe('Only deliveries to this endpoint'),
  verdict: z.enum(deliveryVerdicts).optional().describe('Only deliveries with this verdict'),
  limit: z.number().int().min(1).max(200).default(50).describe('Most deliveries to return'),
};

export const listDeliveriesOutput = {
  deliveries: z
    .array(
      z.object({
        at: z.string().describe('Receipt time, ISO 8601'),
        webhookId: z.string().describe('Endpoint id'),
        eventId: z.string().optional().describe('X-Webhook-Id of the delivery'),
        verdict: z
          .enum(deliveryVerdicts)
          .describe('delivered (signalled), accepted (verified, no binding) or why it was refused'),
        httpStatus: z.number().int().describe('HTTP status answered to the sender'),
        detail: z.string().optional().describe('Why it was refused or failed'),
        bytes: z.number().int().describe('Body size'),
        bodySha256: z.string().describe('SHA-256 of the raw body (the body itself is not kept)'),
        signal: signalTarget.optional(),
      }),
    )
    .describe('Recent deliveries, newest first'),
  total: z
    .number()
    .int()
    .describe('Recorded deliveries matching the filter (the server keeps the last 1000)'),
};

// ------------------------------------------------------------------------------------------ API keys

const env = z
  .enum(['prod', 'staging'])
  .describe('Environment the key belongs to; a key is only valid in its own');

const apiKeyInfo = z
  .object({
    id: z.string().describe('Key id'),
    env,
    name: z.string().describe('Key name'),
    scopes: z.array(z.string()).describe('Scopes granted to the key'),
    prefix: z
      .string()
      .describe('Recognisable prefix of the key (mk_<env>_<id>.<4 chars>); never the whole key'),
    status: z
      .enum(['active', 'revoked', 'expired', 'rotating'])
      .describe('rotating: replaced, valid until its grace ends'),
    createdAt: z.string().describe('Creation time, ISO 8601'),
    expiresAt: z.string().optional().describe('Expiry time, ISO 8601'),
    revokedAt: z.string().optional().describe('When the key stops / stopped verifying, ISO 8601'),
    replacedBy: z.string().optional().describe('Id of the key that replaced it on rotation'),
  })
  .describe('Key metadata (no secret, no hash)');

export const apiKeyMgmtInput = {
  action: z.enum(['create', 'list', 'rotate', 'revoke']).describe('What to do'),
  env: env.optional(),
  name: z.string().min(1).max(100).optional().describe('create: key name (required)'),
  scopes: z.array(z.string().min(1).max(100)).max(50).optional().describe('create: scopes granted'),
  expiresInDays: z
    .number()
    .int()
    .min(1)
    .max(3650)
    .optional()
    .describe('create: days until the key expires (default: never)'),
  keyId: z.string().min(1).max(100).optional().describe('rotate/revoke: the key id'),
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(0)
    .describe('rotate: seconds the old key keeps working'),
  includeRevoked: z.boolean().default(false).describe('list: include revoked and expired keys'),
  limit: z.number().int().min(1).max(200).default(50).describe('list: most keys to return'),
};

export const apiKeyMgmtOutput = {
  action: z.enum(['create', 'list', 'rotate', 'revoke']).describe('The action performed'),
  key: apiKeyInfo.optional().describe('create/rotate: the new key; revoke: the revoked key'),
  plaintext: z
    .string()
    .optional()
    .describe(
      'create/rotate: the full key, shown only in this result (a retry with the same idempotency key within 15 min gets it again)',
    ),
  replaced: apiKeyInfo.optional().describe('rotate: the key that was replaced'),
  alreadyRevoked: z.boolean().optional().describe('revoke: the key was already revoked'),
  keys: z.array(apiKeyInfo).optional().describe('list: keys, newest first'),
  total: z.number().int().optional().describe('list: keys matching in all'),
  replayed: z
    .boolean()
    .describe('True when this result answers an earlier call with the same idempotency key'),
};

export const verifyApiKeyInput = {
  key: z.string().min(1).max(200).describe('The full API key to check'),
  env: env.optional().describe('Require the key to belong to this environment'),
};

export const verifyApiKeyOutput = {
  valid: z.boolean().describe('True when the key exists, matches, is not revoked or expired, and fits env'),
  reason: z
    .enum(['malformed', 'unknown', 'revoked', 'expired', 'wrong_environment'])
    .optional()
    .describe('Why it is not valid'),
  key: apiKeyInfo.optional().describe('The key, when valid'),
  keyId: z.string().optional().describe('Key id, when the key was recognised but refused'),
};

// ------------------------------------------------------------------------------------------ rate limits

const bucketLimit = z
  .object({
    capacity: z.number().describe('Bucket size: the largest burst'),
    refillPerSecond: z.number().describe('Tokens added per second'),
  })
  .describe('A token-bucket limit');

export const rateLimitInput = {
  clientId: z
    .string()
    .min(1)
    .max(140)
    .describe(
      'Client to limit: a bearer subject as "sub:<id>", an x-client-id value, "ip:<address>", or "*" for the default',
    ),
  capacity: z.number().positive().max(1_000_000).optional().describe('Burst size; required unless remove'),
  refillPerSecond: z
    .number()
    .min(0)
    .max(1_000_000)
    .optional()
    .describe('Tokens per second; required unless remove'),
  remove: z.boolean().default(false).describe("Remove the client's own limit so the default applies again"),
};

export const rateLimitOutput = {
  clientId: z.string().describe('The client (or "*")'),
  limit: bucketLimit.describe('The limit now in force for it'),
  previous: bucketLimit.describe('The limit in force before'),
  source: z.enum(['client', 'default']).describe("Whether the limit is the client's own or the default"),
  rateLimitPerMinute: z.number().describe('Sustained requests per minute under the new limit'),
};

export const getRateLimitInput = {
  clientId: z.string().min(1).max(140).optional().describe('Client to inspect; absent: the caller itself'),
};

export const getRateLimitOutput = {
  clientId: z.string().describe('The client inspected'),
  isCaller: z.boolean().describe('True when it is the caller of this tool'),
  limit: bucketLimit,
  source: z.enum(['client', 'default']).describe("Whether the limit is the client's own or the default"),
  tokens: z
    .number()
    .describe('Tokens available now (measured from the live bucket; capacity when untracked)'),
  tracked: z.boolean().describe('True when the client has a live bucket (has called since start)'),
  defaultLimit: bucketLimit.describe('The default limit'),
  overrides: z
    .array(z.object({ clientId: z.string().describe('Client id'), limit: bucketLimit }))
    .describe('Clients with their own limit (first 50)'),
  overrideCount: z.number().int().describe('Clients with their own limit in all'),
};

// ------------------------------------------------------------------------------------------ server_info

export const serverInfoInput = {};

export const serverInfoOutput = {
  server: z.string().describe('Server name'),
  version: z.string().describe('Server version'),
  tools: z.array(z.string()).describe('Tool names'),
  capabilities: z.record(z.string(), z.unknown()).describe('Facts about what the server can do'),
  limits: z.record(z.string(), z.unknown()).describe('Limits enforced by this server'),
  allowlist: z.array(z.string()).describe('Outbound allowlist entries (MCP_INTEGRATION_ALLOW)'),
  counts: z
    .object({
      webhooks: z.number().int().describe('Registered webhook endpoints'),
      apiKeys: z.number().int().describe('Active API keys (including rotating ones)'),
      apiKeysByEnv: z.record(z.string(), z.number().int()).describe('Active API keys per environment'),
      deliveriesRecorded: z.number().int().describe('Deliveries in the recent log'),
      rateLimitOverrides: z.number().int().describe('Clients with their own rate limit'),
    })
    .describe('Counts of managed objects'),
  measured: z.record(z.string(), z.unknown()).describe('Facts measured on this machine, live'),
};
