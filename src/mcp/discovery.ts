import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { usesStackAuth, type Registry } from '../registry/registry';
import type { ToolCatalog } from '../shared/plan';
import type { McpClientPool } from './pool';
import { toolSchemaHash } from './schema-hash';

/** What discovery learned about one server group. Every figure is measured or the server's own answer. */
export interface ServerDiscovery {
  group: string;
  endpoint?: string;
  healthy: boolean;
  /** Round trip of `/healthz`, ms. */
  healthMs?: number;
  /** Time to list the tools over MCP (warm connection after the first), ms. */
  listToolsMs?: number;
  /** Each tool with its {@link toolSchemaHash}, the hash a worker reports with each call of it. */
  tools: Array<Pick<Tool, 'name' | 'title' | 'description' | 'inputSchema' | 'outputSchema' | 'annotations'> & { schemaHash: string }>;
  /** The server's own `server_info` answer, when it has that tool. */
  info?: Record<string, unknown>;
  error?: string;
}

export interface Discovery {
  at: string;
  servers: ServerDiscovery[];
  catalog: ToolCatalog;
  totalTools: number;
}

function healthUrl(mcpUrl: string): string {
  const u = new URL(mcpUrl);
  u.pathname = u.pathname.replace(/\/mcp\/?$/, '') + '/healthz';
  return u.toString();
}

/** Connects to every group of the registry in parallel: health, tools, and `server_info`. */
export async function discover(registry: Registry, pool: McpClientPool, opts: { timeoutMs?: number } = {}): Promise<Discovery> {
  const servers = await Promise.all(
    Object.entries(registry.groups).map(async ([group, cfg]): Promise<ServerDiscovery> => {
      const first = cfg.endpoints[0];
      const endpoint = first?.transport === 'http' ? first.url : undefined;
      const out: ServerDiscovery = { group, endpoint, healthy: false, tools: [] };
      try {
        // Only our servers have /healthz; for a third-party or stdio server listing its tools is the check.
        if (endpoint && first && usesStackAuth(first)) {
          const t0 = performance.now();
          const res = await fetch(healthUrl(endpoint), { signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) });
          out.healthMs = performance.now() - t0;
          if (!res.ok) throw new Error(`/healthz answered HTTP ${res.status}`);
        }
        const listed = await pool.listTools(group);
        out.listToolsMs = listed.ms;
        out.endpoint = listed.endpoint;
        out.tools = listed.tools.map(({ name, title, description, inputSchema, outputSchema, annotations }) => ({
          name,
          title,
          description,
          inputSchema,
          outputSchema,
          annotations,
          schemaHash: toolSchemaHash({ inputSchema, outputSchema }),
        }));
        if (out.tools.some((t) => t.name === 'server_info')) {
          const { result } = await pool.callTool(group, 'server_info', {}, { timeoutMs: opts.timeoutMs ?? 10_000 });
          if (!result.isError) out.info = result.structuredContent as Record<string, unknown>;
        }
        out.healthy = true;
      } catch (err) {
        out.error = err instanceof Error ? err.message : String(err);
      }
      return out;
    }),
  );
  const catalog: ToolCatalog = {};
  for (const s of servers) {
    if (s.healthy) catalog[s.group] = { tools: Object.fromEntries(s.tools.map((t) => [t.name, { inputSchema: t.inputSchema, schemaHash: t.schemaHash }])) };
  }
  return { at: new Date().toISOString(), servers, catalog, totalTools: servers.reduce((a, s) => a + s.tools.length, 0) };
}
