import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { endpointLabel, expandVars, resilienceOf, usesStackAuth, type EndpointConfig, type HttpEndpointConfig, type Registry } from '../registry/registry';
import { ErrorType } from '../shared/errors';
import { classifyTransportError, McpCallError, parseRetryAfter } from './call-error';
import { type BreakerState, DEFAULT_BREAKER, EndpointBreaker, type BreakerPermit, type BreakerSettings } from './circuit-breaker';
import { RateBudget } from './rate-budget';
import { toolSchemaHash } from './schema-hash';
import { StdioProcess, type StdioBackoff } from './stdio-process';

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
  /** Clock for the breakers (tests). @default Date.now */
  now?: () => number;
  /**
   * Look up each called tool's schema hash in the endpoint's tool catalog (listed once per connection,
   * refreshed on `notifications/tools/list_changed` and reconnects) and return it as
   * {@link CallResult.schemaHash}. Costs one `tools/list` per connection. @default false
   */
  schemaHashes?: boolean;
  /** Longest a tool listing is trusted for schema hashes. @default 30000 */
  catalogTtlMs?: number;
  /** Environment that `${VAR}` in stdio endpoints, headers and `bearer_token_env` read. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Receives stdio servers' stderr lines. @default the worker's stderr, each line prefixed `[group] ` */
  stdioStderr?: (group: string, line: string) => void;
  /** Restart pacing of crashed stdio servers. */
  stdioBackoff?: StdioBackoff;
}

export interface CallOptions {
  /** Sent as the request's `_meta` (idempotency key, trace context). */
  meta?: Record<string, unknown>;
  /** Aborts the call: the HTTP request is aborted too, so the server stops the tool. */
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
  /**
   * {@link toolSchemaHash} of the tool as the answering endpoint lists it (with `schemaHashes` on);
   * undefined when the catalog could not be read or does not list the tool.
   */
  schemaHash?: string;
}

/** One endpoint's state in {@link PoolStatus}. */
export interface EndpointStatus {
  /** The URL, or for a stdio server `stdio:` and its command line. */
  url: string;
  /** @default 'http' */
  transport?: 'http' | 'stdio';
  /** Stdio servers: the process (absent: not started yet, or between restarts). */
  process?: { state: 'idle' | 'starting' | 'running' | 'restarting' | 'stopped'; pid?: number; starts: number; crashes: number; lastExit?: string };
  priority: number;
  /** Last background health check (true until the first check says otherwise). */
  healthy: boolean;
  lastHealthAt?: string;
  healthError?: string;
  /** Latency of the last call or health check, ms. */
  lastLatencyMs?: number;
  breaker: { state: BreakerState; opens: number; msUntilHalfOpen: number };
  inFlight: number;
  calls: number;
  transportFailures: number;
  /** Client-side budget: requests/minute (0: none), tokens now, callers waiting. */
  rateBudget: { perMinute: number; available: number | null; waiting: number; source: RateSource };
}

export interface PoolStatus {
  at: string;
  groups: Array<{ group: string; healthCheckIntervalMs: number; endpoints: EndpointStatus[] }>;
}

type RateSource = 'none' | 'config' | 'healthz' | 'server_info';

interface Endpoint {
  group: string;
  cfg: EndpointConfig;
  /** URL or stdio command line, as status and errors show it. */
  label: string;
  /** Stdio endpoints: the child process the worker manages. */
  stdio?: StdioProcess;
  /** Tool name → schema hash, listed once per connection (see `schemaHashes`). */
  catalog?: Promise<Map<string, string>>;
  /** When the cached listing was requested (performance.now()). */
  catalogAt?: number;
  breaker: EndpointBreaker;
  budget: RateBudget;
  rateSource: RateSource;
  healthy: boolean;
  lastHealthAt?: number;
  healthError?: string;
  lastLatencyMs?: number;
  inFlight: number;
  calls: number;
  failures: number;
  client?: Promise<Client>;
  transport?: StreamableHTTPClientTransport;
}

