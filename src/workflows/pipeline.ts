import {
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  proxyActivities,
  setDefaultSignalHandler,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  ActivityFailure,
  CancelledFailure,
  type ActivityOptions,
} from '@temporalio/workflow';
import { taskQueueFor, QUERIES, SIGNALS } from '../shared/constants';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../shared/errors';
import { DEFAULT_MAX_IN_FLIGHT, isPackedPlan, packPlan, unpackPlan, type PlannedStep, type RetryPolicyMs, type TimeoutsMs } from '../shared/plan';
import { resolveRefs, UnresolvedReferenceError } from '../shared/refs';
import type { McpCallOutput, PipelineWorkflowInput, RunProgress, RunReport } from '../shared/run-types';
import type { Activities } from '../activities';
import { RunState } from './run-state';
import { runWait, type ReceivedSignal } from './wait-step';

export const pauseSignal = defineSignal(SIGNALS.pause);
export const resumeSignal = defineSignal(SIGNALS.resume);
export const progressQuery = defineQuery<RunProgress>(QUERIES.progress);

function activityOptions(prefix: string, server: string, tool: string, retry: RetryPolicyMs, timeouts: TimeoutsMs, what?: string): ActivityOptions {
  return {
    taskQueue: taskQueueFor(server, prefix),
    // Web UI shows this beside each activity, so history reads like the pipeline.
    summary: what ? `${server}/${tool} — ${what}` : `${server}/${tool}`,
    startToCloseTimeout: timeouts.startToCloseMs,
    scheduleToCloseTimeout: timeouts.scheduleToCloseMs,
    heartbeatTimeout: timeouts.heartbeatMs,
    retry: {
      maximumAttempts: retry.maximumAttempts,
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: retry.maximumIntervalMs,
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES, ...retry.nonRetryableErrorTypes],
    },
  };
}

function callTool(opts: ActivityOptions) {
  return proxyActivities<Activities>(opts).mcpCallTool;
}

/** The failure's own type and message, looking through Temporal's ActivityFailure wrapper. */
function describeError(err: unknown): { type?: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? undefined, message: cause.message };
  if (cause instanceof UnresolvedReferenceError) return { type: ErrorType.UnresolvedReference, message: cause.message };
  if (cause instanceof Error) return { type: cause.name, message: cause.message };
  return { message: String(cause) };
}

/**
 * Records how the run ended in the `McpOutcome` search attribute, so Web UI can filter on it. Only when
 * the run was started with our attributes: upserting one the namespace lacks would fail the workflow task.
 */
function recordOutcome(outcome: 'completed' | 'failed' | 'cancelled'): void {
  if (workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.pipeline) === undefined) return;
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.outcome, value: outcome }]);
}

/** Events a step may add to history: activity scheduled, started, completed, plus the workflow task it wakes. */
const EVENTS_PER_STEP = 6;
/** Kept free for the last workflow task, the final commands and signals arriving meanwhile. */
const HISTORY_RESERVE = 60;
/** Temporal suggests continue-as-new from 4,096 events; stay under it with the reserve. */
export const DEFAULT_MAX_HISTORY_EVENTS = 4000;

/**
 * Runs a planned pipeline: each step starts as soon as its needs are done (not level by level), as an
 * MCP tool-call activity on its server group's task queue. Pause/resume hold back new steps; a failure
 * or a cancellation stops scheduling, lets running steps settle, and runs the compensations of
 * completed steps in reverse completion order (saga).
 *
 * One scheduler loop starts every newly ready step in the same workflow task (no per-step wake-ups), at
 * most `maxInFlight` at once (Temporal allows 2,000 pending activities per workflow). Before the history
 * would pass `maxHistoryEvents`, it stops starting steps, lets the running ones finish and continues as
 * new, carrying compact records of finished steps and only the results still referenced.
 */
