import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

const endpointSchema = z.discriminatedUnion('transport', [
  z.object({
    transport: z.literal('http'),
    url: z.string().url(),
    priority: z.number().int().min(1).default(1),
    /** Extra headers (e.g. a third-party server's own bearer token). */
    headers: z.record(z.string(), z.string()).default({}),
  }),
  z.object({
    transport: z.literal('stdio'),
    command: z.string(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    priority: z.number().int().min(1).default(1),
  }),
]);

const groupSchema = z.object({
  description: z.string().optional(),
  endpoints: z.array(endpointSchema).min(1, 'a group needs at least one endpoint'),
});

export const registrySchema = z.object({ groups: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), groupSchema) });

export type EndpointConfig = z.infer<typeof endpointSchema>;
export type GroupConfig = z.infer<typeof groupSchema>;
export type Registry = z.infer<typeof registrySchema>;

/** Where the registry file is: `MCP_SERVERS_CONFIG`, else `config/servers.yaml` of the package. */
export function defaultRegistryPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.MCP_SERVERS_CONFIG ?? path.resolve(__dirname, '../../config/servers.yaml');
}

/**
 * Loads and validates the server registry, then applies `MCP_<GROUP>_ENDPOINTS` overrides from the
 * environment (comma-separated URLs, priority in list order).
 */
export function loadRegistry(file = defaultRegistryPath(), env: NodeJS.ProcessEnv = process.env): Registry {
  let raw: unknown;
  try {
    raw = parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read server registry ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = registrySchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid server registry ${file}: ${issues}`);
  }
  const registry = parsed.data;
  for (const [group, cfg] of Object.entries(registry.groups)) {
    const key = group.toUpperCase().replace(/-/g, '_');
    const override = env[`MCP_${key}_ENDPOINTS`];
    const port = env[`MCP_${key}_PORT`];
    if (!override && port) {
      // The local stack moved this server (`mcp-orch up` with MCP_<GROUP>_PORT): follow it.
      for (const e of cfg.endpoints) {
        if (e.transport !== 'http') continue;
        const u = new URL(e.url);
        if (u.hostname === '127.0.0.1' || u.hostname === 'localhost') {
          u.port = port;
          e.url = u.toString();
        }
      }
    }
    if (override) {
      cfg.endpoints = override.split(',').map((url, i) => ({ transport: 'http' as const, url: url.trim(), priority: i + 1, headers: {} }));
    }
  }
  return registry;
}

export function groupNames(registry: Registry): string[] {
  return Object.keys(registry.groups);
}
