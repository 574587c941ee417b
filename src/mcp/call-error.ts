import { ErrorType } from '../shared/errors';

/**
 * A failed MCP call, classified so the activity can decide between "retry" and "fail the step now".
 * `type` is one of the {@link ErrorType} names; `retryable` says whether another attempt can help.
 */
export class McpCallError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly retryable: boolean,
    readonly details: { endpoint?: string; status?: number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'McpCallError';
  }
}

interface WithCode {
  code?: unknown;
  message?: string;
}

/** Classifies a thrown transport/protocol error from the MCP client. */
export function classifyTransportError(err: unknown, endpoint: string): McpCallError {
  const e = (err ?? {}) as WithCode;
  const message = e.message ?? String(err);
  const code = typeof e.code === 'number' ? e.code : undefined;
  if (err instanceof McpCallError) return err;
  if (code === 401 || code === 403 || /\b(401|403)\b.*(unauthori[sz]ed|forbidden)/i.test(message)) {
    return new McpCallError(ErrorType.McpUnauthorized, `${endpoint} refused our credentials: ${message}`, false, { endpoint, status: code });
  }
  if (code === 429) {
    return new McpCallError(ErrorType.RateLimited, `${endpoint} is rate limiting us: ${message}`, true, { endpoint, status: 429 });
  }
  if (code === -32602 || code === -32601) {
    return new McpCallError(ErrorType.McpInvalidParams, message, false, { endpoint });
  }
  if (code === 413 || code === 400) {
    return new McpCallError(ErrorType.McpInvalidParams, `${endpoint} rejected the request: ${message}`, false, { endpoint, status: code });
  }
  // Connection refused/reset, DNS, 5xx, request timeouts: another attempt (or endpoint) may succeed.
  return new McpCallError(ErrorType.ServerUnavailable, `${endpoint} unavailable: ${message}`, true, { endpoint, status: code });
}

/**
 * `Retry-After` in ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or
 * unreadable. Capped at an hour so a hostile header cannot park a step for days.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(3_600_000, Math.max(0, Math.round(ms)));
}
