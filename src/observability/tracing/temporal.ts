import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Next, WorkflowClientInterceptor, WorkflowDescribeInput, WorkflowQueryInput } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import { primitiveAttributes } from './file-exporter';
import { currentTracing, type Tracing } from './setup';

/**
 * Traces starts, signals, updates, cancels and terminations, but not queries or describes: `mcp-orch
 * run`/`watch` poll the progress query several times a second, and a trace per poll would bury the run's
 * own trace.
 */
class RunTracingClientInterceptor extends OpenTelemetryWorkflowClientInterceptor {
  override query(input: WorkflowQueryInput, next: Next<WorkflowClientInterceptor, 'query'>): Promise<unknown> {
    return next(input);
  }
  override describe(input: WorkflowDescribeInput, next: Next<WorkflowClientInterceptor, 'describe'>): ReturnType<OpenTelemetryWorkflowClientInterceptor['describe']> {
    return next(input);
  }
}

/**
 * Client interceptors that open a `StartWorkflow:<type>` span and pass its context to the workflow in
 * the start headers: the root of a run's trace. Empty when tracing is off or not installed.
 * Use: `new Client({ connection, namespace, interceptors: { workflow: clientTracingInterceptors() } })`.
 */
export function clientTracingInterceptors(tracing: Tracing | undefined = currentTracing()): WorkflowClientInterceptor[] {
  return tracing?.enabled ? [new RunTracingClientInterceptor({ tracer: tracing.tracer })] : [];
}

/**
 * Activity interceptors that open a `RunActivity:<type>` span, a child of the workflow's
 * `StartActivity` span (context from the activity headers), active while the activity runs; the
 * outbound one adds `trace_id`/`span_id` to the activity's Temporal log lines. Empty when off.
 * Use: `Worker.create({ …, interceptors: { activity: activityTracingInterceptors() } })`.
 */
export function activityTracingInterceptors(tracing: Tracing | undefined = currentTracing()): ActivityInterceptorsFactory[] {
  if (!tracing?.enabled) return [];
  const tracer = tracing.tracer;
  return [
    (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
  ];
}

/**
 * Drops non-primitive attributes before export: the SDK's sink merges the whole `WorkflowInfo`
 * (memo, search attributes, dates) into every workflow span.
 */
class PrimitiveAttributesProcessor implements SpanProcessor {
  constructor(private readonly inner: SpanProcessor) {}
  onStart(): void {
    // Workflow spans arrive finished.
  }
  onEnd(span: ReadableSpan): void {
    this.inner.onEnd({ ...span, spanContext: () => span.spanContext(), attributes: primitiveAttributes(span.attributes) as Attributes });
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/**
 * The `exporter` sink the workflow interceptors (src/workflows/interceptors.ts) send their spans to,
 * from the sandbox to this process's exporters. A no-op sink when tracing is off, so a bundle that
 * carries the interceptors never calls an unregistered sink. Not called during replay.
 */
export function workflowTracingSinks(tracing: Tracing | undefined = currentTracing()): InjectedSinks<OpenTelemetrySinks> {
  if (!tracing?.enabled) return { exporter: { export: { fn: () => undefined } } };
  return { exporter: makeWorkflowExporter(new PrimitiveAttributesProcessor(tracing.spanProcessor), tracing.resource) };
}
