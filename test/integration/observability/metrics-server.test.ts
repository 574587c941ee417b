import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { registerTool, startMcpHttpServer, ToolError, type RunningServer } from '../../../src/servers/kit';
import { histograms, parseExposition, quantile, select, type Sample } from '../../../src/observability/metrics/parse';
import { callTool, connectMcp } from '../../harness/mcp-client';

jest.setTimeout(30_000);

let dir: string;
let server: RunningServer;
let client: Client;
let releaseSlow: (() => void) | undefined;

function buildTiny(): McpServer {
  const s = new McpServer({ name: 'tiny', version: '1.2.3' });
  const shape = { ok: z.boolean().describe('ok') };
  registerTool(s, 'echo', { title: 'Echo', description: 'answers', inputSchema: {}, outputSchema: shape, annotations: { readOnlyHint: true } }, async () => {
    await new Promise((r) => setTimeout(r, 20));
    return { ok: true };
  });
  registerTool(s, 'fail', { title: 'Fail', description: 'fails', inputSchema: {}, outputSchema: shape, annotations: { readOnlyHint: true } }, async () => {
    throw new ToolError('no such thing', 'not_found');
  });
  registerTool(s, 'slow', { title: 'Slow', description: 'waits to be released', inputSchema: {}, outputSchema: shape, annotations: { readOnlyHint: true } }, async () => {
    await new Promise<void>((r) => (releaseSlow = r));
    return { ok: true };
  });
  return s;
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parseExposition(await res.text());
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) => {
  const found = select(samples, name, labels);
  if (found.length === 0) throw new Error(`no series ${name}${JSON.stringify(labels)}`);
  return found.reduce((a, s) => a + s.value, 0);
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-metrics-'));
  server = await startMcpHttpServer({
    name: 'tiny',
    version: '1.2.3',
    config: { host: '127.0.0.1', port: 0, dataDir: dir, allowedHosts: [], allowedOrigins: [], maxBodyBytes: 1024 * 1024 },
    buildServer: buildTiny,
    // Small enough for the test to meet it, large enough for the calls below.
    rateLimit: { perMinute: 12 },
    faults: false,
    serviceToken: 'metrics-test-token',
  });
  client = await connectMcp(server.mcpUrl);
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('after real tool calls, /metrics shows latency by tool and outcome, errors by code, HTTP statuses, rate-limit rejections and process resources, all non-zero', async () => {
  expect((await callTool(client, 'echo', {})).isError).toBeFalsy();
  expect((await callTool(client, 'echo', {})).isError).toBeFalsy();
  expect((await callTool(client, 'fail', {})).isError).toBe(true);
  // An unknown tool: the SDK answers isError "Tool … not found" (or a JSON-RPC error, by version).
  await callTool(client, 'no_such_tool', {}).catch(() => undefined);

  // A call in flight shows in the gauge while it runs.
  const slow = callTool(client, 'slow', {});
  const deadline = Date.now() + 5000;
  while (!releaseSlow && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const during = await scrape(server.url);
  expect(value(during, 'mcp_server_in_flight_requests', { server: 'tiny' })).toBeGreaterThanOrEqual(1);
  releaseSlow!();
  await slow;

  // Drain the per-client bucket (12/min) until the kit answers 429.
  let limited = 0;
  for (let i = 0; i < 20 && limited === 0; i++) {
    const res = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping' }),
    });
    await res.body?.cancel();
    if (res.status === 429) limited++;
  }
  expect(limited).toBe(1);

  const s = await scrape(server.url);
  expect(value(s, 'mcp_server_info', { server: 'tiny', version: '1.2.3' })).toBe(1);
  expect(value(s, 'mcp_server_tool_duration_seconds_count', { server: 'tiny', tool: 'echo', outcome: 'ok' })).toBe(2);
  expect(value(s, 'mcp_server_tool_duration_seconds_sum', { tool: 'echo', outcome: 'ok' })).toBeGreaterThanOrEqual(0.04);
  const echo = histograms(s, 'mcp_server_tool_duration_seconds').find((h) => h.labels.tool === 'echo');
  expect(quantile(0.95, echo!.buckets)).toBeGreaterThan(0.01);
  expect(value(s, 'mcp_server_tool_duration_seconds_count', { tool: 'fail', outcome: 'tool_error' })).toBe(1);
  expect(value(s, 'mcp_server_tool_errors_total', { server: 'tiny', tool: 'fail', code: 'not_found' })).toBe(1);
  expect(value(s, 'mcp_server_tool_errors_total', { tool: 'no_such_tool' })).toBe(1);
  expect(value(s, 'mcp_server_tool_duration_seconds_count', { tool: 'slow', outcome: 'ok' })).toBe(1);
  expect(value(s, 'mcp_server_in_flight_requests', { server: 'tiny' })).toBe(0);
  expect(value(s, 'mcp_server_http_requests_total', { route: '/mcp', method: 'POST', status: '200' })).toBeGreaterThan(4);
  expect(value(s, 'mcp_server_http_requests_total', { route: '/mcp', status: '429' })).toBe(1);
  expect(value(s, 'mcp_server_http_requests_total', { route: '/metrics', status: '200' })).toBeGreaterThanOrEqual(1);
  expect(value(s, 'mcp_server_rate_limited_total', { server: 'tiny' })).toBe(1);
  // Process resources (prom-client defaults plus limits and disk), labelled with the server.
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
    'process_open_fds',
    'process_memory_limit_bytes',
    'nodejs_heap_size_limit_bytes',
    'mcp_data_disk_free_bytes',
    'mcp_data_disk_size_bytes',
  ]) {
    expect([name, value(s, name, { server: 'tiny' })]).toEqual([name, expect.any(Number)]);
    expect(value(s, name, { server: 'tiny' })).toBeGreaterThan(0);
  }
  expect(select(s, 'nodejs_eventloop_lag_seconds', { server: 'tiny' })).toHaveLength(1);
});

test('a scraper with the service token is admitted and one with a wrong bearer is refused', async () => {
  expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer metrics-test-token' } })).status).toBe(200);
  const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
  expect(wrong.status).toBe(401);
  expect(await wrong.text()).toMatch(/service token/);
});

test('with metrics: false the server has no /metrics route', async () => {
  const off = await startMcpHttpServer({
    name: 'quiet',
    version: '0',
    config: { host: '127.0.0.1', port: 0, dataDir: dir, allowedHosts: [], allowedOrigins: [], maxBodyBytes: 1024 },
    buildServer: buildTiny,
    faults: false,
    metrics: false,
  });
  try {
    expect((await fetch(`${off.url}/metrics`)).status).toBe(404);
    expect(off.metrics).toBeUndefined();
  } finally {
    await off.close();
  }
});
