import { AsyncLocalStorage } from 'node:async_hooks';
import { context as otelContext, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { type z } from 'zod';
import type { IdempotencyStore } from './idempotency';
import { logger } from './log';
import { REQUEST_META, RESULT_META } from './meta';
import { withLogFields } from '../../observability/logging/logger';
import { extractTraceMeta } from '../../observability/tracing/propagation';

/**
 * An expected domain failure: the tool returns `isError: true` with this message, which should say
 * what to fix. Anything else thrown is reported the same way but marked as an internal error.
 */
export class ToolError extends Error {
  constructor(
    message: string,
    /** Machine-readable reason, e.g. `not_found`, `invalid_sql`, `forbidden_path`. */
    readonly code = 'tool_error',
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

/**
 * The HTTP request a tool call arrived on (set by `startMcpHttpServer`): its signal aborts when the
 * client closes the request before the answer is complete.
 */
export const toolRequestScope = new AsyncLocalStorage<{ signal: AbortSignal }>();

/** What a tool handler gets besides its arguments. */
export interface ToolContext {
  /** Aborted when the client cancels the call (`notifications/cancelled`) or closes the HTTP request. */
  signal: AbortSignal;
  /** Idempotency key sent by the caller in `_meta`, if any. */
  idempotencyKey?: string;
  /** Reports progress to the caller (keeps long calls alive); no-op when the caller asked for none. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** The bearer token's claims, when the server runs with authentication. */
  auth?: { clientId: string; scopes: string[]; extra?: Record<string, unknown> };
}

export interface ToolDefinition<I extends z.ZodRawShape, O extends z.ZodRawShape> {
  title: string;
  description: string;
  inputSchema: I;
  outputSchema: O;
  annotations: ToolAnnotations;
  /**
   * When set, calls carrying an idempotency key run once per key; retries get the first result.
   * Give it to every tool with a side effect.
   */
  idempotency?: IdempotencyStore;
}

type Out<O extends z.ZodRawShape> = z.infer<z.ZodObject<O>>;
type In<I extends z.ZodRawShape> = z.infer<z.ZodObject<I>>;

/** Largest text mirror of a result; the structured content is authoritative. */
const MAX_TEXT_MIRROR = 16_000;

/** Attributes of a tool call's server span, `mcp.tool <server>/<tool>`. */
export const TOOL_SPAN_ATTRS = {
  server: 'mcp.server',
  tool: 'mcp.tool',
  /** `ok`, `tool_error` (an expected `isError` result, see `ToolError`) or `internal_error`. */
  outcome: 'mcp.outcome',
  errorCode: 'mcp.error_code',
  idempotencyKey: 'mcp.idempotency.key',
  /** True when the result was replayed from the idempotency store rather than executed again. */
  replayed: 'mcp.idempotency.replayed',
  runId: 'mcp.run_id',
  stepId: 'mcp.step_id',
} as const;

/**
 * The name the server gave itself (`new McpServer({ name })`). The SDK keeps it private; reading it
 * spares every server passing its name twice. Falls back to `mcp`.
 */
function serverNameOf(server: McpServer): string {
  const info = (server.server as unknown as { _serverInfo?: { name?: unknown } })._serverInfo;
  return typeof info?.name === 'string' && info.name ? info.name : 'mcp';
}

/** A no-op unless the process installed tracing (src/observability/tracing/setup.ts). */
const tracer = trace.getTracer('mcp-server-kit');

/**
 * Registers a tool with the house conventions: structured content plus a text mirror, the server's
 * own measurement of tool time in `_meta.toolTimeMs`, idempotent replay of side effects, and every
 * failure returned as `isError` with a message (never a thrown protocol error). Each call is a server
 * span `mcp.tool <server>/<tool>`, child of the caller's span when `_meta` carries a W3C
 * `traceparent`, and one log line; lines logged during the call carry the caller's run and step ids.
 */
export function registerTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(
  server: McpServer,
  name: string,
  def: ToolDefinition<I, O>,
  handler: (args: In<I>, ctx: ToolContext) => Promise<Out<O>>,
): void {
  const serverName = serverNameOf(server);
  const log = logger(serverName);
  server.registerTool(
    name,
    {
      title: def.title,
      description: def.description,
      inputSchema: def.inputSchema,
      outputSchema: def.outputSchema,
      annotations: { title: def.title, ...def.annotations },
    },
    // The SDK's generic types for zod 3/4 shapes are wider than ours; the runtime contract is the same.
    (async (args: In<I>, extra: ToolExtra): Promise<CallToolResult> => {
      const started = performance.now();
      const meta = (extra._meta ?? {}) as Record<string, unknown>;
      const key = typeof meta[REQUEST_META.idempotencyKey] === 'string' ? (meta[REQUEST_META.idempotencyKey] as string) : undefined;
      // The caller's trace context and run/step ids (W3C traceparent, tracestate, baggage in `_meta`).
      const caller = extractTraceMeta(meta);
      const scope: Record<string, string> = { tool: name };
      const attributes: Record<string, string> = { [TOOL_SPAN_ATTRS.server]: serverName, [TOOL_SPAN_ATTRS.tool]: name };
      if (key) attributes[TOOL_SPAN_ATTRS.idempotencyKey] = key;
      if (caller.runId) attributes[TOOL_SPAN_ATTRS.runId] = scope.runId = caller.runId;
      if (caller.stepId) attributes[TOOL_SPAN_ATTRS.stepId] = scope.stepId = caller.stepId;
      const span = tracer.startSpan(`mcp.tool ${serverName}/${name}`, { kind: SpanKind.SERVER, attributes }, caller.context);
      const spanContext = trace.setSpan(caller.context, span);
      if (span.isRecording()) scope.traceId = span.spanContext().traceId;
      const progressToken = meta.progressToken as string | number | undefined;
      const request = toolRequestScope.getStore();
      const ctx: ToolContext = {
        signal: request ? AbortSignal.any([extra.signal, request.signal]) : extra.signal,
        idempotencyKey: key,
        auth: extra.authInfo
          ? { clientId: extra.authInfo.clientId, scopes: extra.authInfo.scopes, extra: extra.authInfo.extra }
          : undefined,
        async progress(progress, total, message) {
          if (progressToken === undefined) return;
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress, total, message },
          });
        },
      };
      // The handler runs in the span's context (outbound calls it makes can carry it on) and in a log
      // scope naming the run and step.
      const inScope = <T>(fn: () => Promise<T>) => otelContext.with(spanContext, () => withLogFields(scope, fn));
      try {
        const run = () => inScope(() => handler(args, ctx));
        const { result, replayed } = def.idempotency
          ? await def.idempotency.once(key ? `${name}:${key}` : undefined, run)
          : { result: await run(), replayed: false };
        const text = JSON.stringify(result);
        span.setAttributes({ [TOOL_SPAN_ATTRS.outcome]: 'ok', [TOOL_SPAN_ATTRS.replayed]: replayed });
        withLogFields(scope, () => log.info('tool call', { ms: msSince(started), replayed }));
        return {
          content: [{ type: 'text', text: text.length > MAX_TEXT_MIRROR ? text.slice(0, MAX_TEXT_MIRROR) + '…' : text }],
          structuredContent: result as Record<string, unknown>,
          _meta: { [RESULT_META.toolTimeMs]: performance.now() - started, [RESULT_META.replayed]: replayed },
        };
      } catch (err) {
        const message =
          err instanceof ToolError
            ? err.message
            : `internal error in ${name}: ${err instanceof Error ? err.message : String(err)}`;
        const code = err instanceof ToolError ? err.code : 'internal_error';
        span.setAttributes({ [TOOL_SPAN_ATTRS.outcome]: err instanceof ToolError ? 'tool_error' : 'internal_error', [TOOL_SPAN_ATTRS.errorCode]: code });
        span.setStatus({ code: SpanStatusCode.ERROR, message: message.slice(0, 500) });
        withLogFields(scope, () => log.warn('tool call failed', { ms: msSince(started), code, error: message.slice(0, 500) }));
        return {
          isError: true,
          content: [{ type: 'text', text: message }],
          _meta: {
            [RESULT_META.toolTimeMs]: performance.now() - started,
            code,
          },
        };
      } finally {
        span.end();
      }
    }) as never,
  );
}

function msSince(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

interface ToolExtra {
  signal: AbortSignal;
  _meta?: Record<string, unknown>;
  authInfo?: { clientId: string; scopes: string[]; extra?: Record<string, unknown> };
  sendNotification: (n: { method: 'notifications/progress'; params: Record<string, unknown> }) => Promise<void>;
}
