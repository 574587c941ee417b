import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ToolError } from '../../../../src/servers/kit';
import { loadWorkflowServerConfig } from '../../../../src/servers/workflow/config';
import { planFromText, resolveSpecPath, SpecPathError } from '../../../../src/servers/workflow/plan-source';
import {
  buildRunsQuery,
  defaultWorkflowId,
  quoteVisibility,
} from '../../../../src/servers/workflow/temporal-runs';
import { scheduleSpecFor } from '../../../../src/servers/workflow/temporal-schedules';
import { PipelineError } from '../../../../src/shared/problems';
import type { Registry } from '../../../../src/registry/registry';

const registry: Registry = {
  groups: {
    data: { endpoints: [{ transport: 'http', url: 'http://127.0.0.1:1/mcp', priority: 1, headers: {} }] },
    storage: { endpoints: [{ transport: 'http', url: 'http://127.0.0.1:2/mcp', priority: 1, headers: {} }] },
  },
};

describe('planFromText', () => {
  it('when the YAML is broken, then a PipelineError names the source and the line', () => {
    let err: unknown;
    try {
      planFromText('name: x\nsteps:\n  a: { server: data\n', { source: 'spec_yaml', registry });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).message).toMatch(/^spec_yaml:\d+:\d+: YAML:/);
  });

  it('when a step names a group the registry lacks, then planning refuses it', () => {
    expect(() =>
      planFromText('name: x\nsteps:\n  a: { server: compute, tool: t }\n', { source: 'spec_yaml', registry }),
    ).toThrow(/compute/);
  });

  it('when the catalog is known, then unknown tools are refused; without discovery every used group is unchecked', () => {
    const spec = 'name: x\nsteps:\n  a: { server: data, tool: table_schema, args: { table: t } }\n';
    const offline = planFromText(spec, { source: 's', registry });
    expect(offline.unchecked).toEqual(['data']);
    expect(offline.plan.order).toEqual(['a']);
    const discovery = { at: '', servers: [], totalTools: 0, catalog: { data: { tools: { sql_query: {} } } } };
    expect(() => planFromText(spec, { source: 's', registry, discovery })).toThrow(/no tool 'table_schema'/);
  });

  it('when inputs are given, then they override declared defaults', () => {
    const p = planFromText(
      'name: x\ninput:\n  n: { type: number, default: 1 }\nsteps:\n  a: { server: data, tool: t, args: { v: "${input.n}" } }\n',
      {
        source: 's',
        registry,
        input: { n: '7' },
      },
    );
    expect(p.plan.input.n).toBe(7);
  });
});

describe('resolveSpecPath', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-specs-'));
    fs.writeFileSync(path.join(root, 'hello.yaml'), 'name: hello');
    fs.writeFileSync(path.join(root, '..', `${path.basename(root)}-secret.yaml`), 'secret');
    fs.symlinkSync(path.join(root, '..', `${path.basename(root)}-secret.yaml`), path.join(root, 'link.yaml'));
  });
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(path.join(root, '..', `${path.basename(root)}-secret.yaml`), { force: true });
  });

  it('when given hello, hello.yaml or pipelines/hello.yaml, then all resolve to the same file', () => {
    const want = fs.realpathSync(path.join(root, 'hello.yaml'));
    for (const p of ['hello', 'hello.yaml', 'pipelines/hello.yaml'])
      expect(resolveSpecPath(root, p)).toBe(want);
  });

  it.each([
    ['../x.yaml', /must not contain '\.\.'/],
    ['/etc/passwd', /must be relative/],
    ['a\0.yaml', /NUL/],
    ['link.yaml', /outside the pipelines folder/],
    ['missing', /no pipeline 'missing'.*hello\.yaml/],
  ])('when given %s, then it is refused', (p, msg) => {
    expect(() => resolveSpecPath(root, p)).toThrow(SpecPathError);
    expect(() => resolveSpecPath(root, p)).toThrow(msg);
  });
});

