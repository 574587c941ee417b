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

/** A duration: a number of seconds, or a string like `30s`, `500ms`, `2m`. Parsed to milliseconds. */
export const durationSchema = z.union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m)$/, 'use e.g. 500ms, 30s or 2m')]).transform((v) => {
  if (typeof v === 'number') return Math.round(v * 1000);
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/.exec(v)!;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
});

/** Circuit breaker settings of a group (snake_case as in the product brief); absent keys take the defaults. */
const breakerSchema = z
  .object({
    failure_threshold: z.number().int().min(1).optional(),
    recovery_timeout: durationSchema.optional(),
    half_open_max_calls: z.number().int().min(1).optional(),
    success_threshold: z.number().int().min(1).optional(),
  })
  .strict();

/** Resilience settings, given under `defaults:` for every group and overridable per group. */
const resilienceSchema = {
  breaker: breakerSchema.optional(),
  /** Period of the background `GET /healthz` of each endpoint. @default 30s */
  health_check_interval: durationSchema.optional(),
  /** Client-side requests/minute per endpoint; overrides what the server advertises. 0: no budget. */
  rate_limit_per_minute: z.number().int().min(0).optional(),
  /** Bounds on the group worker's concurrency, which otherwise follows the server's advertised capacity. */
  concurrency: z.object({ min: z.number().int().min(1).optional(), max: z.number().int().min(1).optional() }).strict().optional(),
};

const groupSchema = z.object({
  description: z.string().optional(),
  endpoints: z.array(endpointSchema).min(1, 'a group needs at least one endpoint'),
  ...resilienceSchema,
});

export const registrySchema = z.object({
  defaults: z.object(resilienceSchema).strict().optional(),
  groups: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), groupSchema),
});

export type EndpointConfig = z.infer<typeof endpointSchema>;
export type GroupConfig = z.infer<typeof groupSchema>;
export type BreakerConfig = z.infer<typeof breakerSchema>;
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

/** A group's resilience settings: the group's own keys over `defaults:`. */
export function resilienceOf(registry: Registry, group: string): Pick<GroupConfig, 'breaker' | 'health_check_interval' | 'rate_limit_per_minute' | 'concurrency'> {
  const d = registry.defaults ?? {};
  const g = registry.groups[group];
  return {
    breaker: { ...d.breaker, ...g?.breaker },
    health_check_interval: g?.health_check_interval ?? d.health_check_interval,
    rate_limit_per_minute: g?.rate_limit_per_minute ?? d.rate_limit_per_minute,
    concurrency: { ...d.concurrency, ...g?.concurrency },
  };
}
