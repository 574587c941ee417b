import { type NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { discoverCapacity, workerConcurrency } from '../mcp/capacity';
import { McpClientPool, type McpClientPoolOptions } from '../mcp/pool';
import { resilienceOf, type Registry } from '../registry/registry';
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
   */
  tokens?: { tokenFor(group: string): Promise<string | undefined>; invalidate(group: string): void };
}

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
  const tokens = opts.tokens;
  const poolOpts: McpClientPoolOptions = { clientName: `mcp-orchestrator/${opts.group}-worker` };
  if (tokens) {
    poolOpts.tokenFor = (group) => tokens.tokenFor(group);
    poolOpts.onUnauthorized = (group) => tokens.invalidate(group);
  }
  const pool = new McpClientPool(opts.registry, poolOpts);
  if (opts.healthChecks !== false) await pool.startHealthChecks([opts.group]);
  let advertisedCapacity: number | undefined;
  let maxConcurrentActivities = opts.maxConcurrentActivities;
  if (maxConcurrentActivities === undefined) {
    // Read once at start: a worker's slot count is fixed for its life (Temporal sets it at creation).
    advertisedCapacity = await discoverCapacity(pool, opts.group);
    const endpoints = opts.registry.groups[opts.group]!.endpoints.length;
    maxConcurrentActivities = workerConcurrency(advertisedCapacity, endpoints, resilienceOf(opts.registry, opts.group).concurrency);
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
  });
  return { worker, pool, maxConcurrentActivities, advertisedCapacity };
}
