import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { AlertEvaluator, type AlertTarget } from '../../../src/observability/alerts/evaluator';
import { mcpNotifier, type Notifier } from '../../../src/observability/alerts/notifier';
import { defaultAlertRules } from '../../../src/observability/alerts/rules';
import { McpTokenSource } from '../../../src/servers/kit/client-auth';
import { registerTool, startMcpHttpServer, type RunningServer } from '../../../src/servers/kit';
import { loadNotificationConfig } from '../../../src/servers/notification/config';
import { startNotificationServer, type RunningNotificationServer } from '../../../src/servers/notification/main';
import { startSecurityServer, type StartedSecurityServer } from '../../../src/servers/security/main';
import { callTool, connectMcp } from '../../harness/mcp-client';

jest.setTimeout(60_000);

/**
 * The alert path end to end, in-process on free ports: a security server issues the evaluator's
 * token, the notification server (JWT required) holds the rules and the Slack sink, and a small kit
 * server is the one that goes down and comes back.
 */
let dir: string;
let security: StartedSecurityServer;
let notification: RunningNotificationServer;
let watched: RunningServer | undefined;
let watchedPort = 0;
let notifier: Notifier;
let evaluator: AlertEvaluator | undefined;

function buildWatched(): McpServer {
  const s = new McpServer({ name: 'watched', version: '0.0.1' });
  registerTool(
    s,
    'ping_me',
    { title: 'Ping', description: 'answers', inputSchema: {}, outputSchema: { ok: z.boolean().describe('ok') }, annotations: { readOnlyHint: true } },
    async () => ({ ok: true }),
  );
  return s;
}

async function startWatched(port: number): Promise<RunningServer> {
  return startMcpHttpServer({
    name: 'watched',
    version: '0.0.1',
    config: { host: '127.0.0.1', port, dataDir: path.join(dir, 'watched'), allowedHosts: [], allowedOrigins: [], maxBodyBytes: 1024 * 1024 },
    buildServer: buildWatched,
    faults: false,
  });
}

interface SinkMessage {
  seq: number;
  payload: { text?: string };
}

async function slackMessages(): Promise<SinkMessage[]> {
  const res = await fetch(`${notification.server.url}/sinks/slack?limit=500`);
  return ((await res.json()) as { messages: SinkMessage[] }).messages;
}