/** What the fetch wrapper learns about the HTTP exchange of the current call. */
interface CallScope {
  signal?: AbortSignal;
  status?: number;
  retryAfterMs?: number;
  /** Run when the call ends: detaches its listeners from the transport's lifelong signal. */
  cleanups?: Array<() => void>;
}

/**
 * One signal that aborts when the call's or the transport's does. Not `AbortSignal.any`: it keeps a
 * weak reference to every combined signal in the transport's lifelong one, and Node 20 never prunes
 * them (26,000 after 1,000 soak runs, a slow leak in every group worker). A listener, removed when the
 * call ends, leaves nothing behind.
 */
function callSignal(transport: AbortSignal, call: CallScope & { signal: AbortSignal }): AbortSignal {
  const ac = new AbortController();
  const fromTransport = () => ac.abort(transport.reason);
  const fromCall = () => ac.abort(call.signal.reason);
  if (transport.aborted) fromTransport();
  else if (call.signal.aborted) fromCall();
  else {
    transport.addEventListener('abort', fromTransport, { once: true });
    call.signal.addEventListener('abort', fromCall, { once: true });
    (call.cleanups ??= []).push(() => {
      transport.removeEventListener('abort', fromTransport);
      call.signal.removeEventListener('abort', fromCall);
    });
  }
  return ac.signal;
}

const DEFAULT_HEALTH_INTERVAL_MS = 30_000;
/** Least delay suggested to Temporal when every circuit is open (the clock may be coarse). */
const MIN_CIRCUIT_RETRY_MS = 100;

/** `/healthz` beside an MCP endpoint (`…/mcp` → `…/healthz`). */
export function healthUrl(mcpUrl: string): string {
  const u = new URL(mcpUrl);
  u.pathname = u.pathname.replace(/\/mcp\/?$/, '') + '/healthz';
  return u.toString();
}

function breakerSettings(registry: Registry, group: string): BreakerSettings {
  const b = resilienceOf(registry, group).breaker ?? {};
  return {
    failureThreshold: b.failure_threshold ?? DEFAULT_BREAKER.failureThreshold,
    recoveryTimeoutMs: b.recovery_timeout ?? DEFAULT_BREAKER.recoveryTimeoutMs,
    halfOpenMaxCalls: b.half_open_max_calls ?? DEFAULT_BREAKER.halfOpenMaxCalls,
    successThreshold: b.success_threshold ?? DEFAULT_BREAKER.successThreshold,
  };
}

function advertisedRate(limits: unknown): number | undefined {
  if (!limits || typeof limits !== 'object') return undefined;
  const l = limits as Record<string, unknown>;
  const v = l.rateLimitPerMinute ?? l.rate_limit_per_minute;
  return typeof v === 'number' && v > 0 ? v : undefined;
}

/** Every page of `tools/list`. */
async function listAllTools(client: Client): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined);
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

function hashCatalog(tools: Tool[]): Map<string, string> {
  return new Map(tools.map((t) => [t.name, toolSchemaHash(t)]));
}

/** Most a finished call waits for its endpoint's catalog listing (which ran beside it) to give the schema hash. */
const CATALOG_WAIT_MS = 5000;

/** Longest a tool listing is trusted for schema hashes (see `catalogOf`). */
const CATALOG_TTL_MS = 30_000;

