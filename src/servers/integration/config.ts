import { z } from 'zod';
import { loadBaseServerConfig, type BaseServerConfig } from '../kit';
import { parseAllowlist } from './ssrf-guard';

/** Default port of the integration server. */
export const INTEGRATION_DEFAULT_PORT = 8004;

/** Settings of the integration server beyond the kit's base ones (env names in README.md). */
export const integrationSettingsSchema = z.object({
  /** Outbound allowlist: origins (`http://127.0.0.1:8007`) or host:port patterns (`*.example.com:443`). */
  allow: z.array(z.string()).default([]),
  /**
   * The stack's service credential (`MCP_SERVICE_TOKEN`), attached by `rest_call` with
   * `credential: "service"` to exactly-allowlisted origins only: the gateway holds the secret, so it
   * never travels through a pipeline's arguments or Temporal history.
   */
  serviceToken: z.string().optional(),
  /** Temporal frontend for webhook → signal delivery. */
  temporalAddress: z.string().min(1).default('127.0.0.1:7233'),
  /** Namespace used when a webhook binding names none. */
  temporalNamespace: z.string().min(1).default('default'),
  /** Default token bucket per client on /mcp: burst size. */
  rateCapacity: z.coerce.number().positive().max(1_000_000).default(100),
  /** Default token bucket per client on /mcp: tokens per second (100/min). */
  rateRefillPerSecond: z.coerce
    .number()
    .min(0)
    .max(1_000_000)
    .default(100 / 60),
  /** Upper bound on `rest_call.maxResponseBytes`. */
  maxResponseBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Outbound calls in flight at once; more wait their turn. */
  maxConcurrent: z.coerce.number().int().positive().max(1000).default(16),
  /** Upper bound on `rest_call.timeoutMs`. */
  maxTimeoutMs: z.coerce.number().int().positive().default(120_000),
  /** Accepted age/skew of a webhook signature timestamp, seconds. */
  webhookToleranceS: z.coerce.number().int().positive().max(86_400).default(300),
  /** Largest accepted webhook body. */
  webhookMaxBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  /** Storage server base URL for `rest_call.storeAs` (MCP_STORAGE_URL); absent: storing is unavailable. */
  storageUrl: z.string().url().optional(),
  /** Largest response body `rest_call` stores by reference. */
  maxStoredBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),
  /** Base URL senders use to reach this server (for the URLs webhook_setup returns); default: the bound URL. */
  publicUrl: z.string().url().optional(),
});
export type IntegrationSettings = z.infer<typeof integrationSettingsSchema>;
export type IntegrationConfig = BaseServerConfig & IntegrationSettings;

function list(value: string | undefined): string[] | undefined {
  return value === undefined || value.trim() === ''
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

/** Parses settings (from env or a test's object) and validates the allowlist entries too. */
export function parseIntegrationSettings(
  input: Partial<Record<keyof IntegrationSettings, unknown>>,
): IntegrationSettings {
  const parsed = integrationSettingsSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid integration server configuration: ${issues}`);
  }
  parseAllowlist(parsed.data.allow);
  return parsed.data;
}

/** Reads the integration server's configuration from the environment (see README.md). */
export function loadIntegrationConfig(env: NodeJS.ProcessEnv = process.env): IntegrationConfig {
  const base = loadBaseServerConfig('integration', INTEGRATION_DEFAULT_PORT, env);
  const settings = parseIntegrationSettings({
    allow: list(env.MCP_INTEGRATION_ALLOW),
    serviceToken: env.MCP_SERVICE_TOKEN || undefined,
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || undefined,
    rateCapacity: env.MCP_INTEGRATION_RATE_CAPACITY || undefined,
    rateRefillPerSecond: env.MCP_INTEGRATION_RATE_REFILL_PER_S || undefined,
    maxResponseBytes: env.MCP_INTEGRATION_MAX_RESPONSE_BYTES || undefined,
    maxConcurrent: env.MCP_INTEGRATION_MAX_CONCURRENT || undefined,
    maxTimeoutMs: env.MCP_INTEGRATION_MAX_TIMEOUT_MS || undefined,
    webhookToleranceS: env.MCP_INTEGRATION_WEBHOOK_TOLERANCE_S || undefined,
    webhookMaxBytes: env.MCP_INTEGRATION_WEBHOOK_MAX_BYTES || undefined,
    publicUrl: env.MCP_INTEGRATION_PUBLIC_URL || undefined,
    storageUrl: env.MCP_STORAGE_URL || undefined,
    maxStoredBytes: env.MCP_INTEGRATION_MAX_STORED_BYTES || undefined,
  });
  return { ...base, ...settings };
}
