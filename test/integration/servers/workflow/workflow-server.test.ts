import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { Command } from 'commander';
import { registerScheduleCommand } from '../../../../src/client/schedule';
import type { Registry } from '../../../../src/registry/registry';
import { startWorkflowServer, type StartedWorkflowServer } from '../../../../src/servers/workflow/main';
import { callOk, callTool, connectMcp, errorText } from '../../../harness/mcp-client';
import { startTestStack, type TestStack } from '../../../harness/test-stack';

jest.setTimeout(240_000);

interface Status {
  workflow_id: string;
  temporal_status: string;
  status?: string;
  paused?: boolean;
  steps_total: number;
  steps_by_status: Record<string, number>;
  steps: Array<{ id: string; status: string; tool_time_ms?: number }>;
  metrics?: { steps_done: number; makespan_ms: number; critical_path: string[] };
  error?: string;
}
interface Runs {
  runs: Array<{ workflow_id: string; status: string; schedule_id?: string; pipeline?: string }>;
  count: number;
  query: string;
}
interface Schedules {
  schedules: Array<{
    schedule_id: string;
    pipeline?: string;
    spec: string;
    recent_runs: Array<{ workflow_id: string }>;
  }>;
}

const SMALL = `
name: wfsrv
input:
  table: { type: string, default: customer_transactions }
steps:
  schema:
    server: data
    tool: table_schema
    args: { table: "\${input.table}" }
  files:
    server: storage
    tool: list_files
    needs: [schema]
    args: { prefix: "wfsrv/" }
`;

/** Seconds of DuckDB work, so a run can be paused while its first step runs. */
const SLOW = `
name: wfslow
steps:
  first: { server: data, tool: sql_query, args: { sql: "SELECT sum(hash(i) % 7) AS h FROM range(0, 60000000) t(i)", timeout_ms: 120000 } }
  second: { server: data, tool: table_schema, args: { table: customer_transactions }, needs: [first] }
`;

/** Polls `fn` until it returns a value, bounded. */
async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `${what} did not happen in ${timeoutMs} ms${lastErr ? ` (last error: ${String(lastErr)})` : ''}`,
  );
}