async function boundedHash(catalog: Promise<Map<string, string>>, tool: string): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), CATALOG_WAIT_MS)));
  try {
    return await Promise.race([catalog.then((c) => c.get(tool)), late]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * MCP clients of a worker, one per endpoint, reused across calls (the servers are stateless, so one
 * connection serves concurrent calls). Per endpoint it keeps a circuit breaker, health, latency, load
 * and a client-side rate budget. Calls go round robin to the healthy endpoints of the best priority
 * and fail over down the priority list on transport faults; MCP tool errors are not failed over
 * (another replica would say the same) and do not count against a breaker.
 */
export class McpClientPool {
  private readonly endpoints = new Map<string, Endpoint[]>();
  private readonly rr = new Map<string, number>();
  private readonly scope = new AsyncLocalStorage<CallScope>();
  private readonly healthTimers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    private readonly registry: Registry,
    private readonly opts: McpClientPoolOptions = {},
  ) {
    const now = opts.now ?? Date.now;
    for (const [group, cfg] of Object.entries(registry.groups)) {
      const settings = breakerSettings(registry, group);
      const configuredRate = resilienceOf(registry, group).rate_limit_per_minute;
      this.endpoints.set(
        group,
        cfg.endpoints
          .slice()
          .sort((a, b) => a.priority - b.priority)
          .map((endpoint, i, all) => ({
            group,
            cfg: endpoint,
            label: endpointLabel(endpoint),
            stdio:
              endpoint.transport === 'stdio'
                ? this.stdioProcess(group, endpoint, all.filter((e) => e.transport === 'stdio').length > 1 ? `${group}#${i + 1}` : group)
                : undefined,
            breaker: new EndpointBreaker(settings, now),
            // A configured rate is used as is; an advertised one gets 10 % headroom.
            budget: new RateBudget(configuredRate ?? 0, configuredRate !== undefined ? 1 : 0.9),
            rateSource: configuredRate !== undefined ? 'config' : 'none',
            healthy: true,
            inFlight: 0,
            calls: 0,
            failures: 0,
          })),
      );
    }
  }

  groups(): string[] {
    return [...this.endpoints.keys()];
  }

  private stdioProcess(group: string, cfg: Extract<EndpointConfig, { transport: 'stdio' }>, name: string): StdioProcess {
    const sink = this.opts.stdioStderr;
    let proc: StdioProcess | undefined = undefined;
    const invalidate = () => {
      const ep = this.endpoints.get(group)?.find((e) => e.stdio === proc);
      if (ep) ep.catalog = undefined;
    };
    proc = new StdioProcess({
      group,
      name,
      cfg,
      clientName: this.opts.clientName ?? 'mcp-orchestrator',
      env: this.opts.env,
      stderr: sink ? (line) => sink(group, line) : undefined,
      backoff: this.opts.stdioBackoff,
      // A new process may be a new version of the server: its catalog is listed afresh.
      onConnected: invalidate,
      onToolsChanged: invalidate,
    });
    return proc;
  }

  /** Headers an HTTP endpoint brings itself (`headers`, `bearer_token_env`), `${VAR}` resolved now. */
  private ownHeaders(cfg: HttpEndpointConfig): Headers {
    const env = this.opts.env ?? process.env;
    const headers = new Headers();
    try {
      for (const [k, v] of Object.entries(cfg.headers)) headers.set(k, expandVars(v, env, `header ${k} of ${cfg.url}`));
      if (cfg.bearer_token_env) {
        const token = env[cfg.bearer_token_env];
        if (!token) throw new Error(`${cfg.url} needs a bearer token from ${cfg.bearer_token_env} (bearer_token_env), which is not set in the worker's environment`);
        headers.set('authorization', `Bearer ${token}`);
      }
    } catch (err) {
      throw new McpCallError(ErrorType.McpUnauthorized, (err as Error).message, false, { endpoint: cfg.url });
    }
    return headers;
  }

  private connect(ep: Endpoint): Promise<Client> {
    if (ep.stdio) return ep.stdio.client();
    const cfg = ep.cfg as HttpEndpointConfig;
    ep.client ??= (async () => {
      const client = new Client({ name: this.opts.clientName ?? 'mcp-orchestrator', version: '0.1.0' });
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        ep.catalog = undefined;
        return Promise.resolve();
      });
      const stackAuth = usesStackAuth(cfg);
      const transport = new StreamableHTTPClientTransport(new URL(cfg.url), {
        fetch: async (url, init) => {
          const headers = new Headers(init?.headers);
          for (const [k, v] of this.ownHeaders(cfg)) headers.set(k, v);
          // Only our own servers get the stack's token: a third-party server must never see it.
          if (stackAuth && !headers.has('authorization')) {
            const token = await this.opts.tokenFor?.(ep.group);
            if (token) headers.set('authorization', `Bearer ${token}`);
          }
          const call = this.scope.getStore();
          // The SDK aborts its own fetches only when the transport closes; tying the call's signal to
          // the HTTP request closes the response stream on cancellation, which is how the server learns
          // of it (a stateless server never sees a `notifications/cancelled` on another request).
          const signal = init?.signal && call?.signal ? callSignal(init.signal, call as CallScope & { signal: AbortSignal }) : (init?.signal ?? call?.signal);
          const res = await fetch(url, { ...init, headers, signal });
          if (call && !res.ok) {
            call.status = res.status;
            if (res.status === 429 || res.status === 503) call.retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
          }
          return res;
        },
      });
      ep.transport = transport;
      ep.catalog = undefined;
      await client.connect(transport);
      return client;
    })().catch((err: unknown) => {
      ep.client = undefined;
      ep.transport = undefined;
      throw err;
    });
    return ep.client;
  }

  /** True (once per call) when `err` is a 401 worth a token refresh and a second try. */
  private refreshOn401(ep: Endpoint, err: McpCallError, alreadyRefreshed: boolean): boolean {
    if (alreadyRefreshed || !this.opts.onUnauthorized || err.details.status !== 401 || !usesStackAuth(ep.cfg)) return false;
    this.opts.onUnauthorized(ep.group);
    return true;
  }

  /** Forgets an HTTP endpoint's client (the next call reconnects). Stdio processes restart on their own exit. */
  private drop(ep: Endpoint): void {
    if (ep.stdio) return;
    const c = ep.client;
    ep.client = undefined;
    ep.transport = undefined;
    void c?.then((client) => client.close()).catch(() => undefined);
  }

  private groupEndpoints(group: string): Endpoint[] {
    const eps = this.endpoints.get(group);
    if (!eps || eps.length === 0) {
      throw new McpCallError(ErrorType.InvalidPipeline, `no MCP server group '${group}' in the registry (known: ${this.groups().join(', ')})`, false);
    }
    return eps;
  }

  /**
   * Endpoints in the order to try: healthy ones with a passable breaker, best priority first, round
   * robin among equals; then endpoints the health check marked down (it may be stale) as a last resort.
   * Throws `CircuitOpen` (retryable, delay = earliest half-open) when every breaker refuses calls.
   */
  private plan(group: string): Endpoint[] {
    const eps = this.groupEndpoints(group);
    const passable = eps.filter((e) => e.breaker.canPass());
    if (passable.length === 0) {
      const waits = eps.map((e) => e.breaker.msUntilHalfOpen()).filter((ms) => ms > 0);
      const delay = Math.max(MIN_CIRCUIT_RETRY_MS, waits.length ? Math.min(...waits) : MIN_CIRCUIT_RETRY_MS);
      throw new McpCallError(
        ErrorType.CircuitOpen,
        `every endpoint of '${group}' has an open circuit breaker (${eps.map((e) => e.label).join(', ')}); next trial in ${delay} ms`,
        true,
        { retryAfterMs: delay },
      );
    }
    const ordered = (list: Endpoint[]): Endpoint[] => {
      const out: Endpoint[] = [];
      for (const p of [...new Set(list.map((e) => e.cfg.priority))].sort((a, b) => a - b)) {
        const tier = list.filter((e) => e.cfg.priority === p);
        const key = `${group}:${p}`;
        const start = (this.rr.get(key) ?? 0) % tier.length;
        this.rr.set(key, start + 1);
        out.push(...tier.slice(start), ...tier.slice(0, start));
      }
      return out;
    };
    return [...ordered(passable.filter((e) => e.healthy)), ...ordered(passable.filter((e) => !e.healthy))];
  }

  /**
   * Calls a tool on the group's best available endpoint. Throws {@link McpCallError}; a result with
   * `isError` is returned, not thrown (the caller decides what it means).
   */
  async callTool(group: string, name: string, args: Record<string, unknown>, opts: CallOptions = {}): Promise<CallResult> {
    let last: McpCallError | undefined;
    let rateLimited: McpCallError | undefined;
    const eps = this.plan(group);
    for (const ep of eps) {
      const permit = ep.breaker.tryAcquire();
      // Half-open slots may have been taken by concurrent calls since the plan was made.
      if (!permit) continue;
      const outcome = await this.callOn(ep, permit, name, args, opts);
      if ('result' in outcome) return outcome;
      last = outcome.error;
      if (last.type === ErrorType.RateLimited) rateLimited = last;
      if (!last.retryable || opts.signal?.aborted) throw last;
    }
    if (!last) {
      // Only half-open endpoints were passable and concurrent calls took their trial slots.
      throw new McpCallError(ErrorType.CircuitOpen, `the half-open endpoints of '${group}' are busy with trial calls`, true, {
        retryAfterMs: MIN_CIRCUIT_RETRY_MS,
      });
    }
    throw rateLimited ?? last;
  }

  /** One endpoint, with the 401 refresh and the stale-session re-initialization (each at most once). */
  private async callOn(
    ep: Endpoint,
    permit: BreakerPermit,
    name: string,
    args: Record<string, unknown>,
    opts: CallOptions,
  ): Promise<CallResult | { error: McpCallError }> {
    let refreshed = false;
    let reinitialized = false;
    try {
      await ep.budget.take(opts.signal);
    } catch (err) {
      permit.release();
      throw err;
    }
    ep.inFlight++;
    ep.calls++;
    try {
      for (;;) {
        const started = performance.now();
        const scope: CallScope = { signal: opts.signal };
        try {
          const client = await this.connect(ep);
          // Listed beside the call (not inside its scope: the call's abort must not cancel the listing).
          const catalog = this.opts.schemaHashes ? this.catalogOf(ep, client) : undefined;
          catalog?.catch(() => undefined);
          const result = (await this.scope.run(scope, () =>
            client.callTool({ name, arguments: args, _meta: opts.meta }, undefined, {
              signal: opts.signal,
              timeout: opts.timeoutMs ?? this.opts.requestTimeoutMs ?? 60_000,
              resetTimeoutOnProgress: true,
              maxTotalTimeout: opts.maxTotalTimeoutMs,
              onprogress: opts.onProgress,
            }),
          ).finally(() => scope.cleanups?.forEach((detach) => detach()))) as CallToolResult;
          ep.lastLatencyMs = performance.now() - started;
          permit.success();
          if (name === 'server_info' && !result.isError) this.learnFromServerInfo(ep, result.structuredContent);
          const callMs = ep.lastLatencyMs;
          const schemaHash = catalog ? await boundedHash(catalog, name) : undefined;
          return { result, endpoint: ep.label, callMs, schemaHash };
        } catch (err) {
          if (opts.signal?.aborted) {
            permit.release();
            throw err;
          }
          let error = classifyTransportError(err, ep.label);
          if (scope.status === 429 || error.type === ErrorType.RateLimited) {
            error = new McpCallError(ErrorType.RateLimited, error.message, true, { ...error.details, status: 429, retryAfterMs: scope.retryAfterMs });
          }
          if (this.refreshOn401(ep, error, refreshed)) {
            // A 401 is answered before the tool runs, so trying again cannot repeat a side effect.
            refreshed = true;
            continue;
          }
          if (!reinitialized && error.details.status === 404 && ep.transport?.sessionId) {
            // The server forgot our session (restarted): a 404 is answered before the tool runs.
            reinitialized = true;
            this.drop(ep);
            continue;
          }
          if (error.type === ErrorType.RateLimited || !error.retryable) {
            // The server answered: it is alive, so the breaker learns nothing.
            permit.release();
          } else {
            ep.failures++;
            permit.failure();
            // Only a broken connection (no HTTP answer at all) warrants a fresh client. Closing the shared
            // client on an HTTP 5xx would abort every other call in flight on it, turning one transient
            // fault into a burst of failures that opens the breaker (seen in the chaos run).
            if (error.details.status === undefined) this.drop(ep);
          }
          return { error };
        }
      }
    } finally {
      ep.inFlight--;
    }
  }

  private learnFromServerInfo(ep: Endpoint, info: unknown): void {
    if (ep.rateSource === 'config' || ep.rateSource === 'healthz') return;
    const rate = advertisedRate((info as { limits?: unknown } | undefined)?.limits);
    if (rate === undefined) return;
    ep.budget.setRate(rate);
    ep.rateSource = 'server_info';
  }

  /**
   * The endpoint's catalog as tool name → {@link toolSchemaHash}, listed once per connection: a new
   * connection (HTTP reconnect, stdio restart) or `notifications/tools/list_changed` clears it.
   */
  private catalogOf(ep: Endpoint, client: Client): Promise<Map<string, string>> {
    // Stateless HTTP servers cannot push `tools/list_changed`, so a listing also expires: a server
    // redeployed behind the same URL mid-run is noticed within CATALOG_TTL_MS.
    if (ep.catalog && performance.now() - (ep.catalogAt ?? 0) < (this.opts.catalogTtlMs ?? CATALOG_TTL_MS)) return ep.catalog;
    ep.catalogAt = performance.now();
    const listing: Promise<Map<string, string>> = listAllTools(client).then(hashCatalog, (err: unknown) => {
      if (ep.catalog === listing) ep.catalog = undefined;
      throw err;
    });
    ep.catalog = listing;
    return listing;
  }

  /** Lists a group's tools from its first answering endpoint. */
  async listTools(group: string): Promise<{ tools: Tool[]; endpoint: string; ms: number }> {
    let last: unknown;
    let refreshed = false;
    const eps = this.plan(group);
    for (let i = 0; i < eps.length; i++) {
      const ep = eps[i]!;
      const started = performance.now();
      try {
        const client = await this.connect(ep);
        const tools = await listAllTools(client);
        ep.catalog = Promise.resolve(hashCatalog(tools));
        ep.catalogAt = performance.now();
        return { tools, endpoint: ep.label, ms: performance.now() - started };
      } catch (err) {
        last = err;
        if (this.refreshOn401(ep, classifyTransportError(err, ep.label), refreshed)) {
          refreshed = true;
          i--;
          continue;
        }
        this.drop(ep);
      }
    }
    throw classifyTransportError(last, group);
  }

  /**
   * Checks every endpoint of `group` (all groups when absent) once: `GET /healthz` for our servers; an
   * MCP `ping` for third-party HTTP servers (which have no `/healthz`) and for running stdio servers.
   * A stdio server that was never started stays unchecked: a health check does not start it.
   */
  async checkHealth(group?: string, timeoutMs = 5000): Promise<void> {
    const groups = group ? [group] : this.groups();
    await Promise.all(groups.flatMap((g) => this.groupEndpoints(g).map((ep) => this.checkEndpoint(ep, timeoutMs))));
  }

  private async checkEndpoint(ep: Endpoint, timeoutMs: number): Promise<void> {
    if (ep.stdio) return this.checkStdio(ep, ep.stdio, timeoutMs);
    const cfg = ep.cfg as HttpEndpointConfig;
    const started = performance.now();
    try {
      if (!usesStackAuth(cfg)) {
        const client = await this.connect(ep);
        await client.ping({ timeout: timeoutMs });
        ep.healthy = true;
        ep.healthError = undefined;
        ep.lastLatencyMs = performance.now() - started;
        return;
      }
      const res = await fetch(healthUrl(cfg.url), { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok) throw new Error(`/healthz answered HTTP ${res.status}`);
      ep.healthy = true;
      ep.healthError = undefined;
      ep.lastLatencyMs = performance.now() - started;
      const rate = body.clientRateLimitPerMinute;
      if (ep.rateSource !== 'config' && typeof rate === 'number') {
        ep.budget.setRate(rate);
        ep.rateSource = rate > 0 ? 'healthz' : 'none';
      }
    } catch (err) {
      ep.healthy = false;
      ep.healthError = err instanceof Error ? err.message : String(err);
    } finally {
      ep.lastHealthAt = Date.now();
    }
  }

  private async checkStdio(ep: Endpoint, proc: StdioProcess, timeoutMs: number): Promise<void> {
    if (proc.state === 'idle' || proc.state === 'stopped') return;
    try {
      if (proc.state === 'restarting') {
        throw new Error(`${proc.lastExit?.reason ?? 'exited'}; next start in ${proc.msUntilRestart()} ms`);
      }
      const ms = await proc.ping(timeoutMs);
      // Still starting: no verdict yet.
      if (ms === undefined) return;
      ep.healthy = true;
      ep.healthError = undefined;
      ep.lastLatencyMs = ms;
    } catch (err) {
      ep.healthy = false;
      ep.healthError = err instanceof Error ? err.message : String(err);
    } finally {
      ep.lastHealthAt = Date.now();
    }
  }

  /** Health-check period of a group (`health_check_interval`, default 30 s). */
  healthCheckIntervalMs(group: string): number {
    return resilienceOf(this.registry, group).health_check_interval ?? DEFAULT_HEALTH_INTERVAL_MS;
  }

  /**
   * Starts the background health checks of `groups` (all when absent): one check now, then every
   * `health_check_interval`. Timers do not keep the process alive; {@link close} stops them.
   */
  startHealthChecks(groups: string[] = this.groups()): Promise<void> {
    for (const g of groups) {
      const every = this.healthCheckIntervalMs(g);
      const timeout = Math.min(5000, Math.max(200, every));
      let running = false;
      const timer = setInterval(() => {
        if (running || this.closed) return;
        running = true;
        void this.checkHealth(g, timeout).finally(() => (running = false));
      }, every);
      timer.unref();
      this.healthTimers.push(timer);
    }
    return Promise.all(groups.map((g) => this.checkHealth(g))).then(() => undefined);
  }

  /** A snapshot of every endpoint: health, latency, breaker, load, rate budget (for `mcp-orch servers`). */
  poolStatus(): PoolStatus {
    return {
      at: new Date().toISOString(),
      groups: [...this.endpoints.entries()].map(([group, eps]) => ({
        group,
        healthCheckIntervalMs: this.healthCheckIntervalMs(group),
        endpoints: eps.map((ep) => {
          const available = ep.budget.available;
          const proc = ep.stdio;
          return {
            url: ep.label,
            transport: ep.cfg.transport,
            process: proc && {
              state: proc.state,
              pid: proc.pid,
              starts: proc.starts,
              crashes: proc.crashes,
              lastExit: proc.lastExit && `${new Date(proc.lastExit.at).toISOString()} ${proc.lastExit.reason}`,
            },
            priority: ep.cfg.priority,
            healthy: ep.healthy,
            lastHealthAt: ep.lastHealthAt ? new Date(ep.lastHealthAt).toISOString() : undefined,
            healthError: ep.healthError,
            lastLatencyMs: ep.lastLatencyMs === undefined ? undefined : Math.round(ep.lastLatencyMs * 10) / 10,
            breaker: { state: ep.breaker.state, opens: ep.breaker.opens, msUntilHalfOpen: ep.breaker.msUntilHalfOpen() },
            inFlight: ep.inFlight,
            calls: ep.calls,
            transportFailures: ep.failures,
            rateBudget: {
              perMinute: ep.budget.perMinute,
              available: Number.isFinite(available) ? available : null,
              waiting: ep.budget.waiting,
              source: ep.rateSource,
            },
          };
        }),
      })),
    };
  }

  /** Pids of the running stdio server processes (tests, diagnostics). */
  stdioPids(group?: string): number[] {
    const eps = group ? (this.endpoints.get(group) ?? []) : [...this.endpoints.values()].flat();
    return eps.flatMap((ep) => (ep.stdio?.pid === undefined ? [] : [ep.stdio.pid]));
  }

  /**
   * Stops health checks, closes HTTP clients and stops every stdio server process (SIGTERM, SIGKILL
   * after its `shutdown_grace`); resolves once those processes are gone.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.healthTimers.splice(0)) clearInterval(t);
    const stopping: Array<Promise<void>> = [];
    for (const eps of this.endpoints.values()) {
      for (const ep of eps) {
        ep.budget.close();
        if (ep.stdio) stopping.push(ep.stdio.stop());
        else this.drop(ep);
      }
    }
    await Promise.all(stopping);
  }
}
