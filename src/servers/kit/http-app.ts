import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { hostHeaderValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { resolveServerAuth, serveProtectedResourceMetadata, type McpAuthOption } from './auth';
import type { BaseServerConfig } from './config';
import { logger } from './log';
import { FaultInjector, faultsFromEnv, serveFaultAdmin, type FaultSettings } from './faults';
import { ClientRateLimiter, DEFAULT_CLIENT_RATE_PER_MINUTE, type ClientRateLimitOptions } from './rate-limit';
import { toolRequestScope } from './tool';
import { answerScrape, observeToolCalls, ServerMetrics } from '../../observability/metrics/server-metrics';

/** Outcome of authenticating one HTTP request. */
export type AuthOutcome =
  | { ok: true; info: AuthInfo }
  | { ok: false; status: 401 | 403; error: string; description: string };

/**
 * Checks a request's credentials (see `jwtAuthenticator` in auth.ts). `issuer`/`audience`, when set,
 * feed the protected-resource metadata the kit serves.
 */
export type RequestAuthenticator = ((req: Request) => Promise<AuthOutcome>) & { issuer?: string; audience?: string };

export interface McpHttpOptions {
  /** Short server name (`data`, `storage`, …), used in logs and health. */
  name: string;
  version: string;
  config: BaseServerConfig;
  /** Builds a fresh MCP server; called per request (stateless Streamable HTTP). */
  buildServer: () => McpServer;
  /** Extra HTTP routes (object API, webhooks, dashboard). Host/Origin checks apply to them too. */
  routes?: (app: express.Express) => void;
  /**
   * Authenticates `/mcp` requests: an authenticator, or settings (`{ mode: 'jwt', issuer, jwksUrl }` →
   * JWTs for audience `mcp:<name>` with per-tool read/write scopes; `{ mode: 'off' }`). Absent or `off`:
   * no authentication (local experiments only). With an authenticator that names its issuer, the kit
   * serves `/.well-known/oauth-protected-resource` (unless `routes` already does).
   */
  auth?: McpAuthOption;
  /**
   * Per-client token bucket on `/mcp` (429 + `Retry-After` when empty). `false` disables it.
   * @default { perMinute: config.clientRateLimitPerMinute ?? 1200 }
   */
  rateLimit?: ClientRateLimitOptions | false;
  /** Extra facts for `/healthz`. */
  health?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /**
   * Fault injection on `tools/call` (tests, demos): initial settings, or `false` to disable the switch.
   * @default settings from env `MCP_FAULTS` (JSON), none when unset
   */
  faults?: FaultSettings | false;
  /**
   * Bearer for `GET/POST /admin/faults`; without one those routes answer 404.
   * @default env `MCP_SERVICE_TOKEN`
   */
  serviceToken?: string;
  /**
   * Prometheus metrics on `GET /metrics` (tool latency, errors, in-flight, HTTP statuses, rate-limit
   * rejections, process resources). Readable without a token from loopback, else with the service
   * token as a bearer. `false` removes the route and the instrumentation.
   * @default true unless env `MCP_METRICS=off`
   */
  metrics?: boolean;
}

export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8001`. */
  url: string;
  /** MCP endpoint, e.g. `http://127.0.0.1:8001/mcp`. */
  mcpUrl: string;
  port: number;
  /** The authenticator in force on `/mcp` (undefined: none). */
  auth?: RequestAuthenticator;
  /** The per-client limit in force on `/mcp` (requests/minute; 0: none). */
  clientRateLimitPerMinute: number;
  /** The fault switch (settings and counters); undefined when disabled with `faults: false`. */
  faults?: FaultInjector;
  /** The server's metrics (undefined when disabled with `metrics: false`). */
  metrics?: ServerMetrics;
  close(): Promise<void>;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

function jsonRpcError(res: Response, status: number, message: string, headers: Record<string, string> = {}) {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}

/**
 * Removes the Authorization header from both views of the request: the transport rebuilds a web
 * Request from `rawHeaders`, and tools see its headers in `requestInfo`.
 */
function dropAuthorization(req: Request): void {
  delete req.headers.authorization;
  const raw = req.rawHeaders;
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'authorization') kept.push(raw[i]!, raw[i + 1]!);
  }
  raw.splice(0, raw.length, ...kept);
}

/**
 * Starts an MCP server on Streamable HTTP in stateless mode (a server and transport per request, so any
 * replica can answer any call and no session outlives a worker's attempt), with DNS-rebinding
 * protection, an Origin check, a body size limit, `/healthz`, and optional authentication.
 */
