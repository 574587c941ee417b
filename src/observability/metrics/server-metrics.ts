import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from './process-metrics';

/** Seconds; tool calls range from a millisecond lookup to minutes of training. */
export const TOOL_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** How a tool call ended, as seen by the server. */
export type ToolOutcome = 'ok' | 'tool_error' | 'protocol_error' | 'aborted';

/** JSON-RPC error codes the SDK answers with, by name (anything else: `rpc_<code>`). */
const RPC_CODES: Record<number, string> = {
  [-32700]: 'parse_error',
  [-32600]: 'invalid_request',
  [-32601]: 'method_not_found',
  [-32602]: 'invalid_params',
  [-32603]: 'internal_error',
  [-32001]: 'request_timeout',
  [-32000]: 'connection_closed',
};

export interface ServerMetricsOptions {
  /** Short server name (`data`, `storage`, …): the `server` label of every series. */
  server: string;
  version: string;
  /** Data folder whose filesystem's free space is reported (resource exhaustion). */
  dataDir?: string;
}

/**
 * Prometheus metrics of one MCP server, in a registry of its own (several servers may share a process
 * in tests): tool latency by outcome, tool errors by code, in-flight `/mcp` requests, HTTP requests by
 * status, rate-limit rejections, process resources, and `mcp_server_info`.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly server: string;
  private readonly toolDuration: Histogram<'server' | 'tool' | 'outcome'>;
  private readonly toolErrors: Counter<'server' | 'tool' | 'code'>;
  private readonly inFlight: Gauge<'server'>;
  private readonly httpRequests: Counter<'server' | 'route' | 'method' | 'status'>;
  private readonly rateLimited: Counter<'server'>;

  constructor(opts: ServerMetricsOptions) {
    this.server = opts.server;
    const registers = [this.registry];
    new Gauge({
      name: 'mcp_server_info',
      help: 'Always 1; labels name the server and its version.',
      labelNames: ['server', 'version'],
      registers,
    }).set({ server: opts.server, version: opts.version }, 1);
    this.toolDuration = new Histogram({
      name: 'mcp_server_tool_duration_seconds',
      help: 'Time from a tools/call request arriving to its answer being sent, by tool and outcome.',
      labelNames: ['server', 'tool', 'outcome'],
      buckets: TOOL_DURATION_BUCKETS,
      registers,
    });
    this.toolErrors = new Counter({
      name: 'mcp_server_tool_errors_total',
      help: 'Tool calls that failed, by code (ToolError code, internal_error, or the JSON-RPC error name).',
      labelNames: ['server', 'tool', 'code'],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'mcp_server_in_flight_requests',
      help: 'POST /mcp requests being handled now.',
      labelNames: ['server'],
      registers,
    });
    this.inFlight.set({ server: opts.server }, 0);
    this.httpRequests = new Counter({
      name: 'mcp_server_http_requests_total',
      help: 'HTTP requests answered, by route and status.',
      labelNames: ['server', 'route', 'method', 'status'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'mcp_server_rate_limited_total',
      help: 'POST /mcp requests refused with 429 by the per-client rate limit.',
      labelNames: ['server'],
      registers,
    });
    this.rateLimited.inc({ server: opts.server }, 0);
    registerProcessMetrics(this.registry, { server: opts.server }, opts.dataDir);
  }

  /** Records one finished tool call. */
  observeTool(tool: string, seconds: number, outcome: ToolOutcome, code?: string): void {
    this.toolDuration.observe({ server: this.server, tool, outcome }, seconds);
    if (outcome !== 'ok') this.toolErrors.inc({ server: this.server, tool, code: code ?? outcome });
  }

  /** Counts an HTTP exchange once its response is finished. */
  countHttp(route: string, method: string, status: number): void {
    this.httpRequests.inc({ server: this.server, route, method, status: String(status) });
  }

  countRateLimited(): void {
    this.rateLimited.inc({ server: this.server });
  }

  /** Marks a `/mcp` request in flight; the returned function ends it (idempotent). */
  startRequest(): () => void {
    this.inFlight.inc({ server: this.server });
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inFlight.dec({ server: this.server });
    };
  }

  /** The text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

interface JsonRpcLike {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: { name?: unknown };
  result?: { isError?: unknown; _meta?: { code?: unknown } };
  error?: { code?: unknown };
}

/**
 * Times the `tools/call` requests in one POST /mcp body. Wraps `transport.send` (the one place every
 * answer of a stateless request passes, whether it goes out as JSON or SSE) to see each answer as it
 * leaves; calls still unanswered when the HTTP response closes count as `aborted`.
 * Returns a function to call when the response closes.
 */
