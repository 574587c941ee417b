import type { McpClientPool } from './pool';

/** Keys under `server_info.limits` that state how many calls a server runs at once, most specific first. */
const CAPACITY_KEYS = ['maxConcurrent', 'max_concurrent', 'maxConcurrentJobs', 'max_concurrent_jobs', 'maxConcurrentCrypto', 'maxConcurrentSmtp'] as const;

/** Bounds on a group worker's concurrency. */
export interface ConcurrencyBounds {
  /** Least concurrency, so quick reads are not queued behind a long job. @default 2 */
  min?: number;
  /** Most concurrency. @default 50 */
  max?: number;
}

/** The capacity a server advertises in `server_info.limits`, or undefined when it states none. */
export function advertisedCapacity(info: unknown): number | undefined {
  const limits = (info as { limits?: unknown } | undefined)?.limits;
  if (!limits || typeof limits !== 'object') return undefined;
  for (const k of CAPACITY_KEYS) {
    const v = (limits as Record<string, unknown>)[k];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 1) return Math.floor(v);
  }
  return undefined;
}

/**
 * Worker concurrency for a group: the server's advertised capacity times its endpoints (replicas
 * share the load), clamped to the bounds; `fallback` (clamped too) when nothing is advertised.
 */
export function workerConcurrency(capacity: number | undefined, endpoints: number, bounds: ConcurrencyBounds = {}, fallback = 50): number {
  const min = bounds.min ?? 2;
  const max = Math.max(min, bounds.max ?? 50);
  const wanted = capacity === undefined ? fallback : capacity * Math.max(1, endpoints);
  return Math.min(max, Math.max(min, wanted));
}

/** Asks the group's server for `server_info` and reads its capacity; undefined when it cannot tell. */
export async function discoverCapacity(pool: McpClientPool, group: string, timeoutMs = 5000): Promise<number | undefined> {
  try {
    const { result } = await pool.callTool(group, 'server_info', {}, { timeoutMs });
    return result.isError ? undefined : advertisedCapacity(result.structuredContent);
  } catch {
    return undefined;
  }
}
