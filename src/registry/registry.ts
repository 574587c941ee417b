import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

/** A duration: a number of seconds, or a string like `30s`, `500ms`, `2m`. Parsed to milliseconds. */
export const durationSchema = z.union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m)$/, 'use e.g. 500ms, 30s or 2m')]).transform((v) => {
  if (typeof v === 'number') return Math.round(v * 1000);
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/.exec(v)!;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
});

/** An environment variable name, as `bearer_token_env` and stdio `env` keys take it. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** `${NAME}` or `${NAME:-default}`; `$${` is a literal `${`. */
const VAR_REF = /\$?\$\{([^}]*)\}/g;

/** Problems with the `${VAR}` references in a string (empty when they are all well formed). */
function varRefProblems(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(VAR_REF)) {
    if (m[0].startsWith('$$')) continue;
    const name = m[1]!.split(':-')[0]!;
    if (!ENV_NAME.test(name)) out.push(`'${m[0]}' is not a variable reference (use \${NAME} or \${NAME:-default})`);
  }
  return out;
}

/** A string that may reference the worker's environment as `${VAR}` / `${VAR:-default}`, resolved when used. */
const templated = z.string().superRefine((v, ctx) => {
  for (const message of varRefProblems(v)) ctx.addIssue({ code: 'custom', message });
});

/**
 * Replaces `${VAR}` and `${VAR:-default}` in `value` from `env`; `$${` stays a literal `${`. Throws,
 * naming `where`, when a variable without a default is unset: a third-party server started with a
 * half-resolved path or key fails in ways far harder to read.
 */
export function expandVars(value: string, env: NodeJS.ProcessEnv, where: string): string {
  return value.replace(VAR_REF, (whole: string, inner: string) => {
    if (whole.startsWith('$$')) return whole.slice(1);
    const i = inner.indexOf(':-');
    const name = i < 0 ? inner : inner.slice(0, i);
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (i >= 0) return inner.slice(i + 2);
    throw new Error(`${where}: environment variable ${name} is not set (referenced as ${whole})`);
  });
}

const priority = z.number().int().min(1).default(1);

/**
 * An MCP server over Streamable HTTP. Our own servers get the stack's JWT (`auth: stack`); a
 * third-party server gets its own credentials (`bearer_token_env`, `headers`) or none (`auth: none`),
 * never ours.
 */
const httpEndpointSchema = z
  .object({
    transport: z.literal('http'),
    url: z.string().url(),
    priority,
    /** Extra request headers; values may reference `${VAR}` (an API key kept out of the file). */
    headers: z.record(z.string(), templated).default({}),
    /** Send `Authorization: Bearer <$NAME>` (read from the worker's environment at each request). */
    bearer_token_env: z.string().regex(ENV_NAME, 'must be an environment variable name').optional(),
    /**
     * `stack`: the stack's own JWT for the group's audience (our servers). `none`: no stack token.
     * Default: `none` when the endpoint brings its own credentials or comes from an extra registry file
     * (where third-party servers go), else `stack`.
     */
    auth: z.enum(['stack', 'none']).optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const ownAuthHeader = Object.keys(e.headers).some((h) => h.toLowerCase() === 'authorization');
    if (e.bearer_token_env && ownAuthHeader) {
      ctx.addIssue({ code: 'custom', path: ['bearer_token_env'], message: 'give either bearer_token_env or an Authorization header, not both' });
    }
    if (e.auth === 'stack' && (e.bearer_token_env || ownAuthHeader)) {
      ctx.addIssue({ code: 'custom', path: ['auth'], message: 'auth: stack sends our own token; an endpoint with its own credentials must not have it' });
    }
  });

/**
 * An MCP server the group's worker runs as a child process and talks to over stdin/stdout. The child
 * gets a minimal environment (PATH, HOME, …) plus `env`: the worker's secrets do not leak into it.
 */
const stdioEndpointSchema = z
  .object({
    transport: z.literal('stdio'),
    /** Executable (found on PATH, or relative to `cwd`). May reference `${VAR}`. */
    command: templated.pipe(z.string().min(1, 'the command to run is empty')),
    args: z.array(templated).default([]),
    /** Environment of the child besides the minimal inherited one; values may reference `${VAR}`. */
    env: z.record(z.string().regex(ENV_NAME, 'must be an environment variable name'), templated).default({}),
    /** Working directory of the child (relative: to the worker's working directory). May reference `${VAR}`. */
    cwd: templated.optional(),
    priority,
    /** Time the child gets to exit after SIGTERM on shutdown before SIGKILL. @default 5s */
    shutdown_grace: durationSchema.optional(),
  })
  .strict();

/** Endpoints name their transport; when they do not, `url` means http and `command` means stdio. */
const endpointSchema = z.preprocess(
  (v) => {
    if (!v || typeof v !== 'object' || Array.isArray(v) || 'transport' in v) return v;
    if ('command' in v) return { ...v, transport: 'stdio' };
    if ('url' in v) return { ...v, transport: 'http' };
    return v;
  },
  z.discriminatedUnion('transport', [httpEndpointSchema, stdioEndpointSchema], {
    error: (issue) =>
      issue.code === 'invalid_union' ? 'an endpoint needs transport: http (with url) or transport: stdio (with command)' : undefined,
  }),
);

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

