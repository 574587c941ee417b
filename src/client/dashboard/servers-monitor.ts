import { discover, type ServerDiscovery } from '../../mcp/discovery';
import { McpClientPool, type McpClientPoolOptions } from '../../mcp/pool';
import type { Registry } from '../../registry/registry';

/** One server at one discovery round, as the servers view shows it. */
export interface ServerSample {
  at: number;
  healthy: boolean;
  healthMs?: number;
  listToolsMs?: number;
}

export interface ServerState {
  group: string;
  endpoint?: string;
  healthy: boolean;
  healthMs?: number;
  listToolsMs?: number;
  tools: string[];
  error?: string;
  /** Numbers the server itself reported under `server_info.measured` (load, disk, rows…), capped. */
  measured: Record<string, number | string | boolean>;
  limits: Record<string, number | string | boolean>;
  /** Oldest first, at most `historySize` samples. */
  history: ServerSample[];
}

function flatFacts(obj: unknown, max = 12): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  const walk = (v: unknown, prefix: string) => {
    if (Object.keys(out).length >= max) return;
    if (typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && v.length <= 60)) out[prefix] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, prefix ? `${prefix}.${k}` : k);
  };
  walk(obj, '');
  return out;
}

/**
 * Discovers every server of the registry on an interval and keeps a short history per server. The
 * first round starts at once; rounds never overlap (a slow round delays the next).
 */
export class ServersMonitor {
  private readonly pool: McpClientPool;
  private readonly states = new Map<string, ServerState>();
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private stopped = false;
  lastAt?: string;

  constructor(
    private readonly registry: Registry,
    poolOptions: McpClientPoolOptions,
    private readonly opts: { intervalMs?: number; historySize?: number; timeoutMs?: number } = {},
  ) {
    this.pool = new McpClientPool(registry, poolOptions);
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.round = this.refresh().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 10_000);
      });
    };
    tick();
  }

  /** One discovery round now. */
  async refresh(): Promise<void> {
    let servers: ServerDiscovery[];
    try {
      servers = (await discover(this.registry, this.pool, { timeoutMs: this.opts.timeoutMs ?? 3000 })).servers;
    } catch (err) {
      servers = Object.keys(this.registry.groups).map((group) => ({ group, healthy: false, tools: [], error: err instanceof Error ? err.message : String(err) }));
    }
    const at = Date.now();
    this.lastAt = new Date(at).toISOString();
    for (const s of servers) {
      const prev = this.states.get(s.group);
      const history = [...(prev?.history ?? []), { at, healthy: s.healthy, healthMs: s.healthMs, listToolsMs: s.listToolsMs }].slice(-(this.opts.historySize ?? 90));
      this.states.set(s.group, {
        group: s.group,
        endpoint: s.endpoint,
        healthy: s.healthy,
        healthMs: s.healthMs,
        listToolsMs: s.listToolsMs,
        tools: s.tools.map((t) => t.name).slice(0, 100),
        error: s.error,
        measured: flatFacts(s.info?.measured),
        limits: flatFacts(s.info?.limits),
        history,
      });
    }
  }

  /** Waits for the first round (tests, and the first page load). */
  async ready(): Promise<void> {
    await this.round;
  }

  snapshot(): { at?: string; servers: ServerState[] } {
    return { at: this.lastAt, servers: [...this.states.values()] };
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.round?.catch(() => undefined);
    await this.pool.close();
  }
}
