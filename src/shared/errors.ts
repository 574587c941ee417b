/**
 * `ApplicationFailure` types raised by the orchestrator. Retryable ones are transient; everything
 * else fails the step at once (no retry storm on a bad query or a bad token).
 */
export const ErrorType = {
  /** The tool ran and returned `isError: true` (e.g. invalid SQL). */
  McpToolError: 'McpToolError',
  /** The server rejected the arguments (JSON-RPC -32602) or the tool does not exist. */
  McpInvalidParams: 'McpInvalidParams',
  /** Missing or refused credentials (HTTP 401/403). */
  McpUnauthorized: 'McpUnauthorized',
  /** No endpoint of the group answered (connection refused, reset, 5xx, timeout). Retryable. */
  ServerUnavailable: 'ServerUnavailable',
  /** Every endpoint's circuit breaker is open. Retryable after backoff. */
  CircuitOpen: 'CircuitOpen',
  /** The server asked us to slow down (HTTP 429). Retryable after its Retry-After. */
  RateLimited: 'RateLimited',
  /** The tool's result is larger than results may be (they travel by reference). */
  ResultTooLarge: 'ResultTooLarge',
  /** The pipeline spec or plan is invalid. */
  InvalidPipeline: 'InvalidPipeline',
  /** A `${...}` reference could not be resolved at run time. */
  UnresolvedReference: 'UnresolvedReference',
  /** A step that waits for a signal gave up. */
  WaitTimedOut: 'WaitTimedOut',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

/** Types that must not be retried by Temporal. */
export const NON_RETRYABLE_ERROR_TYPES: readonly ErrorType[] = [
  ErrorType.McpToolError,
  ErrorType.McpInvalidParams,
  ErrorType.McpUnauthorized,
  ErrorType.ResultTooLarge,
  ErrorType.InvalidPipeline,
  ErrorType.UnresolvedReference,
];
