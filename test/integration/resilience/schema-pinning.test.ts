import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { McpClientPool } from '../../../src/mcp/pool';
import { registerTool, startMcpHttpServer, type RunningServer } from '../../../src/servers/kit';
import { registryFor, sleep } from './fixture';

jest.setTimeout(30_000);

describe('tool schema hashes in the pool', () => {
  let server: RunningServer;
  let withUnit = false;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'schema-pin-'));

  beforeAll(async () => {
    // A stateless server whose `measure` tool gains an argument when `withUnit` flips: a redeploy behind the same URL.
    const buildServer = () => {
      const s = new McpServer({ name: 'pins', version: '0.0.0' });
      registerTool(
        s,
        'measure',
        {
          title: 'Measure',
          description: 'Answers ok',
          inputSchema: withUnit ? { unit: z.string().optional().describe('Unit of the answer') } : {},
          outputSchema: { ok: z.boolean().describe('Always true') },
          annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
        },
        async () => ({ ok: true }),
      );
      return s;
    };
    server = await startMcpHttpServer({
      name: 'pins',
      version: '0.0.0',
      config: { host: '127.0.0.1', port: 0, dataDir, allowedHosts: [], allowedOrigins: [], maxBodyBytes: 1 << 20 },
      buildServer,
      rateLimit: false,
    });
  });
  afterAll(async () => server?.close());

  it('when the tool schema changes behind the same URL, then calls report a new hash once the listing expires', async () => {
    const pool = new McpClientPool(registryFor([{ url: server.mcpUrl }]), { schemaHashes: true, catalogTtlMs: 300 });
    try {
      const first = await pool.callTool('t', 'measure', {});
      const again = await pool.callTool('t', 'measure', {});
      expect(first.schemaHash).toMatch(/^[0-9a-f]{64}$/);
      expect(again.schemaHash).toBe(first.schemaHash);
      withUnit = true;
      await sleep(400);
      const changed = await pool.callTool('t', 'measure', {});
      expect(changed.schemaHash).toMatch(/^[0-9a-f]{64}$/);
      expect(changed.schemaHash).not.toBe(first.schemaHash);
    } finally {
      await pool.close();
    }
  });
});
