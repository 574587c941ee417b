/**
 * Keys the orchestrator puts in an MCP request's `_meta` and servers read back. Kept in one place
 * because both sides (src/mcp and src/servers) must agree, and neither may import the other.
 */
export const REQUEST_META = {
  /** Workflow id + step id (+ phase): a server does a side effect once per key. */
  idempotencyKey: 'idempotencyKey',
  /** W3C trace context of the calling activity. */
  traceparent: 'traceparent',
} as const;

/** Keys servers put in a tool result's `_meta`. */
export const RESULT_META = {
  /** Time spent inside the tool handler, in milliseconds, measured by the server. */
  toolTimeMs: 'toolTimeMs',
  /** True when the result was replayed from the idempotency store rather than executed again. */
  replayed: 'replayed',
} as const;
