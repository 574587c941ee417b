import path from 'node:path';
import { z } from 'zod';

/**
 * Common start-up configuration of an MCP server, read from the environment and validated with zod
 * so a typo fails at start-up with the variable's name, not at the first request.
 */
export const baseServerConfigSchema = z.object({
  /** Interface to bind. Loopback by default: the servers are not meant to face the internet directly. */
  host: z.string().default('127.0.0.1'),
  /** TCP port; 0 picks a free one (tests). */
  port: z.coerce.number().int().min(0).max(65535),
  /** Folder for this server's state (database, objects, keys, idempotency records). */
  dataDir: z.string(),
  /** Extra host names accepted in the Host header, besides loopback names (DNS-rebinding protection). */
  allowedHosts: z.array(z.string()).default([]),
  /** Browser origins allowed to call the server; none by default. */
  allowedOrigins: z.array(z.string()).default([]),
  /** Largest accepted request body. */
  maxBodyBytes: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  /**
   * `/mcp` requests per minute per client (verified bearer subject, else remote address); more get 429
   * with `Retry-After`; 0 disables. Optional so literal configs in tests stay valid.
   * @default 1200 (DEFAULT_CLIENT_RATE_PER_MINUTE)
   */
  clientRateLimitPerMinute: z.coerce.number().int().min(0).optional(),
});
export type BaseServerConfig = z.infer<typeof baseServerConfigSchema>;

function list(value: string | undefined): string[] | undefined {
  return value === undefined || value === '' ? undefined : value.split(',').map((s) => s.trim());
}

/**
 * Reads `MCP_<NAME>_PORT`, `MCP_<NAME>_HOST`, `MCP_<NAME>_DATA_DIR` (falling back to `MCP_DATA_ROOT/<name>`,
 * then `.data/<name>`), `MCP_ALLOWED_HOSTS`, `MCP_ALLOWED_ORIGINS`, `MCP_MAX_BODY_BYTES`,
 * `MCP_<NAME>_CLIENT_RATE_PER_MIN` (falling back to `MCP_CLIENT_RATE_PER_MIN`).
 */
export function loadBaseServerConfig(
  name: string,
  defaultPort: number,
  env: NodeJS.ProcessEnv = process.env,
): BaseServerConfig {
  const key = name.toUpperCase().replace(/-/g, '_');
  const root = env.MCP_DATA_ROOT ?? path.resolve('.data');
  const parsed = baseServerConfigSchema.safeParse({
    host: env[`MCP_${key}_HOST`] ?? env.MCP_HOST,
    port: env[`MCP_${key}_PORT`] ?? defaultPort,
    dataDir: env[`MCP_${key}_DATA_DIR`] ?? path.join(root, name),
    allowedHosts: list(env.MCP_ALLOWED_HOSTS),
    allowedOrigins: list(env.MCP_ALLOWED_ORIGINS),
    maxBodyBytes: env.MCP_MAX_BODY_BYTES,
    clientRateLimitPerMinute: env[`MCP_${key}_CLIENT_RATE_PER_MIN`] || env.MCP_CLIENT_RATE_PER_MIN || undefined,
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid ${name} server configuration: ${issues}`);
  }
  return parsed.data;
}