export async function pipelineWorkflow(input: PipelineWorkflowInput): Promise<RunReport> {
  const { taskQueuePrefix = '', resume, continued } = input;
  const plan = isPackedPlan(input.plan) ? unpackPlan(input.plan) : input.plan;
  const maxInFlight = Math.max(1, input.maxInFlight ?? plan.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  const maxHistoryEvents = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const { workflowId } = workflowInfo();
  const state = new RunState(plan, workflowId, Date.now());
  const progress = state.progress;
  if (continued) state.restore(continued);
  // A retry starts with the failed run's completed steps already done, without calling their tools.
  else if (resume) state.seed(resume.fromWorkflowId, resume.steps, Date.now());

  // Wakes the scheduler: a step finished, or pause/resume/cancel changed what it may do.
  let changes = 0;
  setHandler(progressQuery, () => state.snapshot(workflowInfo().historyLength));
  setHandler(pauseSignal, () => {
    progress.paused = true;
    if (progress.status === 'running') progress.status = 'paused';
    changes++;
  });
  setHandler(resumeSignal, () => {
    progress.paused = false;
    if (progress.status === 'paused') progress.status = 'running';
    changes++;
  });

  // Any other signal (e.g. trainingCompleted from a webhook) is kept for the wait steps.
  const received: ReceivedSignal[] = [...(continued?.received ?? [])];
  setDefaultSignalHandler((name, ...args) => {
    received.push({ name, payload: args[0] });
  });

  let cancelled = false;
  const runStep = async (step: PlannedStep): Promise<void> => {
    const startedAt = Date.now();
    state.start(step.id, startedAt);
    const ctx = { input: plan.input, results: state.results, workflow: { id: workflowId } };
    try {
      let out: McpCallOutput;
      if (step.kind === 'wait' && step.wait) {
        let n = 0;
        const outcome = await runWait(
          step.wait,
          { match: resolveRefs(step.wait.match, ctx), pollArgs: step.wait.poll ? resolveRefs(step.wait.poll.args, ctx) : undefined },
          received,
          (call) =>
            callTool(activityOptions(taskQueuePrefix, call.server, call.tool, step.retry, step.timeouts, `status check for ${step.id}`))({
              ...call,
              idempotencyKey: `${workflowId}/${step.id}/poll-${++n}`,
              workflowId,
              stepId: step.id,
            }),
        );
        // The wait's duration is the work being waited for (e.g. training), so it counts as tool time.
        out = { result: outcome, toolTimeMs: Date.now() - startedAt, callMs: Date.now() - startedAt, attempt: 1, endpoint: `signal:${step.wait.signal}`, replayed: false, bytes: 0 };
      } else {
        out = await callTool(activityOptions(taskQueuePrefix, step.server, step.tool, step.retry, step.timeouts, step.description))({
          server: step.server,
          tool: step.tool,
          args: resolveRefs(step.args, ctx),
          idempotencyKey: `${workflowId}/${step.id}`,
          workflowId,
          stepId: step.id,
        });
      }
      state.complete(step.id, out, Date.now());
    } catch (err) {
      state.fail(step.id, describeError(err), Date.now(), isCancellation(err));
      if (isCancellation(err)) cancelled = true;
    }
  };

  let inFlight = 0;
  let startedHere = 0;
  let historyFull = false;
  const launch = (id: string) => {
    inFlight++;
    startedHere++;
    void runStep(plan.steps[id]!).finally(() => {
      inFlight--;
      changes++;
    });
  };
  // Would one more step risk passing the history budget once everything in flight has finished?
  const roomForOneMore = () => {
    const { historyLength, continueAsNewSuggested } = workflowInfo();
    if (startedHere === 0) return true; // each run makes progress, whatever the budget
    return !continueAsNewSuggested && historyLength + (inFlight + 1) * EVENTS_PER_STEP + HISTORY_RESERVE <= maxHistoryEvents;
  };

  try {
    for (;;) {
      if (!state.failed && !cancelled && !progress.paused && !historyFull) {
        for (let id = state.nextReady(); id !== undefined; id = state.nextReady()) {
          if (inFlight >= maxInFlight) {
            state.unshiftReady();
            break;
          }
          if (!roomForOneMore()) {
            state.unshiftReady();
            historyFull = true;
            break;
          }
          launch(id);
        }
      }
      if (inFlight === 0 && (state.failed || cancelled || historyFull || state.remaining === 0)) break;
      const seen = changes;
      await condition(() => changes !== seen);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true;
    // Running steps see the cancellation too; their outcomes are recorded before compensating.
    await CancellationScope.nonCancellable(() => condition(() => inFlight === 0));
  }

  if (!state.failed && !cancelled && state.remaining > 0) {
    // A safe point: nothing in flight. The next run starts where this one stopped.
    // This task's WorkflowTaskCompleted and the ContinuedAsNew event end the history.
    const events = workflowInfo().historyLength + 2;
    await continueAsNew<typeof pipelineWorkflow>({
      ...input,
      plan: isPackedPlan(input.plan) ? input.plan : packPlan(plan),
      resume: undefined,
      continued: state.continuation(received, { runId: workflowInfo().runId, events, steps: state.finishedHere }),
    });
  }
  state.skipRemaining();

  if (state.failed || cancelled) {
    // `onFailure: keep` leaves completed steps in place for `mcp-orch retry`; a cancellation always undoes.
    if (cancelled || plan.onFailure !== 'keep') {
      progress.status = 'compensating';
      // Compensations must run to the end even when the run itself is being cancelled.
      await CancellationScope.nonCancellable(() => compensate(state, workflowId, taskQueuePrefix));
    }
    progress.endedAt = Date.now();
    if (cancelled) {
      progress.status = 'cancelled';
      recordOutcome('cancelled');
      // Ends the run as Cancelled (not Failed) in Temporal.
      throw new CancelledFailure('pipeline run cancelled; completed steps were compensated');
    }
    progress.status = 'failed';
    recordOutcome('failed');
    const e = progress.error!;
    throw ApplicationFailure.create({
      type: 'PipelineFailed',
      nonRetryable: true,
      message: `step '${e.stepId}' failed${e.type ? ` (${e.type})` : ''}: ${e.message}`,
      details: [state.snapshot(workflowInfo().historyLength)],
    });
  }
  progress.status = 'completed';
  progress.endedAt = Date.now();
  recordOutcome('completed');
  const { results, omitted } = state.reportResults();
  return { ...state.snapshot(workflowInfo().historyLength), results, ...(omitted > 0 ? { resultsOmitted: omitted } : {}) };
}

/** Runs compensations of completed steps, latest first, one at a time. Each is retried by Temporal and idempotent by key. */
async function compensate(state: RunState, workflowId: string, prefix: string): Promise<void> {
  for (const id of state.compensable()) {
    const step = state.plan.steps[id]!;
    const comp = step.compensate!;
    const record = (state.step(id).compensation = { status: 'running' as const, startedAt: Date.now() });
    try {
      const args = resolveRefs(comp.args, { input: state.plan.input, results: state.results, workflow: { id: workflowId } });
      await callTool(activityOptions(prefix, comp.server, comp.tool, { ...step.retry, maximumAttempts: Math.max(step.retry.maximumAttempts, 5) }, step.timeouts, `undo ${id}`))({
        server: comp.server,
        tool: comp.tool,
        args,
        idempotencyKey: `${workflowId}/${id}/compensate`,
        workflowId,
        stepId: `${id}.compensate`,
      });
      Object.assign(record, { status: 'done', endedAt: Date.now() });
      state.step(id).status = 'compensated';
    } catch (err) {
      Object.assign(record, { status: 'failed', endedAt: Date.now(), error: describeError(err).message });
      state.step(id).status = 'compensation_failed';
    }
  }
}
