import type { McpClientPool } from '../mcp/pool';
import type { Log } from '../observability/logging/logger';
import { makeMcpCallTool } from './mcp-call-tool';

export interface ActivityDeps {
  pool: McpClientPool;
  /** Where step log lines go (each carries runId and stepId). @default the process's logger */
  log?: Log;
}

/** All activities of a group worker, bound to their dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    mcpCallTool: makeMcpCallTool(deps.pool, deps.log),
  };
}

export type Activities = ReturnType<typeof createActivities>;
