import fs from 'node:fs';
import path from 'node:path';
import { SpanKind, SpanStatusCode, type Attributes, type HrTime } from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** One span as a line of `<service>.jsonl`: what `read.ts` reads back. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** `service.name` of the process that recorded the span. */
  service: string;
  /** ISO-8601 start and end times. */
  start: string;
  end: string;
  durationMs: number;
  attributes: Record<string, string | number | boolean | Array<string | number | boolean>>;
  status: { code: 'unset' | 'ok' | 'error'; message?: string };
  events?: Array<{ name: string; time: string; attributes?: SpanRecord['attributes'] }>;
}

const KINDS: Record<SpanKind, SpanRecord['kind']> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

const STATUS: Record<SpanStatusCode, SpanRecord['status']['code']> = {
  [SpanStatusCode.UNSET]: 'unset',
  [SpanStatusCode.OK]: 'ok',
  [SpanStatusCode.ERROR]: 'error',
};

/**
 * Keeps primitive attribute values (and arrays of them), as the OpenTelemetry spec asks. Workflow
 * spans arrive with the whole `WorkflowInfo` merged in by the SDK's sink; its nested objects (memo,
 * search attributes, dates) would only bloat the file.
 */
export function primitiveAttributes(attrs: Attributes | undefined): SpanRecord['attributes'] {
  const out: SpanRecord['attributes'] = {};
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) out[k] = v as Array<string | number | boolean>;
  }
  return out;
}

function iso(t: HrTime): string {
  return new Date(hrTimeToMilliseconds(t)).toISOString();
}

/** Converts a finished span into its JSON-lines record. */
export function toSpanRecord(span: ReadableSpan): SpanRecord {
  const ctx = span.spanContext();
  const record: SpanRecord = {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    name: span.name,
    kind: KINDS[span.kind] ?? 'internal',
    service: String(span.resource?.attributes['service.name'] ?? 'unknown'),
    start: iso(span.startTime),
    end: iso(span.endTime),
    durationMs: Math.round(hrTimeToMilliseconds(span.duration) * 1000) / 1000,
    attributes: primitiveAttributes(span.attributes),
    status: { code: STATUS[span.status.code] ?? 'unset', ...(span.status.message ? { message: span.status.message } : {}) },
  };
  if (span.parentSpanId) record.parentSpanId = span.parentSpanId;
  if (span.events.length > 0) {
    record.events = span.events.map((e) => ({ name: e.name, time: iso(e.time), ...(e.attributes ? { attributes: primitiveAttributes(e.attributes) } : {}) }));
  }
  return record;
}

/**
 * Appends finished spans to a JSON-lines file, one span per line. Writes are synchronous and
 * unbuffered: a worker killed with SIGKILL (chaos tests do it) keeps every span it had ended, and
 * a short-lived CLI needs no flush before it exits. A span is a few hundred bytes; a step makes ~4.
 */
export class JsonLinesSpanExporter implements SpanExporter {
  private fd: number | undefined;
  private failed = false;

  constructor(readonly file: string) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.failed) return done({ code: ExportResultCode.FAILED });
    try {
      if (this.fd === undefined) {
        fs.mkdirSync(path.dirname(this.file), { recursive: true });
        this.fd = fs.openSync(this.file, 'a');
      }
      fs.writeSync(this.fd, spans.map((s) => JSON.stringify(toSpanRecord(s)) + '\n').join(''));
      done({ code: ExportResultCode.SUCCESS });
    } catch (err) {
      // Tracing must never take a worker down: say so once, then stop trying.
      this.failed = true;
      process.stderr.write(`tracing: cannot write ${this.file} (${err instanceof Error ? err.message : String(err)}); file export disabled\n`);
      done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  async forceFlush(): Promise<void> {
    // Every export is already on disk.
  }

  async shutdown(): Promise<void> {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
