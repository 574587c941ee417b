import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { resilienceOf, type EndpointConfig, type Registry } from '../registry/registry';
import { ErrorType } from '../shared/errors';
import { classifyTransportError, McpCallError, parseRetryAfter } from './call-error';
import { type BreakerState, DEFAULT_BREAKER, EndpointBreaker, type BreakerPermit, type BreakerSettings } from './circuit-breaker';
import { RateBudget } from './rate-budget';

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
}

/** One endpoint's state in {@link PoolStatus}. */
export interface EndpointStatus {
  url: string;
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
type HttpEndpoint = Extract<EndpointConfig, { transport: 'http' }>;

interface Endpoint {
  group: string;
  cfg: HttpEndpoint;
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
          .filter((e): e is HttpEndpoint => e.transport === 'http')
          .sort((a, b) => a.priority - b.priority)
          .map((endpoint) => ({
            group,
            cfg: endpoint,
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

  private connect(ep: Endpoint): Promise<Client> {
    ep.client ??= (async () => {
      const client = new Client({ name: this.opts.clientName ?? 'mcp-orchestrator', version: '0.1.0' });
      const transport = new StreamableHTTPClientTransport(new URL(ep.cfg.url), {
        fetch: async (url, init) => {
          const headers = new Headers(init?.headers);
          for (const [k, v] of Object.entries(ep.cfg.headers)) headers.set(k, v);
          // An endpoint configured with its own credentials (a third-party server) keeps them.
          if (!headers.has('authorization')) {
            const token = await this.opts.tokenFor?.(ep.group);
            if (token) headers.set('authorization', `Bearer ${token}`);
          }
          const call = this.scope.getStore();
          // The SDK aborts its own fetches only when the transport closes; tying the call's signal to
          // the HTTP request closes the response stream on cancellation, which is how the server learns
          // of it (a stateless server never sees a `notifications/cancelled` on another request).
          const signals = [init?.signal, call?.signal].filter((s): s is AbortSignal => !!s);
          const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
          const res = await fetch(url, { ...init, headers, signal });
          if (call && !res.ok) {
            call.status = res.status;
            if (res.status === 429 || res.status === 503) call.retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
          }
          return res;
        },
      });
      ep.transport = transport;
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
  private refreshOn401(group: string, err: McpCallError, alreadyRefreshed: boolean): boolean {
    if (alreadyRefreshed || !this.opts.onUnauthorized || err.details.status !== 401) return false;
    this.opts.onUnauthorized(group);
    return true;
  }

  private drop(ep: Endpoint): void {
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
        `every endpoint of '${group}' has an open circuit breaker (${eps.map((e) => e.cfg.url).join(', ')}); next trial in ${delay} ms`,
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
          const result = (await this.scope.run(scope, () =>
            client.callTool({ name, arguments: args, _meta: opts.meta }, undefined, {
              signal: opts.signal,
              timeout: opts.timeoutMs ?? this.opts.requestTimeoutMs ?? 60_000,
              resetTimeoutOnProgress: true,
              maxTotalTimeout: opts.maxTotalTimeoutMs,
              onprogress: opts.onProgress,
            }),
          )) as CallToolResult;
          ep.lastLatencyMs = performance.now() - started;
          permit.success();
          if (name === 'server_info' && !result.isError) this.learnFromServerInfo(ep, result.structuredContent);
          return { result, endpoint: ep.cfg.url, callMs: ep.lastLatencyMs };
        } catch (err) {
          if (opts.signal?.aborted) {
            permit.release();
            throw err;
          }
          let error = classifyTransportError(err, ep.cfg.url);
          if (scope.status === 429 || error.type === ErrorType.RateLimited) {
            error = new McpCallError(ErrorType.RateLimited, error.message, true, { ...error.details, status: 429, retryAfterMs: scope.retryAfterMs });
          }
          if (this.refreshOn401(ep.group, error, refreshed)) {
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
        const tools: Tool[] = [];
        let cursor: string | undefined;
        do {
          const page = await client.listTools(cursor ? { cursor } : undefined);
          tools.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor);
        return { tools, endpoint: ep.cfg.url, ms: performance.now() - started };
      } catch (err) {
        last = err;
        if (this.refreshOn401(group, classifyTransportError(err, ep.cfg.url), refreshed)) {
          refreshed = true;
          i--;
          continue;
        }
        this.drop(ep);
      }
    }
    throw classifyTransportError(last, group);
  }

  /** Checks every endpoint of `group` (all groups when absent) once: `GET /healthz`. */
  async checkHealth(group?: string, timeoutMs = 5000): Promise<void> {
    const groups = group ? [group] : this.groups();
    await Promise.all(groups.flatMap((g) => this.groupEndpoints(g).map((ep) => this.checkEndpoint(ep, timeoutMs))));
  }

  private async checkEndpoint(ep: Endpoint, timeoutMs: number): Promise<void> {
    const started = performance.now();
    try {
      const res = await fetch(healthUrl(ep.cfg.url), { signal: AbortSignal.timeout(timeoutMs), headers: ep.cfg.headers });
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
          return {
            url: ep.cfg.url,
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

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.healthTimers.splice(0)) clearInterval(t);
    for (const eps of this.endpoints.values()) {
      for (const ep of eps) {
        ep.budget.close();
        this.drop(ep);
      }
    }
  }
}
