import { context as otelContext, propagation, ROOT_CONTEXT, type Context, type TextMapGetter } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * Baggage keys naming the run and step a call belongs to. They travel beside `traceparent` in the MCP
 * request `_meta`, so a server's log lines carry them even when the server records no spans.
 */
export const RUN_BAGGAGE = { runId: 'mcp.run_id', stepId: 'mcp.step_id' } as const;

/**
 * W3C trace context + baggage. Used explicitly rather than through the global API, so `_meta` works
 * the same whether or not the process installed a tracer provider.
 */
const propagator = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });

/** Reads string fields only: `_meta` comes from the network and may hold anything. */
const metaGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key];
    return typeof v === 'string' ? v : undefined;
  },
};

/**
 * Writes the W3C `traceparent` (and `tracestate`) of the active span, and the run/step ids as
 * `baggage`, into an MCP request's `_meta`. Without an active span only the baggage is written.
 */
export function injectTraceMeta(meta: Record<string, unknown>, ids?: { runId?: string; stepId?: string }, ctx: Context = otelContext.active()): Record<string, unknown> {
  let c = ctx;
  if (ids && (ids.runId || ids.stepId)) {
    const entries: Record<string, { value: string }> = {};
    for (const [k, v] of propagation.getBaggage(ctx)?.getAllEntries() ?? []) entries[k] = { value: v.value };
    if (ids.runId) entries[RUN_BAGGAGE.runId] = { value: ids.runId };
    if (ids.stepId) entries[RUN_BAGGAGE.stepId] = { value: ids.stepId };
    c = propagation.setBaggage(ctx, propagation.createBaggage(entries));
  }
  propagator.inject(c, meta, { set: (carrier, key, value) => (carrier[key] = value) });
  return meta;
}

/** The caller's trace context and run/step ids from an MCP request's `_meta`. */
export function extractTraceMeta(meta: Record<string, unknown> | undefined): { context: Context; runId?: string; stepId?: string } {
  if (!meta) return { context: ROOT_CONTEXT };
  const context = propagator.extract(ROOT_CONTEXT, meta, metaGetter);
  const baggage = propagation.getBaggage(context);
  return {
    context,
    runId: baggage?.getEntry(RUN_BAGGAGE.runId)?.value,
    stepId: baggage?.getEntry(RUN_BAGGAGE.stepId)?.value,
  };
}
