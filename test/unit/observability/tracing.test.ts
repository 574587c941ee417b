import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { SpanRecord } from '../../../src/observability/tracing/file-exporter';
import { extractTraceMeta, injectTraceMeta } from '../../../src/observability/tracing/propagation';
import { buildTree, formatTrace, readTrace } from '../../../src/observability/tracing/read';
import { createTracing, tracingEnabled } from '../../../src/observability/tracing/setup';

function readLines(file: string): SpanRecord[] {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as SpanRecord);
}

describe('span file exporter', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracing-unit-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('when spans end, then each is one JSON line in <dir>/<service>.jsonl with ids, parent, service, times, attributes and status', async () => {
    const t = createTracing({ service: 'data-worker', dir, env: {} });
    const parent = t.tracer.startSpan('parent', { kind: SpanKind.CLIENT, attributes: { 'mcp.step_id': 'extract', n: 3, nested: { a: 1 } as never } });
    const child = t.tracer.startSpan('child', { kind: SpanKind.SERVER }, trace.setSpan(context.active(), parent));
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    child.addEvent('retry', { attempt: 2 });
    child.end();
    parent.end();
    await t.shutdown();

    expect(t.file).toBe(path.join(dir, 'data-worker.jsonl'));
    const [c, p] = readLines(t.file!);
    expect(p).toMatchObject({ name: 'parent', kind: 'client', service: 'data-worker', attributes: { 'mcp.step_id': 'extract', n: 3 }, status: { code: 'unset' } });
    // Attribute values that are not primitives are dropped, not written as objects.
    expect(p!.attributes).not.toHaveProperty('nested');
    expect(p!.parentSpanId).toBeUndefined();
    expect(c).toMatchObject({ name: 'child', kind: 'server', traceId: p!.traceId, parentSpanId: p!.spanId, status: { code: 'error', message: 'boom' } });
    expect(c!.events).toEqual([expect.objectContaining({ name: 'retry', attributes: { attempt: 2 } })]);
    expect(c!.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(Date.parse(c!.end)).toBeGreaterThanOrEqual(Date.parse(c!.start));
    expect(c!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('when MCP_TRACING=off, then spans are not recorded and no file is written', async () => {
    expect(tracingEnabled({ MCP_TRACING: 'off' })).toBe(false);
    expect(tracingEnabled({})).toBe(true);
    const t = createTracing({ service: 'x', dir, env: { MCP_TRACING: 'off' } });
    const span = t.tracer.startSpan('ignored');
    expect(span.isRecording()).toBe(false);
    span.end();
    await t.shutdown();
    expect(t.enabled).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('when a service name holds path characters, then the file stays inside the trace directory', () => {
    const t = createTracing({ service: '../evil/name', dir, env: {} });
    expect(path.dirname(t.file!)).toBe(dir);
    expect(path.basename(createTracing({ service: '..', dir, env: {} }).file!)).toBe('_.jsonl');
    expect(() => createTracing({ service: '', dir, env: {} })).toThrow(/service name is empty/);
  });
});

describe('trace reader', () => {
  const rec = (o: Partial<SpanRecord> & Pick<SpanRecord, 'spanId' | 'name' | 'start'>): SpanRecord => ({
    traceId: 'a'.repeat(32),
    kind: 'internal',
    service: 's',
    end: o.start,
    durationMs: 1,
    attributes: {},
    status: { code: 'unset' },
    ...o,
  });

  it('when spans of a run are spread over several service files, then readTrace returns them as one tree, the run trace first', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracing-read-'));
    try {
      const other = rec({ traceId: 'b'.repeat(32), spanId: 'b1', name: 'SignalWorkflow:x', start: '2025-01-01T00:00:00.000Z', attributes: { temporalWorkflowId: 'run-1' } });
      const lines = (spans: SpanRecord[]) => spans.map((s) => JSON.stringify(s)).join('\n') + '\n';
      fs.writeFileSync(path.join(dir, 'mcp-orch.jsonl'), lines([rec({ spanId: '1', name: 'StartWorkflow:p', start: '2025-01-01T00:00:01.000Z', attributes: { temporalWorkflowId: 'run-1' } }), other]));
      fs.writeFileSync(
        path.join(dir, 'orchestrator-worker.jsonl'),
        lines([
          rec({ spanId: '2', parentSpanId: '1', name: 'RunWorkflow:p', start: '2025-01-01T00:00:01.100Z', attributes: { workflowId: 'run-1' } }),
          rec({ spanId: '3', parentSpanId: '2', name: 'StartActivity:mcpCallTool', start: '2025-01-01T00:00:01.200Z' }),
        ]),
      );
      // A server's span names no workflow: it is found through its trace id. A torn last line is skipped.
      fs.writeFileSync(path.join(dir, 'data.jsonl'), lines([rec({ spanId: '4', parentSpanId: '3', name: 'mcp.tool data/x', service: 'data', start: '2025-01-01T00:00:01.300Z', attributes: { 'mcp.outcome': 'ok' } })]) + '{"traceId":"aaaa');
      fs.writeFileSync(path.join(dir, 'unrelated.jsonl'), lines([rec({ traceId: 'c'.repeat(32), spanId: 'c1', name: 'other', start: '2025-01-01T00:00:00.000Z' })]));

      const trees = await readTrace('run-1', { dir });
      expect(trees.map((t) => t.traceId)).toEqual(['a'.repeat(32), 'b'.repeat(32)]);
      const [run] = trees;
      expect(run!.roots.map((r) => r.name)).toEqual(['StartWorkflow:p']);
      expect(run!.roots[0]!.children[0]!.children[0]!.children[0]!.name).toBe('mcp.tool data/x');
      expect(formatTrace(run!)).toMatch(/^trace a+ — 4 spans from data, s\n {2}StartWorkflow:p {2}\[s\] {2}\+0\.000s[^\n]*\n {4}RunWorkflow:p[^\n]*\n {6}StartActivity[^\n]*\n {8}mcp\.tool data\/x {2}\[data\] {2}\+0\.300s {2}1\.0 ms {2}outcome=ok$/);
      expect(await readTrace('no-such-run', { dir })).toEqual([]);
      expect(await readTrace('run-1', { dir: path.join(dir, 'missing') })).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when a parent span is missing from the files, then its child becomes a root rather than disappearing', () => {
    const tree = buildTree('t', [rec({ spanId: 'x', parentSpanId: 'gone', name: 'orphan', start: '2025-01-01T00:00:00.000Z' })]);
    expect(tree.roots.map((r) => r.name)).toEqual(['orphan']);
  });
});

describe('trace context in MCP _meta', () => {
  it('when an activity span is active, then _meta carries its W3C traceparent and the run/step ids, and the server side reads them back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracing-meta-'));
    const t = createTracing({ service: 'w', dir, env: {} });
    try {
      const span = t.tracer.startSpan('RunActivity:mcpCallTool');
      const meta = injectTraceMeta({ idempotencyKey: 'run-1/extract' }, { runId: 'run-1', stepId: 'extract' }, trace.setSpan(context.active(), span));
      span.end();
      const { traceId, spanId } = span.spanContext();
      expect(meta.traceparent).toBe(`00-${traceId}-${spanId}-01`);
      expect(meta.idempotencyKey).toBe('run-1/extract');
      expect(meta.baggage).toBe('mcp.run_id=run-1,mcp.step_id=extract');

      const back = extractTraceMeta(meta);
      expect(back).toMatchObject({ runId: 'run-1', stepId: 'extract' });
      expect(trace.getSpanContext(back.context)).toMatchObject({ traceId, spanId, isRemote: true });
    } finally {
      await t.shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when no span is active, then only the run/step baggage is sent; when _meta holds junk, then it is ignored', () => {
    const meta = injectTraceMeta({}, { runId: 'r', stepId: 's' });
    expect(meta).not.toHaveProperty('traceparent');
    expect(extractTraceMeta(meta)).toMatchObject({ runId: 'r', stepId: 's' });
    const junk = extractTraceMeta({ traceparent: 42, baggage: { a: 1 }, tracestate: ['x'] });
    expect(junk.runId).toBeUndefined();
    expect(trace.getSpanContext(junk.context)).toBeUndefined();
    expect(extractTraceMeta({ traceparent: 'not-a-traceparent' }).context).toBe(extractTraceMeta(undefined).context);
    expect(propagation.getBaggage(extractTraceMeta(undefined).context)).toBeUndefined();
  });
});
