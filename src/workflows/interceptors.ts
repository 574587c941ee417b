/**
 * Workflow interceptors bundled with the workflow code (see `bundleWorkflows` in
 * src/workers/orchestrator-worker.ts): OpenTelemetry spans for the run (`RunWorkflow:<type>`), each
 * activity it schedules (`StartActivity:<type>`, whose context travels to the activity in its
 * headers) and signals. Spans leave the sandbox through the `exporter` sink the orchestrator worker
 * registers (src/observability/tracing/temporal.ts).
 *
 * The one import beyond @temporalio/workflow: Temporal's own workflow-side interceptor package, which
 * the bundler rewires to the sandbox's APIs, so it stays deterministic.
 */
import type { Next, QueryInput, WorkflowInboundCallsInterceptor, WorkflowInterceptors } from '@temporalio/workflow';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';

/** Leaves queries untraced: the CLI polls progress several times a second. */
class RunInboundInterceptor extends OpenTelemetryInboundInterceptor {
  override handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>): Promise<unknown> {
    return next(input);
  }
}

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new RunInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