export function observeToolCalls(
  metrics: ServerMetrics,
  body: unknown,
  transport: { send: (message: never, options?: never) => Promise<void> },
): () => void {
  const messages = (Array.isArray(body) ? body : [body]) as JsonRpcLike[];
  const pending = new Map<string, { tool: string; started: number }>();
  for (const m of messages) {
    if (m && typeof m === 'object' && m.method === 'tools/call' && (typeof m.id === 'string' || typeof m.id === 'number')) {
      const tool = typeof m.params?.name === 'string' ? m.params.name : 'unknown';
      pending.set(String(m.id), { tool, started: performance.now() });
    }
  }
  if (pending.size === 0) return () => undefined;
  const send = transport.send.bind(transport) as (message: unknown, options?: unknown) => Promise<void>;
  (transport as { send: (message: unknown, options?: unknown) => Promise<void> }).send = (message, options) => {
    const m = message as JsonRpcLike;
    const key = typeof m.id === 'string' || typeof m.id === 'number' ? String(m.id) : undefined;
    const call = key !== undefined ? pending.get(key) : undefined;
    if (call && key !== undefined && ('result' in m || 'error' in m)) {
      pending.delete(key);
      const seconds = (performance.now() - call.started) / 1000;
      if (m.error) {
        const code = typeof m.error.code === 'number' ? (RPC_CODES[m.error.code] ?? `rpc_${m.error.code}`) : 'rpc_error';
        metrics.observeTool(call.tool, seconds, 'protocol_error', code);
      } else if (m.result?.isError === true) {
        const code = typeof m.result._meta?.code === 'string' ? m.result._meta.code : 'tool_error';
        metrics.observeTool(call.tool, seconds, 'tool_error', code);
      } else {
        metrics.observeTool(call.tool, seconds, 'ok');
      }
    }
    return send(message, options);
  };
  return () => {
    for (const call of pending.values()) metrics.observeTool(call.tool, (performance.now() - call.started) / 1000, 'aborted', 'aborted');
    pending.clear();
  };
}

/** True for a peer on this host (127.0.0.0/8, ::1, or an IPv4-mapped loopback). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function sameToken(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

/**
 * Who may read `/metrics`: any peer on loopback (Prometheus or the alert evaluator on the same host;
 * the servers bind 127.0.0.1 by default, so loopback is the stack's trust boundary), or anyone with
 * the service token as a bearer. MCP bearer JWTs are not accepted: a scraper has no client credentials.
 */
export function metricsAccess(
  req: IncomingMessage,
  serviceToken: string | undefined,
): { ok: true } | { ok: false; status: 401 | 403; message: string } {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (serviceToken && m?.[1] && sameToken(m[1], serviceToken)) return { ok: true };
    return { ok: false, status: 401, message: 'wrong bearer for /metrics: send the service token (MCP_SERVICE_TOKEN) or scrape from loopback' };
  }
  if (isLoopbackAddress(req.socket.remoteAddress)) return { ok: true };
  return {
    ok: false,
    status: 403,
    message: serviceToken
      ? '/metrics from outside this host needs Authorization: Bearer <MCP_SERVICE_TOKEN>'
      : '/metrics is served to loopback only (no MCP_SERVICE_TOKEN is set)',
  };
}

/** Answers a `/metrics` scrape: access check, then the text exposition. */
export async function answerScrape(
  req: IncomingMessage,
  res: ServerResponse,
  metrics: { exposition(): Promise<{ contentType: string; body: string }> },
  serviceToken: string | undefined,
): Promise<void> {
  const access = metricsAccess(req, serviceToken);
  if (!access.ok) {
    res.writeHead(access.status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(access.message + '\n');
    return;
  }
  try {
    const { contentType, body } = await metrics.exposition();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}
