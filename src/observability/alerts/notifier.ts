import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Calls tools of the notification server; `isError` results are thrown as errors. */
export interface Notifier {
  call<T = Record<string, unknown>>(tool: string, args: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

export interface McpNotifierOptions {
  /** The notification server's MCP endpoint, e.g. `http://127.0.0.1:8006/mcp`. */
  mcpUrl: string;
  /** Bearer for audience `mcp:notification` (a kit `McpTokenSource`); absent: no token (auth off). */
  tokens?: { tokenFor(group: string): Promise<string | undefined>; invalidate(group: string): void };
  /** Per-call timeout. @default 10000 */
  timeoutMs?: number;
}

/**
 * A real MCP client of the notification server, connected on first use and reconnected after a
 * transport failure (the server may restart between ticks). A 401 (token expired, keys rotated)
 * refreshes the token and resends once: the server answers 401 before any tool runs.
 */
export function mcpNotifier(opts: McpNotifierOptions): Notifier {
  let client: Promise<Client> | undefined;
  const authFetch: typeof fetch = async (url, init) => {
    const send = async () => {
      const headers = new Headers(init?.headers);
      const token = await opts.tokens?.tokenFor('notification');
      if (token) headers.set('authorization', `Bearer ${token}`);
      return fetch(url, { ...init, headers });
    };
    const res = await send();
    if (res.status !== 401 || !opts.tokens) return res;
    await res.body?.cancel();
    opts.tokens.invalidate('notification');
    return send();
  };
  const connect = (): Promise<Client> => {
    client ??= (async () => {
      const c = new Client({ name: 'mcp-orchestrator/alerts', version: '0.1.0' });
      await c.connect(new StreamableHTTPClientTransport(new URL(opts.mcpUrl), { fetch: authFetch }));
      return c;
    })().catch((err: unknown) => {
      client = undefined;
      throw err;
    });
    return client;
  };
  return {
    async call<T>(tool: string, args: Record<string, unknown>): Promise<T> {
      const c = await connect();
      let result: CallToolResult;
      try {
        result = (await c.callTool({ name: tool, arguments: args }, undefined, { timeout: opts.timeoutMs ?? 10_000 })) as CallToolResult;
      } catch (err) {
        // A broken connection gets a fresh client next time; the error goes to the caller.
        const dead = client;
        client = undefined;
        void dead?.then((x) => x.close()).catch(() => undefined);
        throw err;
      }
      if (result.isError) {
        const text = result.content.map((x) => (x.type === 'text' ? x.text : '')).join(' ');
        throw new Error(`notification ${tool} failed: ${text}`);
      }
      return result.structuredContent as T;
    },
    async close() {
      const c = client;
      client = undefined;
      await c?.then((x) => x.close()).catch(() => undefined);
    },
  };
}
