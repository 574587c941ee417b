import path from 'node:path';
import { context, propagation, trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import { AlwaysOffSampler, BasicTracerProvider, BatchSpanProcessor, NoopSpanProcessor, SimpleSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { AsyncLocalStorageContextManager } from './context-manager';
import { JsonLinesSpanExporter } from './file-exporter';

export interface TracingOptions {
  /** `service.name` of the spans, and the file name: `<dir>/<service>.jsonl`. */
  service: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Where span files go. @default `MCP_TRACE_DIR`, else `$MCP_DATA_ROOT/traces` (`.data/traces`) */
  dir?: string;
}

/** A process's tracing: the tracer, and what the Temporal worker's workflow sink needs. */
export interface Tracing {
  /** False when `MCP_TRACING=off`: the tracer is a no-op and nothing is written. */
  enabled: boolean;
  service: string;
  tracer: Tracer;
  provider: TracerProvider;
  /** All exports (file, OTLP) behind one processor; the workflow span sink feeds it too. */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** The JSON-lines file spans are appended to, when enabled. */
  file?: string;
  /** OTLP endpoint spans are sent to as well, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. */
  otlpEndpoint?: string;
  /** Sends what the OTLP batch holds (the file is written synchronously). */
  forceFlush(): Promise<void>;
  /** Flushes and closes the exporters; call before the process exits. */
  shutdown(): Promise<void>;
}

/** Tracing is on unless `MCP_TRACING` is `off` (or `0`/`false`). */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return !['off', '0', 'false', 'no'].includes((env.MCP_TRACING ?? '').trim().toLowerCase());
}

/** Directory of the span files: `MCP_TRACE_DIR`, else `$MCP_DATA_ROOT/traces` (`./.data/traces`). */
export function traceDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MCP_TRACE_DIR || path.join(env.MCP_DATA_ROOT || path.resolve('.data'), 'traces');
}

/** A file name made of the service name, safe on any file system. */
function fileNameOf(service: string): string {
  const safe = service.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_');
  if (!safe) throw new Error('tracing: the service name is empty; it names the span file');
  return `${safe}.jsonl`;
}

/** Fans a span out to several processors (file, OTLP). */
class FanOutProcessor implements SpanProcessor {
  constructor(private readonly processors: SpanProcessor[]) {}
  onStart(...args: Parameters<SpanProcessor['onStart']>): void {
    for (const p of this.processors) p.onStart(...args);
  }
  onEnd(...args: Parameters<SpanProcessor['onEnd']>): void {
    for (const p of this.processors) p.onEnd(...args);
  }
  async forceFlush(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.forceFlush()));
  }
  async shutdown(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.shutdown()));
  }
}

/**
 * Builds a tracer provider for one service WITHOUT making it the process's global one: spans go to
 * `<dir>/<service>.jsonl` and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, to OTLP/HTTP. Tests use it
 * to give several in-process components their own service names; entry points use `installTracing`.
 */
export function createTracing(opts: TracingOptions): Tracing {
  const env = opts.env ?? process.env;
  const resource = new Resource({ [ATTR_SERVICE_NAME]: opts.service });
  if (!tracingEnabled(env)) {
    const spanProcessor = new NoopSpanProcessor();
    const off = new BasicTracerProvider({ resource, sampler: new AlwaysOffSampler() });
    return {
      enabled: false,
      service: opts.service,
      // Spans are never sampled: context still flows, nothing is recorded or written.
      tracer: off.getTracer('mcp-orchestrator'),
      provider: off,
      spanProcessor,
      resource,
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
  }
  const file = path.join(opts.dir ?? traceDir(env), fileNameOf(opts.service));
  const processors: SpanProcessor[] = [new SimpleSpanProcessor(new JsonLinesSpanExporter(file))];
  const otlpEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
  if (otlpEndpoint) {
    // Loaded only when configured: the OTLP exporter pulls in protobuf and HTTP agents.
    // eslint-disable-next-line @typescript-eslint/consistent-type-imports
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    // Without `url` the exporter follows the OTEL_EXPORTER_OTLP_* variables itself (path /v1/traces).
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }
  const spanProcessor = processors.length === 1 ? processors[0]! : new FanOutProcessor(processors);
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  return {
    enabled: true,
    service: opts.service,
    tracer: provider.getTracer('mcp-orchestrator'),
    provider,
    spanProcessor,
    resource,
    file,
    otlpEndpoint,
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

let installed: Tracing | undefined;

/**
 * Sets up the process's tracing once: `createTracing`, plus the global OpenTelemetry context manager
 * (AsyncLocalStorage), W3C propagators and tracer provider that Temporal's interceptors and the MCP
 * kit use. Later calls return the first result. With `MCP_TRACING=off` nothing global is touched.
 */
export function installTracing(opts: TracingOptions): Tracing {
  if (installed) return installed;
  const tracing = createTracing(opts);
  if (tracing.enabled) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
    trace.setGlobalTracerProvider(tracing.provider);
  }
  installed = tracing;
  return tracing;
}

/** The tracing `installTracing` set up in this process, if any. */
export function currentTracing(): Tracing | undefined {
  return installed;
}

/** Flushes and closes the process's tracing (entry points call it on the way out). */
export async function shutdownTracing(): Promise<void> {
  const t = installed;
  if (!t) return;
  await t.shutdown();
}