export type HttpEndpointConfig = Extract<EndpointConfig, { transport: 'http' }>;
export type StdioEndpointConfig = Extract<EndpointConfig, { transport: 'stdio' }>;

/** An extra registry file adds groups only: `defaults:` stay those of the main registry. */
const extraRegistrySchema = z.object({ groups: registrySchema.shape.groups }).strict();

/** Where the registry file is: `MCP_SERVERS_CONFIG`, else `config/servers.yaml` of the package. */
export function defaultRegistryPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.MCP_SERVERS_CONFIG ?? path.resolve(__dirname, '../../config/servers.yaml');
}

/** Extra registry files named by `MCP_REGISTRY_EXTRA` (comma-separated paths). */
export function extraRegistryPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.MCP_REGISTRY_EXTRA ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** `groups.fs.endpoints[0].command` from a zod issue path. */
function issuePath(p: PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return `required (${issue.expected})`;
  if (issue.code === 'invalid_key') return `bad key: ${issue.issues.map((i) => i.message).join('; ')}`;
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  return issue.message;
}

function readRegistryFile<T>(file: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read server registry ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${issuePath(i.path) || '(top level)'}: ${issueMessage(i)}`).join('; ');
    throw new Error(`invalid server registry ${file}: ${issues}`);
  }
  return parsed.data;
}

/**
 * `${MCP_REGISTRY_DIR}` in a stdio endpoint is the directory of the file that declares it, so a
 * registry file can point at a server shipped beside it whatever the worker's working directory.
 */
function bindRegistryDir(cfg: GroupConfig, file: string): void {
  const dir = path.dirname(path.resolve(file));
  const bind = (v: string) => (v.startsWith('${MCP_REGISTRY_DIR}') ? path.normalize(v.replace('${MCP_REGISTRY_DIR}', dir)) : v).replaceAll('${MCP_REGISTRY_DIR}', dir);
  for (const e of cfg.endpoints) {
    if (e.transport !== 'stdio') continue;
    e.command = bind(e.command);
    e.args = e.args.map(bind);
    if (e.cwd !== undefined) e.cwd = bind(e.cwd);
    for (const [k, v] of Object.entries(e.env)) e.env[k] = bind(v);
  }
}

/** Options of {@link loadRegistry}. */
export interface LoadRegistryOptions {
  /** Extra registry files adding groups (third-party servers). @default MCP_REGISTRY_EXTRA */
  extra?: string[];
}

/**
 * Loads and validates the server registry and any extra registry files (`MCP_REGISTRY_EXTRA`, or
 * `opts.extra`), then applies `MCP_<GROUP>_ENDPOINTS` overrides from the environment (comma-separated
 * URLs, priority in list order). An extra file may only add groups; its HTTP endpoints default to
 * `auth: none`, since that is where servers that must not see our tokens are declared.
 */
export function loadRegistry(file = defaultRegistryPath(), env: NodeJS.ProcessEnv = process.env, opts: LoadRegistryOptions = {}): Registry {
  const registry = readRegistryFile(file, registrySchema);
  for (const cfg of Object.values(registry.groups)) bindRegistryDir(cfg, file);
  for (const extraFile of opts.extra ?? extraRegistryPaths(env)) {
    const extra = readRegistryFile(extraFile, extraRegistrySchema);
    for (const [group, cfg] of Object.entries(extra.groups)) {
      if (registry.groups[group]) {
        throw new Error(`invalid server registry ${extraFile}: groups.${group}: group '${group}' is already declared (in ${file} or an earlier extra file); pick another name`);
      }
      bindRegistryDir(cfg, extraFile);
      for (const e of cfg.endpoints) if (e.transport === 'http' && !e.auth && !hasOwnCredentials(e)) e.auth = 'none';
      registry.groups[group] = cfg;
    }
  }
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
      // Replicas of the same server: they keep the credentials the group declares.
      const like = cfg.endpoints.find((e): e is HttpEndpointConfig => e.transport === 'http');
      cfg.endpoints = override.split(',').map((url, i) => ({
        transport: 'http' as const,
        url: url.trim(),
        priority: i + 1,
        headers: { ...like?.headers },
        bearer_token_env: like?.bearer_token_env,
        auth: like?.auth,
      }));
    }
  }
  return registry;
}

function hasOwnCredentials(e: HttpEndpointConfig): boolean {
  return !!e.bearer_token_env || Object.keys(e.headers).some((h) => h.toLowerCase() === 'authorization');
}

/** Whether the stack's own JWT goes to this endpoint: HTTP, and not a server with its own credentials or `auth: none`. */
export function usesStackAuth(e: EndpointConfig): boolean {
  if (e.transport !== 'http') return false;
  return (e.auth ?? (hasOwnCredentials(e) ? 'none' : 'stack')) === 'stack';
}

/** Whether any endpoint of `group` takes the stack's JWT (a worker for it needs client credentials). */
export function groupUsesStackAuth(registry: Registry, group: string): boolean {
  return (registry.groups[group]?.endpoints ?? []).some(usesStackAuth);
}

/** How an endpoint is shown in status and errors: its URL, or `stdio:` and its command line. */
export function endpointLabel(e: EndpointConfig): string {
  return e.transport === 'http' ? e.url : `stdio:${[e.command, ...e.args].join(' ')}`;
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
