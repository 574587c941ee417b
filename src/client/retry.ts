import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { McpCallInput, McpCallOutput, PipelineWorkflowInput, ResumeSeed } from '../shared/run-types';

const EventType = temporal.api.enums.v1.EventType;

export interface RetryPlan {
  input: PipelineWorkflowInput;
  /** Steps whose results are reused. */
  reused: string[];
  /** Steps that completed but were compensated, so they run again. */
  undone: string[];
  status: string;
}

/**
 * Prepares `mcp-orch retry`: reads the failed run's own history and seeds a new run with the results of
 * the steps that completed and were not compensated (their effects still stand). Compensated steps,
 * wait steps and everything after the failure run again. A new run, rather than a Temporal reset,
 * keeps the failed run's history intact for the post-mortem and works for runs that already closed.
 */
export async function prepareRetry(client: Client, workflowId: string): Promise<RetryPlan> {
  const handle = client.workflow.getHandle(workflowId);
  const desc = await handle.describe();
  const history = await handle.fetchHistory();
  const conv = client.options.loadedDataConverter.payloadConverter;
  const events = history.events ?? [];
  const started = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  const firstInput = started?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!firstInput) throw new Error(`run '${workflowId}' has no recorded input`);
  const original = conv.fromPayload<PipelineWorkflowInput>(firstInput);

  const scheduled = new Map<string, McpCallInput>();
  const completed = new Map<string, McpCallOutput>();
  for (const e of events) {
    const id = String(e.eventId);
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
      const p = e.activityTaskScheduledEventAttributes?.input?.payloads?.[0];
      if (p) scheduled.set(id, conv.fromPayload<McpCallInput>(p));
    } else if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const a = e.activityTaskCompletedEventAttributes!;
      const p = a.result?.payloads?.[0];
      if (p) completed.set(String(a.scheduledEventId), conv.fromPayload<McpCallOutput>(p));
    }
  }
  const steps: ResumeSeed['steps'] = {};
  const compensated = new Set<string>();
  for (const [schedId, call] of scheduled) {
    const out = completed.get(schedId);
    if (!out) continue;
    if (call.idempotencyKey === `${workflowId}/${call.stepId.replace(/\.compensate$/, '')}/compensate`) {
      compensated.add(call.stepId.replace(/\.compensate$/, ''));
    } else if (call.idempotencyKey === `${workflowId}/${call.stepId}` && original.plan.steps[call.stepId]?.kind !== 'wait') {
      steps[call.stepId] = { result: out.result, toolTimeMs: out.toolTimeMs, callMs: out.callMs, attempt: out.attempt, endpoint: out.endpoint, bytes: out.bytes };
    }
  }
  // Carried-over results from an earlier retry are in this run's input, not in its activities.
  for (const [id, seed] of Object.entries(original.resume?.steps ?? {})) if (!steps[id]) steps[id] = seed;
  for (const id of compensated) delete steps[id];
  return {
    input: { ...original, resume: { fromWorkflowId: workflowId, steps } },
    reused: Object.keys(steps),
    undone: [...compensated],
    status: desc.status.name,
  };
}
