import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { McpClientPool } from '../../../src/mcp/pool';
import { registryFor } from './fixture';

/** A stateful third-party-style MCP server whose sessions can be forgotten (as after a restart). */
async function startStatefulServer() {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let initializes = 0;
  const app = express();
  app.use(express.json());
  app.post('/mcp', async (req, res) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id !== undefined || !isInitializeRequest(req.body)) {
        res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
        return;
      }
      initializes++;
      const t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => void sessions.set(sid, t) });
      const server = new McpServer({ name: 'stateful', version: '0.0.0' });
      server.registerTool('ping', { inputSchema: { n: z.number() } }, async ({ n }) => ({ content: [{ type: 'text', text: `pong ${n}` }] }));
      await server.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
  });
  app.get('/mcp', (_req, res) => void res.status(405).end());
  app.delete('/mcp', (_req, res) => void res.status(200).end());
  const srv = http.createServer(app);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    forget: () => sessions.clear(),
    initializes: () => initializes,
    close: () => new Promise<void>((r) => {
      srv.closeAllConnections();
      srv.close(() => r());
    }),
  };
}

describe('stale MCP session', () => {
  test('when a stateful server forgets our session (HTTP 404), then the pool re-initializes once and the call succeeds', async () => {
    const s = await startStatefulServer();
    const pool = new McpClientPool(registryFor([{ url: s.url }]));
    try {
      const first = await pool.callTool('t', 'ping', { n: 1 });
      expect(first.result.content).toEqual([{ type: 'text', text: 'pong 1' }]);
      expect(s.initializes()).toBe(1);
      s.forget();
      const second = await pool.callTool('t', 'ping', { n: 2 });
      expect(second.result.content).toEqual([{ type: 'text', text: 'pong 2' }]);
      expect(s.initializes()).toBe(2);
      // A stale session is not a sick server.
      expect(pool.poolStatus().groups[0]!.endpoints[0]!.breaker.state).toBe('closed');
      expect(pool.poolStatus().groups[0]!.endpoints[0]!.transportFailures).toBe(0);
    } finally {
      await pool.close();
      await s.close();
    }
  });
});
