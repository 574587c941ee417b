/** Names shared by the workflow, the workers and the CLI. Pure: no side effects. */

/** The server groups of the stack, each with its own task queue and worker. */
export const SERVER_GROUPS = ['data', 'compute', 'storage', 'integration', 'security', 'notification'] as const;
export type KnownServerGroup = (typeof SERVER_GROUPS)[number];

/** Default local ports of the MCP servers. */
export const DEFAULT_PORTS: Record<KnownServerGroup, number> = {
  data: 8001,
  compute: 8002,
  storage: 8003,
  integration: 8004,
  security: 8005,
  notification: 8006,
};

/** Task queue that hosts `pipelineWorkflow`. */
export const ORCHESTRATOR_TASK_QUEUE = 'orchestrator';

/**
 * Task queue of a server group's worker: `mcp-<group>`. An optional prefix (`MCP_TASK_QUEUE_PREFIX`)
 * lets several stacks (or test suites) share one Temporal namespace without taking each other's tasks.
 */
export function taskQueueFor(group: string, prefix = ''): string {
  return `${prefix}mcp-${group}`;
}

/** Task queue of the orchestrator worker, with the same optional prefix. */
export function orchestratorQueue(prefix = ''): string {
  return `${prefix}${ORCHESTRATOR_TASK_QUEUE}`;
}

/** Workflow type name of the DAG interpreter. */
export const PIPELINE_WORKFLOW = 'pipelineWorkflow';

/** Signal, query and update names (the workflow defines them from these). */
export const SIGNALS = {
  pause: 'pause',
  resume: 'resume',
  trainingCompleted: 'trainingCompleted',
} as const;

export const QUERIES = {
  progress: 'progress',
} as const;

/** Temporal Web UI of the local dev server. */
export const DEFAULT_UI_PORT = 8233;
export const DEFAULT_TEMPORAL_PORT = 7233;
