import fs from 'node:fs';
import path from 'node:path';
import { discover, type Discovery } from '../mcp/discovery';
import { validateToolArgs } from '../mcp/args-validator';
import { McpClientPool, type McpClientPoolOptions } from '../mcp/pool';
import { groupNames, loadRegistry, type Registry } from '../registry/registry';
import { tokenSourceFromEnv } from '../servers/kit/client-auth';
import { planPipeline, type Plan } from '../shared/plan';
import { parsePipelineSpec } from '../shared/spec-parse';

export interface LoadedPlan {
  plan: Plan;
  registry: Registry;
  discovery?: Discovery;
  /** Groups whose tools could not be checked (server unreachable). */
  unchecked: string[];
  planningMs: number;
}

/** `k=v` pairs from `--input` into an object (values stay strings; the planner coerces by declared type). */
export function parseInputs(pairs: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new Error(`--input expects key=value, got '${pair}'`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

/**
 * Pool options for discovery from the CLI: read-only tokens of the `orchestrator` client (every
 * audience, `<server>:read` scopes), enough for `tools/list` and `server_info`; none with `MCP_AUTH=off`.
 */
export function discoveryPoolOptions(env: NodeJS.ProcessEnv = process.env): McpClientPoolOptions {
  const tokens = tokenSourceFromEnv('orchestrator', env);
  if (!tokens) return { clientName: 'mcp-orch-cli' };
  let warned = false;
  return {
    clientName: 'mcp-orch-cli',
    // Without a token discovery still reaches servers running with MCP_AUTH=off; the others answer 401,
    // and the warning says why. Security is the servers' to enforce, not the CLI's.
    tokenFor: async (g: string) => {
      try {
        return await tokens.tokenFor(g);
      } catch (err) {
        if (!warned) process.stderr.write(`warning: no access token for discovery (${err instanceof Error ? err.message : String(err)}); calling servers without one\n`);
        warned = true;
        return undefined;
      }
    },
    onUnauthorized: (g: string) => tokens.invalidate(g),
  };
}

/** A spec planned from text, with what discovery could and could not check. */
export interface PlannedFromText {
  plan: Plan;
  /** Groups whose tools could not be checked (server unreachable, or discovery off). */
  unchecked: string[];
  /** Time of parse + plan + validation, ms (discovery excluded). */
  planningMs: number;
}

/**
 * Parses, validates and plans a YAML spec held in memory: `parsePipelineSpec`, then `planPipeline`
 * against the registry's groups and, when given, the discovered tool catalog with `validateToolArgs`.
 * The CLI and the workflow server both plan through here, so they accept and refuse the same specs.
 * Throws `PipelineError` (every problem with its line) on a bad spec.
 */
export function planFromText(
  text: string,
  opts: { source: string; registry: Registry; discovery?: Discovery; input?: Record<string, unknown> },
): PlannedFromText {
  const started = performance.now();
  const spec = parsePipelineSpec(text, opts.source);
  // Wait steps call no server.
  const usedGroups = new Set(Object.values(spec.steps).flatMap((s) => (s.server ? [s.server, s.compensate?.server ?? s.server] : [])));
  const { discovery, registry } = opts;
  const unchecked = discovery ? [...usedGroups].filter((g) => registry.groups[g] && !discovery.catalog[g]) : [...usedGroups];
  const plan = planPipeline(spec, {
    input: opts.input,
    servers: groupNames(registry),
    catalog: discovery?.catalog,
    validateArgs: validateToolArgs,
    source: opts.source,
  });
  return { plan, unchecked, planningMs: performance.now() - started };
}

/** Discovers every group of the registry with a short-lived pool (the CLI and the workflow server). */
export async function discoverCatalog(registry: Registry, poolOptions: McpClientPoolOptions, timeoutMs: number): Promise<Discovery> {
  const pool = new McpClientPool(registry, poolOptions);
  try {
    return await discover(registry, pool, { timeoutMs });
  } finally {
    await pool.close();
  }
}

/**
 * Reads, validates and plans a spec file. With `discoverTools`, every step's tool and literal
 * arguments are checked against the live servers' catalogs before anything starts.
 */
export async function loadPlan(file: string, opts: { input?: Record<string, string>; discoverTools?: boolean } = {}): Promise<LoadedPlan> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`cannot read pipeline spec ${file}: no such file`);
  }
  const source = path.relative(process.cwd(), file) || file;
  const registry = loadRegistry();
  const discovery = opts.discoverTools !== false ? await discoverCatalog(registry, discoveryPoolOptions(), 3000) : undefined;
  const { plan, unchecked, planningMs } = planFromText(text, { source, registry, discovery, input: opts.input });
  return { plan, registry, discovery, unchecked, planningMs };
}
