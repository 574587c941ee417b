import { stepTable, schemaChangeLines } from '../../../src/client/render';
import { packPlan, planPipeline, unpackPlan } from '../../../src/shared/plan';
import { parsePipelineSpec } from '../../../src/shared/spec-parse';
import type { McpCallOutput } from '../../../src/shared/run-types';
import { RunState } from '../../../src/workflows/run-state';

const out = (schemaHash?: string): McpCallOutput => ({ result: {}, callMs: 1, attempt: 1, endpoint: 'e', replayed: false, bytes: 2, ...(schemaHash ? { schemaHash } : {}) });

const spec = parsePipelineSpec(`
name: pins
steps:
  a: { server: data, tool: sql_query, compensate: { tool: drop_table } }
  b: { server: data, tool: sql_query, needs: [a] }
  c: { server: storage, tool: list_files, needs: [b] }
`);

describe('tool schema pinning', () => {
  it('when planned against a catalog, then the plan pins the hash of every tool it calls, compensations included, and keeps them packed', () => {
    const catalog = {
      data: { tools: { sql_query: { schemaHash: 'h-sql' }, drop_table: { schemaHash: 'h-drop' }, unused: { schemaHash: 'h-x' } } },
      storage: { tools: { list_files: { schemaHash: 'h-list' } } },
    };
    const plan = planPipeline(spec, { catalog });
    expect(plan.toolSchemas).toEqual({ 'data/sql_query': 'h-sql', 'data/drop_table': 'h-drop', 'storage/list_files': 'h-list' });
    expect(unpackPlan(packPlan(plan)).toolSchemas).toEqual(plan.toolSchemas);
    expect(planPipeline(spec).toolSchemas).toBeUndefined();
  });

  it('when a step meets a tool whose schema differs from the pinned one, then the change is recorded and shown, the run goes on', () => {
    const plan = planPipeline(spec, { catalog: { data: { tools: { sql_query: { schemaHash: 'aaaaaaaaaaaa1' }, drop_table: {} } }, storage: { tools: { list_files: {} } } } });
    const s = new RunState(plan, 'w', 0);
    s.start('a', 1);
    s.complete('a', out('aaaaaaaaaaaa1'), 2);
    s.start('b', 3);
    s.complete('b', out('bbbbbbbbbbbb2'), 4);
    // Unpinned at plan time: the first call pins it, later calls compare.
    s.start('c', 5);
    s.complete('c', out('cccccccccccc3'), 6);
    expect(s.progress.toolSchemas).toEqual({ 'data/sql_query': 'aaaaaaaaaaaa1', 'storage/list_files': 'cccccccccccc3' });
    expect(s.progress.schemaChanges).toEqual([{ stepId: 'b', tool: 'data/sql_query', pinned: 'aaaaaaaaaaaa1', seen: 'bbbbbbbbbbbb2', at: 4 }]);
    expect(s.status('c')).toBe('done');
    expect(stepTable(s.progress)).toMatch(/b +data\/sql_query .*schema of data\/sql_query changed since run start \(aaaaaaaa → bbbbbbbb\)/);
    expect(schemaChangeLines(s.progress)).toEqual([
      "warning: step 'b' called data/sql_query, whose schema changed since the run started (pinned aaaaaaaaaaaa, now bbbbbbbbbbbb)",
    ]);
  });

  it('when the run continues as new, then pins and recorded changes carry over', () => {
    const plan = planPipeline(spec);
    const first = new RunState(plan, 'w', 0);
    first.nextReady();
    first.start('a', 1);
    first.complete('a', out('h1'), 2);
    first.checkSchema('a', 'data/sql_query', 'h2', 3);
    const next = new RunState(plan, 'w', 10);
    next.restore(first.continuation([], { runId: 'r1', events: 10, steps: 1 }));
    expect(next.progress.toolSchemas).toEqual({ 'data/sql_query': 'h1' });
    expect(next.progress.schemaChanges).toHaveLength(1);
  });
});
