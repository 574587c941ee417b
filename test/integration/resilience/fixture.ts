import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { registerTool, startMcpHttpServer, ToolError, type RunningServer } from '../../../src/servers/kit';
import type { FaultSettings } from '../../../src/servers/kit/faults';
import { registrySchema, type Registry } from '../../../src/registry/registry';

/** What a controllable test server saw: calls per tool, and slow calls that were aborted. */
export interface ServerLog {
  calls: Record<string, number>;
  aborted: number;
  finished: number;
}

export interface TestServer {
  name: string;
  server: RunningServer;
  log: ServerLog;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * A tiny MCP server on the real kit: `echo` (answers with its own name), `fail` (a tool error),
 * `slow` (waits `ms` unless the call is aborted). Faults and the admin switch come from the kit.
 */
export async function startTestServer(
  name: string,
  opts: { port?: number; faults?: FaultSettings; serviceToken?: string; rateLimitPerMinute?: number } = {},
): Promise<TestServer> {
  const log: ServerLog = { calls: {}, aborted: 0, finished: 0 };
  const count = (tool: string) => (log.calls[tool] = (log.calls[tool] ?? 0) + 1);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'resilience-'));
  const buildServer = () => {
    const server = new McpServer({ name, version: '0.0.0' });
    registerTool(
      server,
      'echo',
      {
        title: 'Echo',
        description: 'Answers with the server name',
        inputSchema: { n: z.number().int().optional().describe('Any number, echoed') },
        outputSchema: { server: z.string().describe('Which server answered'), n: z.number().optional().describe('The number sent') },
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      async ({ n }) => {
        count('echo');
        return { server: name, n };
      },
    );
    registerTool(
      server,
      'fail',
      {
        title: 'Fail',
        description: 'Always a tool error',
        inputSchema: {},
        outputSchema: { ok: z.boolean().describe('Never returned') },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      async () => {
        count('fail');
        throw new ToolError('this tool always fails', 'always');
      },
    );
    registerTool(
      server,
      'slow',
      {
        title: 'Slow',
        description: 'Waits ms milliseconds unless cancelled',
        inputSchema: { ms: z.number().int().min(0).max(60_000).describe('How long to wait') },
        outputSchema: { waitedMs: z.number().describe('Time waited') },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      async ({ ms }, ctx) => {
        count('slow');
        const t0 = Date.now();
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          ctx.signal.addEventListener(
            'abort',
            () => {
              clearTimeout(timer);
              log.aborted++;
              reject(new ToolError('cancelled', 'cancelled'));
            },
            { once: true },
          );
        });
        log.finished++;
        return { waitedMs: Date.now() - t0 };
      },
    );
    return server;
  };
  const server = await startMcpHttpServer({
    name,
    version: '0.0.0',
    config: { host: '127.0.0.1', port: opts.port ?? 0, dataDir, allowedHosts: [], allowedOrigins: [], maxBodyBytes: 1 << 20 },
    buildServer,
    rateLimit: opts.rateLimitPerMinute === undefined ? false : { perMinute: opts.rateLimitPerMinute },
    faults: opts.faults,
    serviceToken: opts.serviceToken,
  });
  return {
    name,
    server,
    log,
    dataDir,
    async close() {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A registry of one group `t` with these endpoints and resilience settings (as servers.yaml would say). */
export function registryFor(endpoints: Array<{ url: string; priority?: number }>, extra: Record<string, unknown> = {}): Registry {
  return registrySchema.parse({
    groups: { t: { endpoints: endpoints.map((e) => ({ transport: 'http', url: e.url, priority: e.priority ?? 1 })), ...extra } },
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
