import { type NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { orchestratorQueue } from '../shared/constants';

export interface OrchestratorWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** A prebuilt workflow bundle (faster start); built from src/workflows when absent. */
  workflowBundle?: { code: string };
  /** Task queue prefix (`MCP_TASK_QUEUE_PREFIX`). @default '' */
  taskQueuePrefix?: string;
  /** Time in-flight workflow tasks get to finish on shutdown. @default '10s' */
  shutdownGraceTime?: string;
}

/** Path of the workflows module, as TypeScript source or compiled JavaScript, whichever is running. */
export const workflowsPath = require.resolve('../workflows');

/** Bundles the workflow code once (webpack); reuse the result across workers to start faster. */
export function bundleWorkflows(): Promise<{ code: string }> {
  return bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
}

const quietBundlerLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => process.stderr.write(`[bundler] ${m}\n`),
  error: (m: string) => process.stderr.write(`[bundler] ${m}\n`),
  log: () => undefined,
};

/** The worker that hosts `pipelineWorkflow`, the deterministic DAG interpreter. It runs no tool calls. */
export async function createOrchestratorWorker(opts: OrchestratorWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: orchestratorQueue(opts.taskQueuePrefix),
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    shutdownGraceTime: opts.shutdownGraceTime ?? '10s',
  });
}
