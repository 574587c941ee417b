import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { hostHeaderValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { BaseServerConfig } from './config';
import { logger } from './log';

/** Outcome of authenticating one HTTP request. */
export type AuthOutcome =
  | { ok: true; info: AuthInfo }
  | { ok: false; status: 401 | 403; error: string; description: string };

/** Checks a request's credentials; the security issue plugs JWT verification in here. */
export type RequestAuthenticator = (req: Request) => Promise<AuthOutcome>;

export interface McpHttpOptions {
  /** Short server name (`data`, `storage`, …), used in logs and health. */
  name: string;
  version: string;
  config: BaseServerConfig;
  /** Builds a fresh MCP server; called per request (stateless Streamable HTTP). */
  buildServer: () => McpServer;
  /** Extra HTTP routes (object API, webhooks, dashboard). Host/Origin checks apply to them too. */
  routes?: (app: express.Express) => void;
  /** Authenticates `/mcp` requests. Absent: no authentication (local experiments only). */
  auth?: RequestAuthenticator;
  /** Extra facts for `/healthz`. */
  health?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
}

export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8001`. */
  url: string;
  /** MCP endpoint, e.g. `http://127.0.0.1:8001/mcp`. */
  mcpUrl: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function jsonRpcError(res: Response, status: number, message: string, headers: Record<string, string> = {}) {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}

/**
 * Starts an MCP server on Streamable HTTP in stateless mode (a server and transport per request, so any
 * replica can answer any call and no session outlives a worker's attempt), with DNS-rebinding
 * protection, an Origin check, a body size limit, `/healthz`, and optional authentication.
 */
export async function startMcpHttpServer(opts: McpHttpOptions): Promise<RunningServer> {
  const log = logger(opts.name);
  const startedAt = Date.now();
  const app = express();
  app.disable('x-powered-by');
  app.use(hostHeaderValidation([...LOOPBACK_NAMES, ...opts.config.allowedHosts]));
  app.use((req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin && !opts.config.allowedOrigins.includes(origin)) {
      jsonRpcError(res, 403, `Forbidden: origin ${origin} is not allowed`);
      return;
    }
    next();
  });

  app.get('/healthz', async (_req, res) => {
    const extra = opts.health ? await opts.health() : {};
    res.json({ status: 'ok', server: opts.name, version: opts.version, uptimeS: (Date.now() - startedAt) / 1000, ...extra });
  });

  opts.routes?.(app);

  const mcpJson = express.json({ limit: opts.config.maxBodyBytes });
  app.post('/mcp', mcpJson, async (req: Request, res: Response) => {
    let authInfo: AuthInfo | undefined;
    if (opts.auth) {
      const outcome = await opts.auth(req);
      if (!outcome.ok) {
        const base = `${req.protocol}://${req.get('host') ?? ''}`;
        jsonRpcError(res, outcome.status, outcome.description, {
          'WWW-Authenticate': `Bearer error="${outcome.error}", error_description="${outcome.description.replace(/"/g, "'")}", resource_metadata="${base}/.well-known/oauth-protected-resource"`,
        });
        return;
      }
      authInfo = outcome.info;
    }
    const server = opts.buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      (req as Request & { auth?: AuthInfo }).auth = authInfo;
      await transport.handleRequest(req as Request & { auth?: AuthInfo }, res, req.body);
    } catch (err) {
      log.error('mcp request failed', { err: String(err) });
      if (!res.headersSent) jsonRpcError(res, 500, 'Internal server error');
    }
  });
  // Stateless mode has no sessions to resume or delete.
  app.get('/mcp', (_req, res) => jsonRpcError(res, 405, 'Method not allowed', { Allow: 'POST' }));
  app.delete('/mcp', (_req, res) => jsonRpcError(res, 405, 'Method not allowed', { Allow: 'POST' }));

  // Body parser errors (too large, bad JSON) become clear HTTP errors rather than stack traces.
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.too.large') return jsonRpcError(res, 413, `Payload too large (limit ${opts.config.maxBodyBytes} bytes)`);
    if (err.type === 'entity.parse.failed') return jsonRpcError(res, 400, 'Parse error: body is not valid JSON');
    log.error('unhandled http error', { err: String(err) });
    if (!res.headersSent) jsonRpcError(res, err.status ?? 500, 'Internal server error');
  });

  const httpServer = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.config.port, opts.config.host, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const hostForUrl = opts.config.host.includes(':') ? `[${opts.config.host}]` : opts.config.host;
  const url = `http://${hostForUrl}:${port}`;
  log.info('listening', { url: `${url}/mcp` });
  return {
    url,
    mcpUrl: `${url}/mcp`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  };
}
