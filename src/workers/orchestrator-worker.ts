import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { workflowTracingSinks } from '../observability/tracing/temporal';
import { currentTracing, type Tracing } from '../observability/tracing/setup';
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
  /**
   * Where workflow spans go (the `exporter` sink of the bundled OpenTelemetry interceptors).
   * @default the process's tracing (`installTracing`); spans are dropped when there is none
   */
  tracing?: Tracing;
  /** The payload codec's converter (src/codec), when history is encrypted. Every client and worker must agree. */
  dataConverter?: DataConverter;
}

/** Path of the workflows module, as TypeScript source or compiled JavaScript, whichever is running. */
export const workflowsPath = require.resolve('../workflows');

/** Workflow interceptors (OpenTelemetry spans of the run and its activities), bundled with the workflows. */
export const workflowInterceptorsPath = require.resolve('../workflows/interceptors');

/**
 * Bundles the workflow code and its interceptors once (webpack); reuse the result across workers to
 * start faster. Workers running the bundle must register the tracing sink (`createOrchestratorWorker` does).
 * `tracing: false` leaves the interceptors out, for workers that never trace.
 */
export function bundleWorkflows(opts: { tracing?: boolean } = {}): Promise<{ code: string }> {
  return bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: opts.tracing === false ? [] : [workflowInterceptorsPath], logger: quietBundlerLogger });
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
  const tracing = opts.tracing ?? currentTracing();
  // With tracing off (`MCP_TRACING=off`) the workflow runs without its interceptors: their spans and
  // promises cost CPU in every workflow task (200 concurrent runs: 73 → 99 steps/s, bench/results).
  const workflowModules = tracing && !tracing.enabled ? [] : [workflowInterceptorsPath];
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: orchestratorQueue(opts.taskQueuePrefix),
    // A prebuilt bundle already carries the interceptors (`bundleWorkflows`).
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath, interceptors: { workflowModules } }),
    sinks: workflowTracingSinks(tracing),
    shutdownGraceTime: opts.shutdownGraceTime ?? '10s',
    dataConverter: opts.dataConverter,
  });
}
