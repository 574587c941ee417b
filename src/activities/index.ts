import type { McpClientPool } from '../mcp/pool';
import { makeMcpCallTool } from './mcp-call-tool';

export interface ActivityDeps {
  pool: McpClientPool;
}

/** All activities of a group worker, bound to their dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    mcpCallTool: makeMcpCallTool(deps.pool),
  };
}

export type Activities = ReturnType<typeof createActivities>;