describe('workflow server: any MCP client starts, watches, steers and schedules pipelines on Temporal', () => {
  let stack: TestStack;
  let wf: StartedWorkflowServer;
  let mcp: McpClient;
  let dataDir: string;

  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data', 'storage'] });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-wfsrv-'));
    // Discovery goes through the stack's token proxies, as an operator holding tokens would.
    const registry: Registry = {
      groups: Object.fromEntries(
        Object.entries(stack.urls).map(([g, url]) => [
          g,
          { endpoints: [{ transport: 'http' as const, url, priority: 1, headers: {} }] },
        ]),
      ),
    };
    wf = await startWorkflowServer(
      { host: '127.0.0.1', port: 0, dataDir, taskQueuePrefix: stack.prefix },
      { auth: { mode: 'off' }, registry, poolOptions: { clientName: 'workflow-server-test' } },
    );
    mcp = await connectMcp(wf.server.mcpUrl);
  });

  afterAll(async () => {
    await mcp?.close();
    await wf?.close();
    await stack?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('when a pipeline is started from YAML text, then pipeline_status watches it to completion with its metrics', async () => {
    const started = await callOk<{
      workflow_id: string;
      steps: number;
      servers: string[];
      unchecked_servers: string[];
      task_queue: string;
    }>(mcp, 'start_pipeline', { spec_yaml: SMALL });
    expect(started.workflow_id).toMatch(/^wfsrv-\d{8}T\d{6}-/);
    expect(started.steps).toBe(2);
    expect(started.servers).toEqual(['data', 'storage']);
    // Every step was checked against the live catalog, as `mcp-orch run` does.
    expect(started.unchecked_servers).toEqual([]);
    expect(started.task_queue).toBe(`${stack.prefix}orchestrator`);

    const st = await callOk<Status>(mcp, 'pipeline_status', {
      workflow_id: started.workflow_id,
      wait_ms: 60_000,
    });
    expect(st.temporal_status).toBe('COMPLETED');
    expect(st.status).toBe('completed');
    expect(st.steps_by_status).toEqual({ done: 2 });
    expect(st.steps.map((s) => s.id)).toEqual(['schema', 'files']);
    expect(st.steps[0]!.tool_time_ms).toBeGreaterThan(0);
    expect(st.metrics?.steps_done).toBe(2);
    expect(st.metrics?.critical_path).toEqual(['schema', 'files']);

    // A client retrying with the same idempotency key gets the first run back, not a second run.
    const key = { idempotencyKey: `wfsrv-${crypto.randomBytes(4).toString('hex')}` };
    const once = await callTool(mcp, 'start_pipeline', { spec_yaml: SMALL }, key);
    const twice = await callTool(mcp, 'start_pipeline', { spec_yaml: SMALL }, key);
    expect((twice.structuredContent as { workflow_id: string }).workflow_id).toBe(
      (once.structuredContent as { workflow_id: string }).workflow_id,
    );
    expect(twice._meta?.replayed).toBe(true);

    const runs = await eventually('the run in list_runs', async () => {
      const r = await callOk<Runs>(mcp, 'list_runs', { pipeline: 'wfsrv', status: 'COMPLETED' });
      return r.runs.some((x) => x.workflow_id === started.workflow_id) ? r : undefined;
    });
    expect(runs.runs.find((x) => x.workflow_id === started.workflow_id)?.pipeline).toBe('wfsrv');
    expect(runs.query).toContain(`TaskQueue = '${stack.prefix}orchestrator'`);
  });

  it('when a spec of the pipelines folder is started with inputs, then it runs like mcp-orch run hello', async () => {
    const started = await callOk<{ workflow_id: string; source: string; steps: number }>(
      mcp,
      'start_pipeline',
      {
        spec_path: 'hello',
        inputs: { since: '2025-06-01' },
        workflow_id: `hello-wfsrv-${crypto.randomBytes(3).toString('hex')}`,
      },
    );
    expect(started.source).toBe('pipelines/hello.yaml');
    expect(started.steps).toBe(6);
    const st = await callOk<Status>(mcp, 'pipeline_status', {
      workflow_id: started.workflow_id,
      wait_ms: 90_000,
    });
    expect(st.temporal_status).toBe('COMPLETED');
    expect(st.steps_by_status).toEqual({ done: 6 });
  });

  it('when a run is paused, then it holds back new steps until resumed; when cancelled, then it ends CANCELLED', async () => {
    const { workflow_id } = await callOk<{ workflow_id: string }>(mcp, 'start_pipeline', { spec_yaml: SLOW });
    // While it runs, its id cannot start another run.
    const dup = await callTool(mcp, 'start_pipeline', { spec_yaml: SMALL, workflow_id });
    expect(dup.isError).toBe(true);
    expect(errorText(dup)).toContain(`workflow_id '${workflow_id}' is already running`);
    await eventually(
      'first step running',
      async () => {
        const s = await callOk<Status>(mcp, 'pipeline_status', { workflow_id });
        return s.steps.find((x) => x.id === 'first')?.status === 'running' ? s : undefined;
      },
      60_000,
      200,
    );
    const paused = await callOk<{ signal: string }>(mcp, 'pause_run', { workflow_id });
    expect(paused.signal).toBe('pause');
    const held = await eventually(
      'first step done while paused',
      async () => {
        const s = await callOk<Status>(mcp, 'pipeline_status', { workflow_id });
        return s.steps.find((x) => x.id === 'first')?.status === 'done' ? s : undefined;
      },
      120_000,
      300,
    );
    expect(held.status).toBe('paused');
    expect(held.paused).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    const still = await callOk<Status>(mcp, 'pipeline_status', { workflow_id });
    expect(still.steps.find((x) => x.id === 'second')?.status).toBe('waiting');

    // Cancel while paused: the run ends CANCELLED without starting `second`.
    const c = await callOk<{ cancellation_requested: boolean; previous_status: string }>(mcp, 'cancel_run', {
      workflow_id,
    });
    expect(c).toMatchObject({ cancellation_requested: true, previous_status: 'RUNNING' });
    const end = await callOk<Status>(mcp, 'pipeline_status', { workflow_id, wait_ms: 60_000 });
    expect(end.temporal_status).toBe('CANCELLED');
    expect(end.steps.find((x) => x.id === 'second')?.status).not.toBe('done');

    // A closed run can be neither resumed nor cancelled again; the message names the run and its state.
    const resume = await callTool(mcp, 'resume_run', { workflow_id });
    expect(resume.isError).toBe(true);
    expect(errorText(resume)).toContain(`cannot resume '${workflow_id}': the run is CANCELLED`);
  });

  it('when a resumed run is left alone, then it completes', async () => {
    const { workflow_id } = await callOk<{ workflow_id: string }>(mcp, 'start_pipeline', {
      spec_yaml: SMALL,
    });
    await callOk(mcp, 'pause_run', { workflow_id });
    const r = await callOk<{ signal: string }>(mcp, 'resume_run', { workflow_id });
    expect(r.signal).toBe('resume');
    const end = await callOk<Status>(mcp, 'pipeline_status', { workflow_id, wait_ms: 60_000 });
    expect(end.temporal_status).toBe('COMPLETED');
  });

  it('when a pipeline is scheduled every few seconds, then a scheduled run happens and completes, and deleting the schedule stops it', async () => {
    const scheduleId = `wfsrv-sched-${crypto.randomBytes(3).toString('hex')}`;
    const created = await callOk<{
      schedule_id: string;
      spec: string;
      next_runs: string[];
      workflow_id_prefix: string;
      steps: number;
    }>(mcp, 'schedule_pipeline', {
      spec_yaml: SMALL,
      every: '3s',
      schedule_id: scheduleId,
      note: 'workflow server test',
    });
    expect(created.schedule_id).toBe(scheduleId);
    expect(created.spec).toBe('every 3s');
    expect(created.next_runs.length).toBeGreaterThan(0);
    // The id already starts with the pipeline name, so it is not repeated.
    expect(created.workflow_id_prefix).toBe(`${scheduleId}-`);

    const listed = await eventually('schedule in list_schedules', async () => {
      const l = await callOk<Schedules>(mcp, 'list_schedules', {});
      return l.schedules.find((s) => s.schedule_id === scheduleId);
    });
    expect(listed.pipeline).toBe('wfsrv');

    // Temporal stamps scheduled runs with TemporalScheduledById; list_runs filters on it.
    const runs = await eventually(
      'a run started by the schedule',
      async () => {
        const r = await callOk<Runs>(mcp, 'list_runs', { schedule_id: scheduleId });
        return r.count > 0 ? r : undefined;
      },
      60_000,
      1000,
    );
    const run = runs.runs[runs.runs.length - 1]!;
    expect(run.workflow_id.startsWith(created.workflow_id_prefix)).toBe(true);
    expect(run.schedule_id).toBe(scheduleId);
    const st = await callOk<Status>(mcp, 'pipeline_status', {
      workflow_id: run.workflow_id,
      wait_ms: 60_000,
    });
    expect(st.temporal_status).toBe('COMPLETED');
    expect(st.steps_by_status).toEqual({ done: 2 });

    const del = await callOk<{ deleted: boolean; actions_taken: number }>(mcp, 'delete_schedule', {
      schedule_id: scheduleId,
    });
    expect(del.deleted).toBe(true);
    expect(del.actions_taken).toBeGreaterThanOrEqual(1);
    const gone = await callTool(mcp, 'delete_schedule', { schedule_id: scheduleId });
    expect(gone.isError).toBe(true);
    expect(errorText(gone)).toContain(`no schedule with schedule_id '${scheduleId}'`);

    // No new run starts after deletion (wait longer than the interval).
    const before = (await callOk<Runs>(mcp, 'list_runs', { schedule_id: scheduleId, limit: 100 })).count;
    await new Promise((r) => setTimeout(r, 7000));
    const after = (await callOk<Runs>(mcp, 'list_runs', { schedule_id: scheduleId, limit: 100 })).count;
    expect(after).toBe(before);
  });

  it('when mcp-orch schedule create/list/trigger/delete run, then the schedule exists, starts a run on trigger, and is removed', async () => {
    const scheduleId = `cli-sched-${crypto.randomBytes(3).toString('hex')}`;
    const specFile = path.join(dataDir, 'cli-spec.yaml');
    fs.writeFileSync(specFile, SMALL);
    const oldPrefix = process.env.MCP_TASK_QUEUE_PREFIX;
    process.env.MCP_TASK_QUEUE_PREFIX = stack.prefix;
    const lines: string[] = [];
    const errs: string[] = [];
    const outSpy = jest
      .spyOn(process.stdout, 'write')
      .mockImplementation((s: string | Uint8Array) => (lines.push(String(s)), true));
    const errSpy = jest
      .spyOn(process.stderr, 'write')
      .mockImplementation((s: string | Uint8Array) => (errs.push(String(s)), true));
    const cli = async (...args: string[]) => {
      const program = new Command().name('mcp-orch').exitOverride();
      registerScheduleCommand(program);
      process.exitCode = undefined;
      await program.parseAsync(['node', 'mcp-orch', ...args]);
      const code = process.exitCode ?? 0;
      process.exitCode = undefined;
      return code;
    };
    try {
      // --offline: the default registry names every group of the stack; only data and storage run here.
      expect(
        await cli('schedule', 'create', specFile, '--every', '1h', '--id', scheduleId, '--offline'),
      ).toBe(0);
      expect(lines.join('')).toContain(`schedule ${scheduleId} created: wfsrv every 3600s`);
      expect(
        await cli('schedule', 'create', specFile, '--every', '1h', '--cron', '0 6 * * *', '--offline'),
      ).toBe(2);
      expect(errs.join('')).toContain('give exactly one of --every');

      await eventually('schedule in mcp-orch schedule list', async () => {
        lines.length = 0;
        await cli('schedule', 'list');
        return lines.join('').includes(scheduleId) ? true : undefined;
      });
      expect(await cli('schedule', 'trigger', scheduleId)).toBe(0);
      const runs = await eventually('a run started by the trigger', async () => {
        const r = await callOk<Runs>(mcp, 'list_runs', { schedule_id: scheduleId });
        return r.count > 0 ? r : undefined;
      });
      // Runs are named after the pipeline even when the schedule id is not.
      expect(runs.runs[0]!.workflow_id.startsWith(`wfsrv-${scheduleId}-`)).toBe(true);
      expect(await cli('schedule', 'delete', scheduleId)).toBe(0);
      errs.length = 0;
      expect(await cli('schedule', 'delete', scheduleId)).toBe(2);
      expect(errs.join('')).toContain(`no schedule with schedule_id '${scheduleId}'`);
    } finally {
      outSpy.mockRestore();
      errSpy.mockRestore();
      if (oldPrefix === undefined) delete process.env.MCP_TASK_QUEUE_PREFIX;
      else process.env.MCP_TASK_QUEUE_PREFIX = oldPrefix;
    }
  });

  it('when the spec is bad, then start_pipeline refuses it with the problem, its line, and nothing starts', async () => {
    const badYaml = await callTool(mcp, 'start_pipeline', {
      spec_yaml: 'name: broken\nsteps:\n  a: { server: data, tool: sql_query\n  b: [\n',
    });
    expect(badYaml.isError).toBe(true);
    expect(errorText(badYaml)).toMatch(/invalid pipeline \(\d+ problems?\):\nspec_yaml:\d+:\d+: YAML:/);

    const unknownTool = await callTool(mcp, 'start_pipeline', {
      spec_yaml:
        'name: badtool\nsteps:\n  a: { server: data, tool: sql_querry, args: { sql: "select 1" } }\n',
    });
    expect(unknownTool.isError).toBe(true);
    expect(errorText(unknownTool)).toContain(
      "server 'data' has no tool 'sql_querry' (did you mean 'sql_query'?)",
    );
    expect(errorText(unknownTool)).toContain('spec_yaml: steps.a.tool:');

    const badArg = await callTool(mcp, 'start_pipeline', {
      spec_yaml:
        'name: badarg\nsteps:\n  a: { server: data, tool: sql_query, args: { sql: "select 1", max_rows: "many" } }\n',
    });
    expect(badArg.isError).toBe(true);
    expect(errorText(badArg)).toContain('max_rows');

    const escape = await callTool(mcp, 'start_pipeline', { spec_path: '../package.json' });
    expect(escape.isError).toBe(true);
    expect(errorText(escape)).toContain("must not contain '..'");
    const missing = await callTool(mcp, 'start_pipeline', { spec_path: 'nope.yaml' });
    expect(errorText(missing)).toMatch(/no pipeline 'nope.yaml'.*available: .*hello.yaml/);
    const both = await callTool(mcp, 'start_pipeline', { spec_yaml: SMALL, spec_path: 'hello.yaml' });
    expect(errorText(both)).toContain('give exactly one of spec_yaml');

    const runs = await callOk<Runs>(mcp, 'list_runs', { pipeline: 'badtool' });
    expect(runs.count).toBe(0);
  });

  it('when a run or schedule id is unknown or a timetable is wrong, then the tools say so by name', async () => {
    for (const tool of ['pipeline_status', 'pause_run', 'resume_run', 'cancel_run']) {
      const r = await callTool(mcp, tool, { workflow_id: 'no-such-run-123' });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toContain("no run with workflow_id 'no-such-run-123'");
    }
    const trig = await callTool(mcp, 'trigger_schedule', { schedule_id: 'no-such-schedule' });
    expect(errorText(trig)).toContain("no schedule with schedule_id 'no-such-schedule'");
    const soon = await callTool(mcp, 'schedule_pipeline', { spec_yaml: SMALL, every: 'soon' });
    expect(errorText(soon)).toContain("every 'soon' is not a duration");
    const cron = await callTool(mcp, 'schedule_pipeline', { spec_yaml: SMALL, cron: '0 6 * *' });
    expect(errorText(cron)).toContain("cron '0 6 * *' must have 5 fields");
  });

  it('when server_info is called, then it reports the tools and live Temporal figures', async () => {
    const info = await callOk<{
      tools: string[];
      capabilities: Record<string, unknown>;
      measured: Record<string, unknown>;
    }>(mcp, 'server_info', {});
    expect(info.tools).toEqual(
      expect.arrayContaining([
        'start_pipeline',
        'pipeline_status',
        'list_runs',
        'pause_run',
        'resume_run',
        'cancel_run',
        'schedule_pipeline',
        'list_schedules',
        'delete_schedule',
      ]),
    );
    expect(info.capabilities.taskQueue).toBe(`${stack.prefix}orchestrator`);
    expect(info.measured.temporalReachable).toBe(true);
    expect(info.measured.temporalRoundTripMs).toEqual(expect.any(Number));
    expect(info.measured.runningRuns).toEqual(expect.any(Number));
  });
});

describe('workflow server without Temporal', () => {
  let wf: StartedWorkflowServer;
  let mcp: McpClient;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-wfsrv-down-'));
    // Port 1 on loopback: nothing listens, connections are refused at once.
    wf = await startWorkflowServer(
      { host: '127.0.0.1', port: 0, dataDir, discoverTools: false },
      { auth: { mode: 'off' }, env: { TEMPORAL_ADDRESS: '127.0.0.1:1' } },
    );
    mcp = await connectMcp(wf.server.mcpUrl);
  });
  afterAll(async () => {
    await mcp?.close();
    await wf?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('when Temporal is unreachable, then the server still starts, server_info says so, and tools fail with a clear message', async () => {
    const t0 = Date.now();
    const info = await callOk<{ measured: Record<string, unknown> }>(mcp, 'server_info', {});
    expect(info.measured.temporalReachable).toBe(false);
    const r = await callTool(mcp, 'start_pipeline', { spec_yaml: SMALL });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toMatch(/cannot start the run: Temporal answered: .*TEMPORAL_ADDRESS/);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});
