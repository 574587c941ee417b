import { trace } from '@opentelemetry/api';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { McpCallError } from '../mcp/call-error';
import type { McpClientPool } from '../mcp/pool';
import { ErrorType } from '../shared/errors';
import type { McpCallInput, McpCallOutput } from '../shared/run-types';
import { processLogger, stepLogger, type Log } from '../observability/logging/logger';
import { injectTraceMeta } from '../observability/tracing/propagation';

/** Largest result an activity returns. Results travel by reference; bulk data stays on the servers. */
export const MAX_RESULT_BYTES = 256 * 1024;

/** How often a running call heartbeats, so a cancellation or a dead worker is noticed. */
const HEARTBEAT_EVERY_MS = 5_000;

function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
}

/** `isError` results that mean "the arguments were wrong" rather than "the tool failed". */
function isInvalidParams(text: string): boolean {
  return /^(MCP error -32602: )?(Input validation error|Invalid arguments|Tool \S+ (not found|disabled))/i.test(text);
}

/** Span attributes the activity adds to its `RunActivity:mcpCallTool` span. */
export const ACTIVITY_SPAN_ATTRS = {
  runId: 'mcp.run_id',
  stepId: 'mcp.step_id',
  server: 'mcp.server',
  tool: 'mcp.tool',
  attempt: 'mcp.attempt',
  endpoint: 'mcp.endpoint',
  replayed: 'mcp.idempotency.replayed',
  errorType: 'mcp.error_type',
} as const;

/**
 * Calls one MCP tool on the worker's server group and maps the outcome onto Temporal's contract:
 * `isError` results and invalid arguments are non-retryable `ApplicationFailure`s with a type;
 * transport faults are retryable; the MCP call is cancelled when the activity is. The request's
 * `_meta` carries the activity span's W3C trace context and the run/step ids (baggage), so the
 * server's span joins the run's trace; each call logs one line naming its run and step.
 */
export function makeMcpCallTool(pool: McpClientPool, baseLog?: Log) {
  return async function mcpCallTool(input: McpCallInput): Promise<McpCallOutput> {
    const ctx = Context.current();
    const label = `${input.server}/${input.tool}`;
    // The `RunActivity` span of Temporal's OpenTelemetry interceptor, when the worker installed it.
    const span = trace.getActiveSpan();
    const traceId = span?.isRecording() ? span.spanContext().traceId : undefined;
    const log = stepLogger(input, baseLog ?? processLogger()).child({ attempt: ctx.info.attempt, ...(traceId ? { traceId } : {}) });
    span?.setAttributes({
      [ACTIVITY_SPAN_ATTRS.runId]: input.workflowId,
      [ACTIVITY_SPAN_ATTRS.stepId]: input.stepId,
      [ACTIVITY_SPAN_ATTRS.server]: input.server,
      [ACTIVITY_SPAN_ATTRS.tool]: input.tool,
      [ACTIVITY_SPAN_ATTRS.attempt]: ctx.info.attempt,
    });
    const started = performance.now();
    const beat = setInterval(() => ctx.heartbeat({ step: input.stepId }), HEARTBEAT_EVERY_MS);
    try {
      const { result, endpoint, callMs, schemaHash } = await pool.callTool(input.server, input.tool, input.args, {
        meta: injectTraceMeta({ idempotencyKey: input.idempotencyKey }, { runId: input.workflowId, stepId: input.stepId }),
        signal: ctx.cancellationSignal,
        timeoutMs: ctx.info.startToCloseTimeoutMs,
        // Progress from a long tool keeps the call (and the activity, through heartbeats) alive.
        onProgress: (p) => ctx.heartbeat({ step: input.stepId, ...p }),
      });
      if (result.isError) {
        const text = textOf(result);
        throw ApplicationFailure.create({
          type: isInvalidParams(text) ? ErrorType.McpInvalidParams : ErrorType.McpToolError,
          message: `${label}: ${text}`,
          nonRetryable: true,
          details: [{ endpoint, code: (result._meta as Record<string, unknown> | undefined)?.code }],
        });
      }
      const value: unknown = result.structuredContent ?? textOf(result);
      const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
      if (bytes > MAX_RESULT_BYTES) {
        throw ApplicationFailure.create({
          type: ErrorType.ResultTooLarge,
          message: `${label} returned ${bytes} bytes; results are capped at ${MAX_RESULT_BYTES} bytes — write bulk data to storage and return its reference`,
          nonRetryable: true,
        });
      }
      const meta = (result._meta ?? {}) as Record<string, unknown>;
      span?.setAttributes({ [ACTIVITY_SPAN_ATTRS.endpoint]: endpoint, [ACTIVITY_SPAN_ATTRS.replayed]: meta.replayed === true });
      log.info({ endpoint, callMs: Math.round(callMs), toolTimeMs: meta.toolTimeMs, replayed: meta.replayed === true, bytes }, 'step call done');
      return {
        result: value,
        toolTimeMs: typeof meta.toolTimeMs === 'number' ? meta.toolTimeMs : undefined,
        callMs,
        ...(schemaHash ? { schemaHash } : {}),
        attempt: ctx.info.attempt,
        endpoint,
        replayed: meta.replayed === true,
        bytes,
      };
    } catch (err) {
      const type = err instanceof McpCallError ? err.type : err instanceof ApplicationFailure ? err.type : undefined;
      if (type) span?.setAttribute(ACTIVITY_SPAN_ATTRS.errorType, type);
      log.warn({ ms: Math.round(performance.now() - started), errorType: type, error: err instanceof Error ? err.message.slice(0, 500) : String(err) }, 'step call failed');
      if (err instanceof McpCallError) {
        throw ApplicationFailure.create({
          type: err.type,
          message: `${label}: ${err.message}`,
          nonRetryable: !err.retryable,
          nextRetryDelay: err.details.retryAfterMs,
          details: [{ endpoint: err.details.endpoint, status: err.details.status }],
        });
      }
      throw err;
    } finally {
      clearInterval(beat);
    }
  };
}
