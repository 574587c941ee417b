import path from 'node:path';
import { z } from 'zod';
import { baseServerConfigSchema, loadBaseServerConfig } from '../kit';

/** The orchestrator's server groups; one OAuth client and one audience each. */
export const DEFAULT_SERVER_GROUPS = [
  'data',
  'compute',
  'storage',
  'integration',
  'security',
  'notification',
];

/** Temporal Web UI of `temporal server start-dev` on its default port (`mcp-orch up`). */
export const DEFAULT_CODEC_CORS_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'];

export const securityConfigSchema = baseServerConfigSchema.extend({
  /** `iss` of issued tokens. Default: this server's base URL once it listens. Env `MCP_SECURITY_ISSUER`. */
  issuer: z.string().url().optional(),
  /** Access-token lifetime in seconds. Env `MCP_SECURITY_TOKEN_TTL_S`. */
  tokenTtlS: z.coerce.number().int().min(30).max(3600).default(300),
  /** Server groups that get a client and an audience on first start. Env `MCP_SECURITY_SERVER_GROUPS` (comma list). */
  serverGroups: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/))
    .min(1)
    .default(DEFAULT_SERVER_GROUPS),
  /** Storage server base URL for encrypt/decrypt. Env `MCP_STORAGE_URL`. */
  storageUrl: z.string().url().optional(),
  /** Bearer token for the storage object API. Env `MCP_SERVICE_TOKEN`. */
  serviceToken: z.string().optional(),
  /** Largest object encrypt/decrypt will load (they work in memory). Env `MCP_SECURITY_MAX_OBJECT_BYTES`. */
  maxObjectBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),
  /** encrypt/decrypt calls running at once; more wait their turn. Env `MCP_SECURITY_MAX_CONCURRENT_CRYPTO`. */
  maxConcurrentCrypto: z.coerce.number().int().min(1).max(64).default(2),
  /** Token requests per minute per remote address on `/oauth/token`. Env `MCP_SECURITY_TOKEN_RATE_PER_MIN`. */
  tokenRequestsPerMinute: z.coerce.number().int().min(1).default(120),
  /** Policy file (YAML or JSON). Default `<dataDir>/policy.yaml`. Env `MCP_SECURITY_POLICY_FILE`. */
  policyFile: z.string().optional(),
  /**
   * Require bearer JWTs (audience `mcp:security`) on this server's own `/mcp`, verified against its own
   * JWKS; every denied request and every allowed tool call is audited. Env `MCP_SECURITY_REQUIRE_AUTH=1`.
   */
  requireAuth: z.boolean().default(false),
  /**
   * Browser origins (Temporal Web UI) allowed to call the codec endpoint `/codec/encode|decode`
   * cross-origin; they are also let through the server's Origin check. Env `MCP_CODEC_CORS_ORIGINS`
   * (comma list). Default: the local dev server's UI on its default port.
   */
  codecCorsOrigins: z.array(z.string().url()).default(DEFAULT_CODEC_CORS_ORIGINS),
});
export type SecurityServerConfig = z.infer<typeof securityConfigSchema>;
/** What `startSecurityServer` accepts: the base config, security fields optional. */
export type SecurityServerConfigInput = z.input<typeof securityConfigSchema>;

function list(value: string | undefined): string[] | undefined {
  return value
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
}

/** Reads the security server's configuration from the environment (see README.md). */
export function loadSecurityConfig(env: NodeJS.ProcessEnv = process.env): SecurityServerConfig {
  const base = loadBaseServerConfig('security', 8005, env);
  const parsed = securityConfigSchema.safeParse({
    ...base,
    issuer: env.MCP_SECURITY_ISSUER || undefined,
    tokenTtlS: env.MCP_SECURITY_TOKEN_TTL_S || undefined,
    serverGroups: list(env.MCP_SECURITY_SERVER_GROUPS),
    storageUrl: env.MCP_STORAGE_URL || undefined,
    serviceToken: env.MCP_SERVICE_TOKEN || undefined,
    maxObjectBytes: env.MCP_SECURITY_MAX_OBJECT_BYTES || undefined,
    maxConcurrentCrypto: env.MCP_SECURITY_MAX_CONCURRENT_CRYPTO || undefined,
    tokenRequestsPerMinute: env.MCP_SECURITY_TOKEN_RATE_PER_MIN || undefined,
    policyFile: env.MCP_SECURITY_POLICY_FILE ? path.resolve(env.MCP_SECURITY_POLICY_FILE) : undefined,
    requireAuth: ['1', 'true', 'yes'].includes((env.MCP_SECURITY_REQUIRE_AUTH ?? '').toLowerCase()),
    codecCorsOrigins: list(env.MCP_CODEC_CORS_ORIGINS)?.map((o) => o.replace(/\/+$/, '')),
  });
  if (!parsed.success) {
    throw new Error(
      `invalid security server configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