describe('buildRunsQuery', () => {
  it('when no filter is given, then it still keeps to pipeline runs on this task queue', () => {
    expect(buildRunsQuery('t1-')).toBe("WorkflowType = 'pipelineWorkflow' AND TaskQueue = 't1-orchestrator'");
  });
  it('when filters are given, then each becomes a clause with visibility spelling', () => {
    const q = buildRunsQuery('', {
      status: 'CANCELLED',
      pipeline: 'hello',
      scheduleId: 's1',
      startedAfter: new Date('2025-01-01T00:00:00Z'),
    });
    expect(q).toContain("ExecutionStatus = 'Canceled'");
    expect(q).toContain("WorkflowId STARTS_WITH 'hello-'");
    expect(q).toContain("TemporalScheduledById = 's1'");
    expect(q).toContain("StartTime > '2025-01-01T00:00:00.000Z'");
  });
  it('when a value holds a quote, then it cannot break out of the literal', () => {
    expect(quoteVisibility("a' OR 1=1 --")).toBe("'a\\' OR 1=1 --'");
  });
  it('when no id is given, then the default follows the CLI pattern', () => {
    expect(defaultWorkflowId('hello', new Date('2025-03-04T05:06:07.890Z'))).toMatch(
      /^hello-20250304T050607-[a-z0-9]{1,4}$/,
    );
  });
});

describe('scheduleSpecFor', () => {
  it('when every is a duration, then it becomes an interval in ms', () => {
    expect(scheduleSpecFor({ every: '1h' })).toEqual({ intervals: [{ every: 3_600_000 }] });
  });
  it('when cron has 5 fields or is a shorthand, then it is passed on', () => {
    expect(scheduleSpecFor({ cron: '0 6 * * 1-5' })).toEqual({ cronExpressions: ['0 6 * * 1-5'] });
    expect(scheduleSpecFor({ cron: '@daily' })).toEqual({ cronExpressions: ['@daily'] });
  });
  it.each([
    [{}, /exactly one of every/],
    [{ every: '1h', cron: '@daily' }, /exactly one of every/],
    [{ every: 'soon' }, /not a duration/],
    [{ every: '100ms' }, /shorter than the minimum/],
    [{ cron: '0 6 * *' }, /must have 5 fields/],
    [{ cron: '0 6 * * *; rm -rf /' }, /must have 5 fields/],
  ])('when given %j, then it is refused with a ToolError', (t, msg) => {
    expect(() => scheduleSpecFor(t)).toThrow(ToolError);
    expect(() => scheduleSpecFor(t)).toThrow(msg);
  });
});

describe('loadWorkflowServerConfig', () => {
  it('when the environment is empty, then defaults apply (port 8010, discovery on, no prefix)', () => {
    const c = loadWorkflowServerConfig({ MCP_DATA_ROOT: '/tmp/x' });
    expect(c.port).toBe(8010);
    expect(c.discoverTools).toBe(true);
    expect(c.taskQueuePrefix).toBe('');
    expect(c.dataDir).toBe(path.join('/tmp/x', 'workflow'));
  });
  it('when variables are set, then they are read and validated', () => {
    const c = loadWorkflowServerConfig({
      MCP_TASK_QUEUE_PREFIX: 'p1-',
      MCP_WORKFLOW_DISCOVER: 'false',
      MCP_WORKFLOW_MAX_LIST: '10',
      TEMPORAL_UI_PORT: '9999',
    });
    expect(c).toMatchObject({
      taskQueuePrefix: 'p1-',
      discoverTools: false,
      maxList: 10,
      temporalUiUrl: 'http://127.0.0.1:9999',
    });
    expect(() => loadWorkflowServerConfig({ MCP_TASK_QUEUE_PREFIX: 'bad prefix' })).toThrow(
      /taskQueuePrefix/,
    );
  });
});