async function waitForSlack(pattern: RegExp, timeoutMs: number): Promise<{ message: SinkMessage; afterMs: number }> {
  const started = Date.now();
  for (;;) {
    const m = (await slackMessages()).find((x) => pattern.test(x.payload.text ?? ''));
    if (m) return { message: m, afterMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) {
      throw new Error(`no Slack message matching ${pattern} within ${timeoutMs} ms; got: ${JSON.stringify((await slackMessages()).map((x) => x.payload.text))}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-alerts-'));
  security = await startSecurityServer({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'security'), requireAuth: true });
  const issuer = security.server.url;
  notification = await startNotificationServer(
    loadNotificationConfig({
      MCP_NOTIFICATION_PORT: '0',
      MCP_NOTIFICATION_HOST: '127.0.0.1',
      MCP_NOTIFICATION_DATA_DIR: path.join(dir, 'notification'),
      MCP_SMTP_SINK_PORT: '0',
    }),
    { auth: { mode: 'jwt', issuer, jwksUrl: `${issuer}/.well-known/jwks.json` } },
  );
  watched = await startWatched(0);
  watchedPort = watched.port;
  const tokens = new McpTokenSource({
    tokenUrl: `${issuer}/oauth/token`,
    clientId: 'orchestrator-notification',
    credentialsFile: path.join(dir, 'security', 'clients.secret.json'),
  });
  notifier = mcpNotifier({ mcpUrl: notification.server.mcpUrl, tokens });
});

afterAll(async () => {
  await evaluator?.stop();
  await notifier?.close();
  await watched?.close();
  await notification?.close();
  await security?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const targets = (): AlertTarget[] => {
  const base = (url: string) => ({ healthUrl: `${url}/healthz`, metricsUrl: `${url}/metrics` });
  return [
    { kind: 'server', name: 'notification', ...base(notification.server.url) },
    { kind: 'server', name: 'watched', ...base(`http://127.0.0.1:${watchedPort}`) },
  ];
};

test('ensuring the rules twice creates them once and leaves them alone the second time', async () => {
  const thresholds = { intervalS: 1, p95Seconds: 5, resourceRatio: 0.95 };
  const first = new AlertEvaluator({ ...thresholds, notifier, targets });
  expect((await first.ensureRules()).sort()).toEqual(defaultAlertRules(thresholds).map((r) => r.id).sort());
  expect(await first.ensureRules()).toEqual([]);
  // A changed threshold replaces just that rule.
  const changed = new AlertEvaluator({ ...thresholds, p95Seconds: 7, notifier, targets });
  expect(await changed.ensureRules()).toEqual(['mcp-tool-latency-high']);
  expect(await first.ensureRules()).toEqual(['mcp-tool-latency-high']);
});

test('a tick pushes up, tool p95 and resource gauges measured from the servers', async () => {
  const client = await connectMcp(watched!.mcpUrl);
  try {
    for (let i = 0; i < 3; i++) expect((await callTool(client, 'ping_me', {})).isError).toBeFalsy();
  } finally {
    await client.close();
  }
  const e = new AlertEvaluator({ intervalS: 1, p95Seconds: 5, resourceRatio: 0.95, notifier, targets });
  const r = await e.tick();
  expect(r.errors).toEqual([]);
  const find = (name: string, labels: Record<string, string>) =>
    r.points.filter((p) => p.name === name && Object.entries(labels).every(([k, v]) => p.labels[k] === v));
  expect(find('mcp_server_up', { server: 'watched' })).toEqual([expect.objectContaining({ value: 1 })]);
  expect(find('mcp_server_up', { server: 'notification' })).toEqual([expect.objectContaining({ value: 1 })]);
  const p95 = find('mcp_tool_latency_p95_seconds', { server: 'watched', tool: 'ping_me' });
  expect(p95).toHaveLength(1);
  expect(p95[0]!.value).toBeGreaterThan(0);
  for (const resource of ['memory', 'heap', 'disk']) {
    const [point] = find('mcp_resource_usage_ratio', { server: 'watched', resource });
    expect(point!.value).toBeGreaterThan(0);
    expect(point!.value).toBeLessThan(1);
  }
  // No new calls since: the next tick has no p95 sample for the tool (nothing to measure).
  const again = await e.tick();
  expect(again.points.filter((p) => p.name === 'mcp_tool_latency_p95_seconds' && p.labels.server === 'watched')).toEqual([]);
});

test('when a server goes down, the "server down" alert reaches the Slack sink, and its resolution follows when it is back', async () => {
  evaluator = new AlertEvaluator({ intervalS: 1, p95Seconds: 5, resourceRatio: 0.95, notifier, targets, log: () => undefined });
  evaluator.start();
  // Wait for a healthy tick first: the rule has evaluated both servers' series at 1.
  const before = Date.now();
  for (;;) {
    const state = await notifier.call<{ alerts: Array<{ id: string; seriesCount: number }> }>('list_alerts', {});
    if (state.alerts.find((a) => a.id === 'mcp-server-down')?.seriesCount === 2) break;
    if (Date.now() - before > 10_000) throw new Error('the evaluator pushed no up samples within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }

  await watched!.close();
  watched = undefined;
  const down = await waitForSlack(/\[FIRING\] MCP server down: mcp_server_up\{server="watched"\} (<|&lt;) 1/, 15_000);
  // Two samples at 0, one interval apart: not before ~1 s, and well within the bound.
  expect(down.afterMs).toBeGreaterThanOrEqual(900);
  expect(down.message.payload.text).not.toMatch(/notification/);

  watched = await startWatched(watchedPort);
  const resolved = await waitForSlack(/\[RESOLVED\] MCP server down: mcp_server_up\{server="watched"\}/, 15_000);
  expect(resolved.message.seq).toBeGreaterThan(down.message.seq);
  const { events } = await notifier.call<{ events: Array<{ kind: string; labels: Record<string, string> }> }>('list_alert_events', { alertId: 'mcp-server-down' });
  expect(events.filter((e) => e.labels.server === 'watched').map((e) => e.kind)).toEqual(['pending', 'fired', 'resolved']);
});
