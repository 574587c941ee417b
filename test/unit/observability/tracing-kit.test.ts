import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { registerTool, ToolError } from '../../../src/servers/kit/tool';
import { logger } from '../../../src/servers/kit/log';
import type { SpanRecord } from '../../../src/observability/tracing/file-exporter';
import { injectTraceMeta } from '../../../src/observability/tracing/propagation';
import { createTracing, installTracing, type Tracing } from '../../../src/observability/tracing/setup';

/**
 * The kit's tool wrapper, through a real MCP client and server (in-memory transport): the server
 * span joins the caller's trace from `_meta`, and the server's log lines name the run and step.
 */
describe('MCP kit tool span and log scope', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracing-kit-'));
  const savedLogDir = process.env.MCP_LOG_DIR;
  let server: Tracing;
  let caller: Tracing;
  let client: Client;

  beforeAll(async () => {
    process.env.MCP_LOG_DIR = path.join(dir, 'logs');
    server = installTracing({ service: 'kit-test-server', dir, env: {} });
    caller = createTracing({ service: 'kit-test-worker', dir, env: {} });
    const mcp = new McpServer({ name: 'kit-test', version: '0.0.0' });
    const log = logger('kit-test');
    registerTool(
      mcp,
      'echo',
      {
        title: 'Echo',
        description: 'Echoes',
        inputSchema: { fail: z.boolean().optional().describe('Fail with a ToolError') },
        outputSchema: { ok: z.boolean().describe('Always true') },
        annotations: { readOnlyHint: true },
      },
      async ({ fail }) => {
        log.info('handler ran');
        if (fail) throw new ToolError('asked to fail', 'asked');
        return { ok: true };
      },
    );
    const [a, b] = InMemoryTransport.createLinkedPair();
    client = new Client({ name: 'test', version: '0.0.0' });
    await Promise.all([mcp.connect(a), client.connect(b)]);
  });

  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
    await caller?.shutdown();
    if (savedLogDir === undefined) delete process.env.MCP_LOG_DIR;
    else process.env.MCP_LOG_DIR = savedLogDir;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const spans = () =>
    fs
      .readFileSync(path.join(dir, 'kit-test-server.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as SpanRecord);
  const logLines = () =>
    fs
      .readFileSync(path.join(dir, 'logs', 'kit-test.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('when a call carries a traceparent, then the server span "mcp.tool <server>/<tool>" is its child, with outcome and run/step ids', async () => {
    const activity = caller.tracer.startSpan('RunActivity:mcpCallTool');
    const meta = injectTraceMeta({ idempotencyKey: 'run-7/extract' }, { runId: 'run-7', stepId: 'extract' }, trace.setSpan(context.active(), activity));
    const res = await client.callTool({ name: 'echo', arguments: {}, _meta: meta });
    activity.end();
    expect(res.isError).toBeFalsy();

    const span = spans().find((s) => s.attributes['mcp.step_id'] === 'extract')!;
    expect(span).toMatchObject({
      name: 'mcp.tool kit-test/echo',
      kind: 'server',
      service: 'kit-test-server',
      traceId: activity.spanContext().traceId,
      parentSpanId: activity.spanContext().spanId,
      status: { code: 'unset' },
      attributes: { 'mcp.server': 'kit-test', 'mcp.tool': 'echo', 'mcp.outcome': 'ok', 'mcp.idempotency.replayed': false, 'mcp.idempotency.key': 'run-7/extract', 'mcp.run_id': 'run-7' },
    });
    // The handler's own line and the wrapper's line both name the run and step.
    const lines = logLines().filter((l) => l.runId === 'run-7');
    expect(lines.every((l) => l.traceId === activity.spanContext().traceId)).toBe(true);
    expect(lines.map((l) => [l.msg, l.stepId, l.tool])).toEqual([
      ['handler ran', 'extract', 'echo'],
      ['tool call', 'extract', 'echo'],
    ]);
  });

  it('when the tool fails, then the span has status error and outcome tool_error, and the failure is logged as a warning', async () => {
    const meta = injectTraceMeta({}, { runId: 'run-8', stepId: 'broken' });
    const res = await client.callTool({ name: 'echo', arguments: { fail: true }, _meta: meta });
    expect(res.isError).toBe(true);
    const span = spans().find((s) => s.attributes['mcp.step_id'] === 'broken')!;
    // No traceparent: the server span starts a trace of its own.
    expect(span.parentSpanId).toBeUndefined();
    expect(span).toMatchObject({ status: { code: 'error', message: 'asked to fail' }, attributes: { 'mcp.outcome': 'tool_error', 'mcp.error_code': 'asked' } });
    expect(logLines().filter((l) => l.runId === 'run-8').map((l) => [l.level, l.msg, l.code])).toEqual([
      ['info', 'handler ran', undefined],
      ['warn', 'tool call failed', 'asked'],
    ]);
  });
});
