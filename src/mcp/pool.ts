import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { EndpointConfig, Registry } from '../registry/registry';
import { ErrorType } from '../shared/errors';
import { classifyTransportError, McpCallError } from './call-error';

/** Options of {@link McpClientPool}. */
export interface McpClientPoolOptions {
  /** Name this client gives in `initialize`. @default 'mcp-orchestrator' */
  clientName?: string;
  /** Bearer token for a group's servers (obtained by the worker, never taken from workflow history). */
  tokenFor?: (group: string) => Promise<string | undefined>;
  /**
   * Called when a group's server answers 401 (token expired or signing key rotated): drop the cached
   * token so the next `tokenFor` fetches a fresh one. The pool then retries the request once.
   */
  onUnauthorized?: (group: string) => void;
  /** Timeout of one tool call without progress. @default 60000 */
  requestTimeoutMs?: number;
}

export interface CallOptions {
  /** Sent as the request's `_meta` (idempotency key, trace context). */
  meta?: Record<string, unknown>;
  signal?: AbortSignal;
  /** Timeout between progress notifications. */
  timeoutMs?: number;
  /** Bound on the whole call, even while progress keeps arriving. */
  maxTotalTimeoutMs?: number;
  onProgress?: (p: { progress: number; total?: number; message?: string }) => void;
}

export interface CallResult {
  result: CallToolResult;
  endpoint: string;
  callMs: number;
}

interface Conn {
  endpoint: Extract<EndpointConfig, { transport: 'http' }>;
  client?: Promise<Client>;
}

/**
 * MCP clients of a worker, one per endpoint, reused across calls (the servers are stateless, so one
 * connection serves concurrent calls). Picks endpoints by priority and fails over to the next one on
 * transport faults; MCP tool errors are not failed over (another replica would say the same).
 */
export class McpClientPool {
  private readonly conns = new Map<string, Conn[]>();
  private readonly rr = new Map<string, number>();

  constructor(
    private readonly registry: Registry,
    private readonly opts: McpClientPoolOptions = {},
  ) {
    for (const [group, cfg] of Object.entries(registry.groups)) {
      this.conns.set(
        group,
        cfg.endpoints
          .filter((e): e is Conn['endpoint'] => e.transport === 'http')
          .sort((a, b) => a.priority - b.priority)
          .map((endpoint) => ({ endpoint })),
      );
    }
  }

  groups(): string[] {
    return [...this.conns.keys()];
  }

  private connect(group: string, conn: Conn): Promise<Client> {
    conn.client ??= (async () => {
      const client = new Client({ name: this.opts.clientName ?? 'mcp-orchestrator', version: '0.1.0' });
      const transport = new StreamableHTTPClientTransport(new URL(conn.endpoint.url), {
        fetch: async (url, init) => {
          const headers = new Headers(init?.headers);
          for (const [k, v] of Object.entries(conn.endpoint.headers)) headers.set(k, v);
          // An endpoint configured with its own credentials (a third-party server) keeps them.
          if (!headers.has('authorization')) {
            const token = await this.opts.tokenFor?.(group);
            if (token) headers.set('authorization', `Bearer ${token}`);
          }
          return fetch(url, { ...init, headers });
        },
      });
      await client.connect(transport);
      return client;
    })().catch((err: unknown) => {
      conn.client = undefined;
      throw err;
    });
    return conn.client;
  }

  /** True (once per call) when `err` is a 401 worth a token refresh and a second try. */
  private refreshOn401(group: string, err: McpCallError, alreadyRefreshed: boolean): boolean {
    if (alreadyRefreshed || !this.opts.onUnauthorized || err.details.status !== 401) return false;
    this.opts.onUnauthorized(group);
    return true;
  }

  private drop(conn: Conn): void {
    const c = conn.client;
    conn.client = undefined;
    void c?.then((client) => client.close()).catch(() => undefined);
  }

  /** Endpoints in the order to try: best priority first, round robin among equals. */
  private candidates(group: string): Conn[] {
    const conns = this.conns.get(group);
    if (!conns || conns.length === 0) {
      throw new McpCallError(ErrorType.InvalidPipeline, `no MCP server group '${group}' in the registry (known: ${this.groups().join(', ')})`, false);
    }
    const out: Conn[] = [];
    const priorities = [...new Set(conns.map((c) => c.endpoint.priority))].sort((a, b) => a - b);
    for (const p of priorities) {
      const tier = conns.filter((c) => c.endpoint.priority === p);
      const key = `${group}:${p}`;
      const start = (this.rr.get(key) ?? 0) % tier.length;
      this.rr.set(key, start + 1);
      out.push(...tier.slice(start), ...tier.slice(0, start));
    }
    return out;
  }

  /**
   * Calls a tool on the group's best available endpoint. Throws {@link McpCallError}; a result with
   * `isError` is returned, not thrown (the caller decides what it means).
   */
  async callTool(group: string, name: string, args: Record<string, unknown>, opts: CallOptions = {}): Promise<CallResult> {
    let last: McpCallError | undefined;
    let refreshed = false;
    const conns = this.candidates(group);
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[i]!;
      const started = performance.now();
      try {
        const client = await this.connect(group, conn);
        const result = (await client.callTool({ name, arguments: args, _meta: opts.meta }, undefined, {
          signal: opts.signal,
          timeout: opts.timeoutMs ?? this.opts.requestTimeoutMs ?? 60_000,
          resetTimeoutOnProgress: true,
          maxTotalTimeout: opts.maxTotalTimeoutMs,
          onprogress: opts.onProgress,
        })) as CallToolResult;
        return { result, endpoint: conn.endpoint.url, callMs: performance.now() - started };
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        last = classifyTransportError(err, conn.endpoint.url);
        if (this.refreshOn401(group, last, refreshed)) {
          // A 401 is answered before the tool runs, so trying again cannot repeat a side effect.
          refreshed = true;
          i--;
          continue;
        }
        if (!last.retryable) throw last;
        // The connection may be broken (server restarted): start afresh next time.
        this.drop(conn);
      }
    }
    throw last ?? new McpCallError(ErrorType.ServerUnavailable, `no endpoint of '${group}' answered`, true);
  }

  /** Lists a group's tools from its first answering endpoint. */
  async listTools(group: string): Promise<{ tools: Tool[]; endpoint: string; ms: number }> {
    let last: unknown;
    let refreshed = false;
    const conns = this.candidates(group);
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[i]!;
      const started = performance.now();
      try {
        const client = await this.connect(group, conn);
        const tools: Tool[] = [];
        let cursor: string | undefined;
        do {
          const page = await client.listTools(cursor ? { cursor } : undefined);
          tools.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor);
        return { tools, endpoint: conn.endpoint.url, ms: performance.now() - started };
      } catch (err) {
        last = err;
        if (this.refreshOn401(group, classifyTransportError(err, conn.endpoint.url), refreshed)) {
          refreshed = true;
          i--;
          continue;
        }
        this.drop(conn);
      }
    }
    throw classifyTransportError(last, group);
  }

  async close(): Promise<void> {
    for (const conns of this.conns.values()) for (const c of conns) this.drop(c);
  }
}
