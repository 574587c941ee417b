import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { MCP_SERVER_OPTIONS, registerTool, startMcpHttpServer } from '../src/servers/kit';
import type { FaultSettings } from '../src/servers/kit/faults';

/**
 * A measuring instrument, not a product server: one tool that takes exactly the time asked for, so the
 * orchestrator's own overhead can be separated from tool time (PERFORMANCE.md "0 ms, 100 ms, 1 s tools").
 */
export async function startBenchServer(faults?: FaultSettings) {
  const build = () => {
    const server = new McpServer({ name: 'bench', version: '0.0.0' }, MCP_SERVER_OPTIONS);
    registerTool(
      server,
      'work',
      {
        title: 'Take a given time',
        description: 'Returns after `ms` milliseconds (0 = at once).',
        inputSchema: { ms: z.number().int().min(0).max(60_000).describe('How long the call takes') },
        outputSchema: { ms: z.number().describe('Time asked for') },
        annotations: { readOnlyHint: true },
      },
      async ({ ms }) => {
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
        return { ms };
      },
    );
    return server;
  };
  return startMcpHttpServer({
    name: 'bench',
    version: '0.0.0',
    config: { host: '127.0.0.1', port: 0, dataDir: '/tmp', allowedHosts: [], allowedOrigins: [], maxBodyBytes: 1 << 20 },
    buildServer: build,
    // The instrument must not throttle what it measures.
    rateLimit: false,
    faults: faults ?? false,
  });
}