export async function startMcpHttpServer(opts: McpHttpOptions): Promise<RunningServer> {
  const log = logger(opts.name);
  const startedAt = Date.now();
  const auth = await resolveServerAuth(opts.name, opts.auth, opts.buildServer);
  const limiter =
    opts.rateLimit === false
      ? undefined
      : new ClientRateLimiter(
          opts.rateLimit ?? { perMinute: opts.config.clientRateLimitPerMinute ?? DEFAULT_CLIENT_RATE_PER_MINUTE },
        );
  const faults = opts.faults === false ? undefined : new FaultInjector(opts.faults ?? faultsFromEnv());
  if (faults?.settings) log.warn('fault injection is ON', { ...faults.settings });
  const authMode = auth ? (auth.issuer ? 'jwt' : 'custom') : 'off';
  if (!auth) log.warn('MCP endpoint is NOT authenticated (auth off): local experiments only');
  const serviceToken = opts.serviceToken ?? (process.env.MCP_SERVICE_TOKEN || undefined);
  const metrics =
    opts.metrics === false || (opts.metrics === undefined && process.env.MCP_METRICS === 'off')
      ? undefined
      : new ServerMetrics({ server: opts.name, version: opts.version, dataDir: opts.config.dataDir });
  const app = express();
  app.disable('x-powered-by');
  if (metrics) {
    // First, so refusals by the Host/Origin checks are counted too. The route pattern (not the URL)
    // keeps the label set bounded.
    app.use((req: Request, res: Response, next: NextFunction) => {
      res.on('finish', () => {
        const route = (req.route as { path?: unknown } | undefined)?.path;
        metrics.countHttp(route === undefined ? 'unmatched' : String(route), req.method, res.statusCode);
      });
      next();
    });
  }
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
    res.json({
      status: 'ok',
      server: opts.name,
      version: opts.version,
      uptimeS: (Date.now() - startedAt) / 1000,
      auth: authMode,
      clientRateLimitPerMinute: limiter?.perMinute ?? 0,
      ...extra,
    });
  });

  if (metrics) app.get('/metrics', (req, res) => answerScrape(req, res, metrics, serviceToken));

  opts.routes?.(app);
  // After `routes`, so a server that serves its own metadata (the security server) keeps it.
  if (auth?.issuer) {
    serveProtectedResourceMetadata(app, {
      resource: auth.audience ?? `mcp:${opts.name}`,
      authorizationServers: [auth.issuer],
      resourceName: `${opts.name} MCP server`,
    });
  }

  const mcpJson = express.json({ limit: opts.config.maxBodyBytes });
  if (faults) serveFaultAdmin(app, faults, serviceToken, express.json({ limit: 64 * 1024 }));
  app.post('/mcp', mcpJson, async (req: Request, res: Response) => {
    const endRequest = metrics?.startRequest();
    if (endRequest) res.on('close', endRequest);
    let authInfo: AuthInfo | undefined;
    const outcome = auth ? await auth(req) : undefined;
    if (limiter?.enabled) {
      const client = outcome?.ok ? `client:${outcome.info.clientId}` : `addr:${req.socket.remoteAddress ?? 'unknown'}`;
      const r = limiter.take(client);
      res.setHeader('RateLimit-Limit', String(r.limit));
      res.setHeader('RateLimit-Remaining', String(r.remaining));
      if (!r.allowed) {
        metrics?.countRateLimited();
        const retryAfter = Math.max(1, Math.ceil(r.retryAfterS));
        jsonRpcError(res, 429, `Too many requests: limit ${r.limit}/min per client; retry after ${retryAfter} s`, {
          'Retry-After': String(retryAfter),
        });
        return;
      }
    }
    if (outcome && !outcome.ok) {
      const base = `${req.protocol}://${req.get('host') ?? ''}`;
      jsonRpcError(res, outcome.status, outcome.description, {
        'WWW-Authenticate': `Bearer error="${outcome.error}", error_description="${outcome.description.replace(/"/g, "'")}", resource_metadata="${base}/.well-known/oauth-protected-resource"`,
      });
      return;
    }
    if (outcome?.ok) {
      // The inbound token stops here: tools see the client and scopes, never the token or the header,
      // so none of them can pass it on to another API.
      authInfo = { ...outcome.info, token: '' };
    }
    dropAuthorization(req);
    if (faults && !(await faults.intercept(req, res))) return;
    const server = opts.buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    const endToolCalls = metrics ? observeToolCalls(metrics, req.body, transport) : undefined;
    // The client closing the request (a cancelled call, a dead worker) aborts the tools it started: a
    // stateless server never sees a `notifications/cancelled`, which arrives on another request.
    const aborter = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborter.abort(new Error('the client closed the request before the tool finished'));
      endToolCalls?.();
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      (req as Request & { auth?: AuthInfo }).auth = authInfo;
      await toolRequestScope.run({ signal: aborter.signal }, () =>
        transport.handleRequest(req as Request & { auth?: AuthInfo }, res, req.body),
      );
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
    auth,
    clientRateLimitPerMinute: limiter?.perMinute ?? 0,
    faults,
    metrics,
    close: () =>
      new Promise<void>((resolve) => {
        faults?.close();
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  };
}
