import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { chromium, type Browser } from 'playwright-core';
import { startTestStack, type TestStack } from '../../harness/test-stack';
import { SLOW_SQL } from '../orchestrator/helpers';
import { startDashboard } from '../../../src/client/dashboard';
import { registerWatchCommand, type WatchEvent } from '../../../src/client/watch';
import type { Registry } from '../../../src/registry/registry';

jest.setTimeout(180_000);

// The committed screenshots in docs/ are refreshed with UPDATE_SCREENSHOTS=1; ordinary runs keep theirs in a temp folder.
const DOCS = process.env.UPDATE_SCREENSHOTS ? path.join(__dirname, '../../../docs') : fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-shots-'));

/** Slower than SLOW_SQL so the live screenshot catches the scan running even on a fast machine. */
const LIVE_SQL = SLOW_SQL.replace('120000000', '300000000');

/** hello's shape plus one step slow enough to watch it run (seconds of DuckDB work). */
const PIPELINE = `
name: dashdemo
description: hello with a slow scan, to watch live
steps:
  schema: { server: data, tool: table_schema, args: { table: customer_transactions }, phase: Discover }
  extract:
    server: data
    tool: sql_query
    needs: [schema]
    phase: Extract
    args: { sql: "SELECT * FROM customer_transactions", output: parquet, object_key: "dash/\${workflow.id}/t.parquet" }
  slow_scan: { server: data, tool: sql_query, needs: [schema], phase: Extract, args: { sql: "${LIVE_SQL}" } }
  top_customers:
    server: data
    tool: sql_query
    needs: [schema]
    phase: Extract
    args: { sql: "SELECT customer_id, sum(amount) AS spent FROM customer_transactions GROUP BY 1 ORDER BY 2 DESC LIMIT 5", max_rows: 5 }
  verify_extract: { server: storage, tool: download_file, args: { key: "\${steps.extract.result.uri}" }, phase: Verify }
  inventory: { server: storage, tool: list_files, needs: [verify_extract, slow_scan, top_customers], args: { prefix: "dash/\${workflow.id}/" }, phase: Verify }
`;

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('run dashboard and watch on a real stack', () => {
  let stack: TestStack;
  let dash: Awaited<ReturnType<typeof startDashboard>>;
  let browser: Browser | undefined;

  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data', 'storage'], seedRows: 5000 });
    const registry: Registry = {
      groups: Object.fromEntries(
        Object.entries(stack.urls).map(([g, url]) => [g, { endpoints: [{ transport: 'http' as const, url, priority: 1, headers: {} }] }]),
      ),
    };
    dash = await startDashboard({ client: stack.client, namespace: 'default', port: 0, registry, poolOptions: { clientName: 'dashboard-test' }, serversIntervalMs: 2000, uiUrl: 'http://127.0.0.1:8233' });
    await dash.monitor.ready();
  });
  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    await stack?.close();
  });

  it('when a run is live, then the page shows its DAG and a step changes from running to done, and a screenshot is kept', async () => {
    const plan = stack.plan(PIPELINE);
    const handle = await stack.start(plan, `dashdemo-${Date.now().toString(36)}`);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(`${dash.url}#run=${encodeURIComponent(handle.workflowId)}`);

    const slow = page.locator('[data-step="slow_scan"]');
    await slow.and(page.locator('[data-state="running"]')).waitFor({ timeout: 60_000 });
    await page.locator('[data-step="schema"][data-state="done"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-run="' + handle.workflowId + '"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-server-card="data"][data-healthy="true"]').waitFor({ timeout: 10_000 });
    fs.mkdirSync(DOCS, { recursive: true });
    expect(await page.locator('#run-status').getAttribute('data-status')).toBe('running');
    await page.screenshot({ path: path.join(DOCS, 'dashboard-run.png'), fullPage: true });

    await slow.and(page.locator('[data-state="done"]')).waitFor({ timeout: 90_000 });
    await page.locator('#run-status[data-status="completed"]').waitFor({ timeout: 30_000 });
    // Six nodes, six bars, a Web UI link to this very run, and the steps' digests in the table.
    expect(await page.locator('#dag [data-step]').count()).toBe(6);
    expect(await page.locator('#gantt [data-bar]').count()).toBe(6);
    expect(await page.locator('#run-link').getAttribute('href')).toBe(
      `http://127.0.0.1:8233/namespaces/default/workflows/${handle.workflowId}/${(handle as unknown as { firstExecutionRunId: string }).firstExecutionRunId}/history`,
    );
    expect(await page.locator('[data-step-row="top_customers"] td:nth-child(8)').textContent()).toMatch(/\w+=/);
    // The history charts picked the completed run up (they refresh when the pipeline is first seen, then every 30 s).
    await page.evaluate('loadHistory()');
    await page.locator('#hist-runs rect').first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(DOCS, 'dashboard-run-done.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });

  it('when the JSON endpoints are asked, then they answer with runs, a run with metrics and layout, servers and history', async () => {
    const runs = (await (await fetch(`${dash.url}api/runs?pipeline=dashdemo&status=Completed`)).json()) as { runs: Array<{ workflowId: string; status: string; url: string }> };
    expect(runs.runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.runs.every((r) => r.workflowId.startsWith('dashdemo-') && r.status === 'COMPLETED')).toBe(true);
    const id = runs.runs[0]!.workflowId;

    const run = (await (await fetch(`${dash.url}api/runs/${id}`)).json()) as {
      execution: string;
      levels: string[][];
      metrics: { toolCalls: number; makespanMs: number };
      gantt: { lanes: Array<{ server: string }>; maxParallel: number };
    };
    expect(run.execution).toBe('COMPLETED');
    expect(run.levels).toEqual([['schema'], ['extract', 'slow_scan', 'top_customers'], ['verify_extract'], ['inventory']]);
    expect(run.metrics.toolCalls).toBe(6);
    expect(run.gantt.lanes.map((l) => l.server)).toEqual(['data', 'storage']);
    expect(run.gantt.maxParallel).toBeGreaterThanOrEqual(2);

    const servers = (await (await fetch(`${dash.url}api/servers`)).json()) as { servers: Array<{ group: string; healthy: boolean; tools: string[]; history: unknown[] }> };
    const data = servers.servers.find((s) => s.group === 'data')!;
    expect(data.healthy).toBe(true);
    expect(data.tools).toContain('sql_query');
    expect(data.history.length).toBeGreaterThanOrEqual(1);

    const hist = (await (await fetch(`${dash.url}api/history?pipeline=dashdemo`)).json()) as { runs: unknown[]; tools: Array<{ tool: string; n: number; medianMs: number; maxMs: number }> };
    expect(hist.runs.length).toBeGreaterThanOrEqual(1);
    expect(hist.tools.map((t) => t.tool)).toEqual(expect.arrayContaining(['data/sql_query', 'storage/list_files']));
    // Tools are ranked by median; the slow scan shows in the max: sql_query's max tool time is seconds, more
    // than any other tool's. (Its median is one of the three sql_query steps of a run, and under load a
    // cold table_schema can beat that median, so the median rank is not asserted.)
    const slowest = [...hist.tools].sort((a, b) => b.maxMs - a.maxMs)[0]!;
    expect(slowest.tool).toBe('data/sql_query');
  });

  it('when a request is malformed or comes under another Host name, then it is refused with a reason', async () => {
    const bad = await fetch(`${dash.url}api/runs?pipeline=${encodeURIComponent("x' OR 1=1")}`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('is not a pipeline name');
    const badStatus = await fetch(`${dash.url}api/runs?status=Happy`);
    expect(badStatus.status).toBe(400);
    const missing = await fetch(`${dash.url}api/runs/no-such-run`);
    expect(missing.status).toBe(404);
    // DNS rebinding: a name other than loopback is refused even on the loopback address.
    const { port } = new URL(dash.url);
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = require('node:http').request({ host: '127.0.0.1', port, path: '/api/runs', headers: { host: `evil.example:${port}` } }, (res: { statusCode: number; resume(): void }) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(rebound).toBe(403);
    const post = await fetch(`${dash.url}api/runs`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('when watch --json follows a live run, then it streams run, step (running then done), progress and end events', async () => {
    const plan = stack.plan(`
name: watchdemo
steps:
  first: { server: data, tool: table_schema, args: { table: customer_transactions } }
  slow_scan: { server: data, tool: sql_query, needs: [first], args: { sql: "${SLOW_SQL}" } }
  last: { server: storage, tool: list_files, needs: [slow_scan], args: { prefix: "nothing/" } }
`);
    const handle = await stack.start(plan);
    const out: string[] = [];
    const program = new Command().exitOverride();
    registerWatchCommand(program, { write: (t) => out.push(t), isTTY: false });
    await program.parseAsync(['node', 'mcp-orch', 'watch', handle.workflowId, '--json', '--interval', '200']);

    const events = out.join('').trim().split('\n').map((l) => JSON.parse(l) as WatchEvent);
    expect(events[0]).toMatchObject({ event: 'run', workflowId: handle.workflowId, pipeline: 'watchdemo', steps: 3 });
    const slow = events.filter((e): e is Extract<WatchEvent, { event: 'step' }> => e.event === 'step' && e.stepId === 'slow_scan').map((e) => e.state);
    expect(slow).toEqual(['waiting', 'running', 'done'].slice(slow[0] === 'waiting' ? 0 : 1));
    const doneEvent = events.find((e) => e.event === 'step' && e.stepId === 'slow_scan' && e.state === 'done') as Extract<WatchEvent, { event: 'step' }>;
    expect(doneEvent.durationMs).toBeGreaterThan(0);
    expect(doneEvent.attempt).toBe(1);
    expect(events.some((e) => e.event === 'progress' && e.running.includes('slow_scan'))).toBe(true);
    const end = events[events.length - 1]!;
    expect(end).toMatchObject({ event: 'end', ok: true, execution: 'COMPLETED', status: 'completed' });
    expect((end as Extract<WatchEvent, { event: 'end' }>).metrics?.toolCalls).toBe(3);
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('when watch is given an unknown run id, then it says so and exits 2', async () => {
    const program = new Command().exitOverride();
    const errors: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((t: string | Uint8Array) => (errors.push(String(t)), true));
    try {
      registerWatchCommand(program, { write: () => undefined, isTTY: false });
      await program.parseAsync(['node', 'mcp-orch', 'watch', 'no-such-run-xyz', '--json']);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('')).toContain("no run with id 'no-such-run-xyz'");
    expect(process.exitCode).toBe(2);
    process.exitCode = 0;
  });
});
