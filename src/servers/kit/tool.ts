import { AsyncLocalStorage } from 'node:async_hooks';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { type z } from 'zod';
import type { IdempotencyStore } from './idempotency';
import { REQUEST_META, RESULT_META } from './meta';

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

/**
 * Registers a tool with the house conventions: structured content plus a text mirror, the server's
 * own measurement of tool time in `_meta.toolTimeMs`, idempotent replay of side effects, and every
 * failure returned as `isError` with a message (never a thrown protocol error).
 */
export function registerTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(
  server: McpServer,
  name: string,
  def: ToolDefinition<I, O>,
  handler: (args: In<I>, ctx: ToolContext) => Promise<Out<O>>,
): void {
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
      try {
        const run = () => handler(args, ctx);
        const { result, replayed } = def.idempotency
          ? await def.idempotency.once(key ? `${name}:${key}` : undefined, run)
          : { result: await run(), replayed: false };
        const text = JSON.stringify(result);
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
        return {
          isError: true,
          content: [{ type: 'text', text: message }],
          _meta: {
            [RESULT_META.toolTimeMs]: performance.now() - started,
            code: err instanceof ToolError ? err.code : 'internal_error',
          },
        };
      }
    }) as never,
  );
}

interface ToolExtra {
  signal: AbortSignal;
  _meta?: Record<string, unknown>;
  authInfo?: { clientId: string; scopes: string[]; extra?: Record<string, unknown> };
  sendNotification: (n: { method: 'notifications/progress'; params: Record<string, unknown> }) => Promise<void>;
}
