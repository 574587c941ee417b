import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Worker, type WorkerInterceptors } from '@temporalio/worker';
import { createActivities } from '../activities';
import { discoverCapacity, workerConcurrency } from '../mcp/capacity';
import { McpClientPool, type McpClientPoolOptions } from '../mcp/pool';
import { groupUsesStackAuth, resilienceOf, type Registry } from '../registry/registry';
import { taskQueueFor } from '../shared/constants';

export interface GroupWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  group: string;
  registry: Registry;
  /**
   * Most tool calls this worker runs at once. Absent: follows the server's advertised capacity
   * (`server_info.limits.maxConcurrent` / `max_concurrent_jobs` …, times the group's endpoints), within
   * the group's `concurrency: { min, max }` (default 2..50); 50 when the server states none.
   */
  maxConcurrentActivities?: number;
  /** Run background health checks of the group's endpoints (`health_check_interval`). @default true */
  healthChecks?: boolean;
  /** Task queue prefix (`MCP_TASK_QUEUE_PREFIX`). @default '' */
  taskQueuePrefix?: string;
  /** Time in-flight calls get to finish on shutdown. @default '30s' */
  shutdownGraceTime?: string;
  /**
   * Bearer tokens for the group's servers (e.g. a kit `McpTokenSource` for client `orchestrator-<group>`).
   * They go into the pool's request headers only, never into activity inputs or results. Absent: no tokens.
   * Ignored for a group none of whose endpoints takes the stack's token (stdio, third-party HTTP).
   */
  tokens?: { tokenFor(group: string): Promise<string | undefined>; invalidate(group: string): void };
  /** Worker interceptors (metrics, tracing). */
  interceptors?: WorkerInterceptors;
  /** The payload codec's converter (src/codec), when history is encrypted. Every client and worker must agree. */
  dataConverter?: DataConverter;
}

/** Concurrent calls per stdio server process when the group sets no `concurrency` bounds that say otherwise. */
const STDIO_DEFAULT_CONCURRENCY = 10;

/**
 * A worker for one server group: polls `mcp-<group>` and runs its MCP tool calls. One process per group
 * keeps a slow or crashing server's calls from starving the others, and lets each group scale alone.
 */
export async function createGroupWorker(
  opts: GroupWorkerOptions,
): Promise<{ worker: Worker; pool: McpClientPool; maxConcurrentActivities: number; advertisedCapacity?: number }> {
  if (!opts.registry.groups[opts.group]) {
    throw new Error(`unknown server group '${opts.group}' (registry has: ${Object.keys(opts.registry.groups).join(', ')})`);
  }
  const group = opts.registry.groups[opts.group]!;
  const tokens = groupUsesStackAuth(opts.registry, opts.group) ? opts.tokens : undefined;
  // Schema hashes let the workflow notice a tool whose contract changed mid-run.
  const poolOpts: McpClientPoolOptions = { clientName: `mcp-orchestrator/${opts.group}-worker`, schemaHashes: true };
  if (tokens) {
    poolOpts.tokenFor = (group) => tokens.tokenFor(group);
    poolOpts.onUnauthorized = (group) => tokens.invalidate(group);
  }
  const pool = new McpClientPool(opts.registry, poolOpts);
  if (opts.healthChecks !== false) await pool.startHealthChecks([opts.group]);
  let advertisedCapacity: number | undefined;
  let maxConcurrentActivities = opts.maxConcurrentActivities;
  if (maxConcurrentActivities === undefined) {
    const endpoints = group.endpoints.length;
    const bounds = resilienceOf(opts.registry, opts.group).concurrency;
    if (group.endpoints.every((e) => e.transport === 'stdio')) {
      // Asking would start the processes, which start on first use; a third-party server rarely
      // advertises a capacity anyway. One process per endpoint multiplexes calls: a modest default.
      maxConcurrentActivities = workerConcurrency(undefined, endpoints, bounds, STDIO_DEFAULT_CONCURRENCY * endpoints);
    } else {
      // Read once at start: a worker's slot count is fixed for its life (Temporal sets it at creation).
      advertisedCapacity = await discoverCapacity(pool, opts.group);
      maxConcurrentActivities = workerConcurrency(advertisedCapacity, endpoints, bounds);
    }
  }
  process.stderr.write(
    `worker mcp-${opts.group}: ${maxConcurrentActivities} concurrent tool calls (server advertises ${advertisedCapacity ?? 'no capacity'})\n`,
  );
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: taskQueueFor(opts.group, opts.taskQueuePrefix),
    activities: createActivities({ pool }),
    maxConcurrentActivityTaskExecutions: maxConcurrentActivities,
    shutdownGraceTime: opts.shutdownGraceTime ?? '30s',
    interceptors: opts.interceptors,
    dataConverter: opts.dataConverter,
  });
  return { worker, pool, maxConcurrentActivities, advertisedCapacity };
}
