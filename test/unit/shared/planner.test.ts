import { planPipeline, findCycle, type ToolCatalog } from '../../../src/shared/plan';
import { parsePipelineSpec } from '../../../src/shared/spec-parse';
import { PipelineError } from '../../../src/shared/problems';
import { validateToolArgs } from '../../../src/mcp/args-validator';

const catalog: ToolCatalog = {
  data: {
    tools: {
      sql_query: {
        inputSchema: {
          type: 'object',
          properties: { sql: { type: 'string' }, max_rows: { type: 'integer' } },
          required: ['sql'],
          additionalProperties: false,
        },
      },
    },
  },
  storage: { tools: { upload_file: { inputSchema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] } } } },
};

function problemsOf(yaml: string, opts: Parameters<typeof planPipeline>[1] = {}): string {
  try {
    planPipeline(parsePipelineSpec(yaml, 'x.yaml'), { servers: ['data', 'storage'], ...opts });
  } catch (err) {
    if (err instanceof PipelineError) return err.message;
    throw err;
  }
  throw new Error('expected the plan to be rejected');
}

describe('planner', () => {
  const diamond = `
name: diamond
input: { since: "2024-01-01" }
steps:
  a: { server: data, tool: sql_query, args: { sql: "select 1" } }
  b: { server: data, tool: sql_query, args: { sql: "select '\${input.since}'" }, needs: [a] }
  c: { server: storage, tool: upload_file, args: { key: "\${steps.a.result.uri}" } }
  d: { server: data, tool: sql_query, args: { sql: "select 1" }, needs: [b, c] }
`;

  it('when steps form a diamond, then levels, critical path and parallelism follow the needs', () => {
    const plan = planPipeline(parsePipelineSpec(diamond), { servers: ['data', 'storage'], catalog, validateArgs: validateToolArgs });
    expect(plan.levels).toEqual([['a'], ['b', 'c'], ['d']]);
    expect(plan.steps.c!.needs).toEqual(['a']); // implied by the reference
    expect(plan.maxParallelism).toBe(2);
    expect(plan.criticalPath).toHaveLength(3);
    expect(plan.criticalPath[0]).toBe('a');
    expect(plan.criticalPath[2]).toBe('d');
    expect(plan.edges).toBe(4);
    expect(plan.steps.d!.retry.maximumAttempts).toBe(5);
  });

  it('when estimates are given, then the critical path follows the heavier branch', () => {
    const plan = planPipeline(parsePipelineSpec(diamond), { estimatesMs: { a: 1, b: 1, c: 50, d: 1 } });
    expect(plan.criticalPath).toEqual(['a', 'c', 'd']);
  });

  it('when needs form a cycle, then the cycle is named in order', () => {
    const msg = problemsOf(`
name: loop
steps:
  a: { server: data, tool: sql_query, args: { sql: "x" }, needs: [c] }
  b: { server: data, tool: sql_query, args: { sql: "x" }, needs: [a] }
  c: { server: data, tool: sql_query, args: { sql: "x" }, needs: [b] }
`);
    expect(msg).toMatch(/dependency cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)/);
  });

  it('when a 20,000-step chain is listed last step first, then it plans without recursion (no stack overflow)', () => {
    const n = 20_000;
    const lines = ['name: backwards', 'steps:'];
    for (let i = 0; i < n; i++) lines.push(`  s${i}: { server: data, tool: sql_query, args: { sql: "x" }${i < n - 1 ? `, needs: [s${i + 1}]` : ''} }`);
    const plan = planPipeline(parsePipelineSpec(lines.join('\n')));
    expect(plan.levels).toHaveLength(n);
    expect(plan.order[0]).toBe(`s${n - 1}`);
    expect(plan.steps.s0!.depth).toBe(n - 1);
    expect(plan.criticalPath).toHaveLength(n);
  });

  it('when a long chain closes into a cycle, then the whole cycle is named in execution order', () => {
    const needs: Record<string, string[]> = {};
    for (let i = 0; i < 20_000; i++) needs[`s${i}`] = [`s${(i + 1) % 20_000}`];
    const cycle = findCycle(needs)!;
    expect(cycle).toHaveLength(20_001);
    expect(cycle.slice(0, 3)).toEqual(['s0', 's19999', 's19998']);
  });

  it('when a reference creates a cycle, then it is reported too', () => {
    expect(findCycle({ a: ['b'], b: ['a'] })).toEqual(expect.arrayContaining(['a', 'b']));
  });

  it('when a step needs an unknown step, then the problem names it with a suggestion', () => {
    const msg = problemsOf(`
name: bad
steps:
  extract: { server: data, tool: sql_query, args: { sql: "x" } }
  load: { server: data, tool: sql_query, args: { sql: "x" }, needs: [extrakt] }
`);
    expect(msg).toContain("steps.load.needs: unknown step 'extrakt' (did you mean 'extract'?)");
  });

  it('when an argument references an unknown step or input, then the path and reference are named', () => {
    const msg = problemsOf(`
name: bad
steps:
  a: { server: data, tool: sql_query, args: { sql: "\${steps.nope.result.uri}", max_rows: "\${input.rows}" } }
  b: { server: data, tool: sql_query, args: { sql: "\${steps.a.output}" } }
`);
    expect(msg).toContain("steps.a.args.sql: unknown step 'nope'");
    expect(msg).toContain("steps.a.args.max_rows: unknown input 'rows'");
    expect(msg).toContain('steps.b.args.sql: bad reference ${steps.a.output}');
  });

  it('when a step names an unknown tool or server, then both are rejected against the catalog', () => {
    const msg = problemsOf(
      `
name: bad
steps:
  a: { server: data, tool: sql_querry, args: { sql: "x" } }
  b: { server: dta, tool: sql_query, args: { sql: "x" } }
`,
      { catalog },
    );
    expect(msg).toContain("steps.a.tool: server 'data' has no tool 'sql_querry' (did you mean 'sql_query'?)");
    expect(msg).toContain("steps.b.server: unknown server 'dta' (did you mean 'data'?)");
  });

  it('when literal arguments break the tool schema, then each problem is named; referenced ones are deferred', () => {
    const msg = problemsOf(
      `
name: bad
steps:
  a: { server: data, tool: sql_query, args: { max_rows: "ten", colour: red } }
  b: { server: storage, tool: upload_file, args: { key: "\${steps.a.result.uri}" } }
`,
      { catalog, validateArgs: validateToolArgs },
    );
    expect(msg).toContain("data/sql_query: missing required argument 'sql'");
    expect(msg).toContain("data/sql_query: unknown argument 'colour'");
    expect(msg).toContain("'max_rows' must be integer");
    expect(msg).not.toContain('upload_file');
  });

  it('when inputs are overridden, then they are coerced by declared type and unknown ones refused', () => {
    const spec = parsePipelineSpec(`
name: inputs
input:
  rows: { type: number, default: 10 }
  since: "2024-01-01"
steps:
  a: { server: data, tool: sql_query, args: { sql: "x" } }
`);
    expect(planPipeline(spec, { input: { rows: '25' } }).input).toEqual({ rows: 25, since: '2024-01-01' });
    expect(() => planPipeline(spec, { input: { rowz: '1' } })).toThrow("unknown input 'rowz'");
    expect(() => planPipeline(spec, { input: { rows: 'many' } })).toThrow("expected a number, got 'many'");
  });
});

describe('spec parsing', () => {
  it('when an argument looks like a date or a YAML 1.1 word, then it stays what was written (YAML 1.2 core types)', () => {
    const args = parsePipelineSpec('name: x\nsteps:\n  a: { server: data, tool: t, args: { since: 2024-01-01, at: 2024-01-01 10:00:00, flag: yes, n: 012, m: 0x10, off: false } }\n').steps.a!.args;
    expect(args).toEqual({ since: '2024-01-01', at: '2024-01-01 10:00:00', flag: 'yes', n: 12, m: 16, off: false });
  });

  it('when a step merges an anchored mapping (<<: *x), then the merged keys are there, on the fast and the locating parser alike', () => {
    const yaml = 'name: x\ndefaults:\n  retry: &r { maximumAttempts: 2, backoffCoefficient: 3 }\nsteps:\n  a: { server: data, tool: t, retry: { <<: *r, maximumAttempts: 4 } }\n';
    expect(parsePipelineSpec(yaml).steps.a!.retry).toEqual({ maximumAttempts: 4, backoffCoefficient: 3 });
    // A second, broken step sends the spec through the locating parser: the merge still applies there.
    expect(() => parsePipelineSpec(`${yaml}  b: { server: data, tool: t, retry: { <<: *r, maximumAttempts: 0 } }\n`, 'p.yaml')).toThrow(
      /p\.yaml:6:\d+: steps\.b\.retry\.maximumAttempts/,
    );
  });

  it('when a merge key names something that is not a mapping, then the error says so instead of crashing', () => {
    expect(() => parsePipelineSpec('name: x\nv: &v 3\nsteps:\n  a: { server: data, tool: t, retry: { <<: *v } }\n', 'p.yaml')).toThrow(PipelineError);
  });

  it('when the spec is JSON, then it parses to the same spec as its YAML, and JSON with a trailing comma is read as YAML', () => {
    const yaml = 'name: x\nsteps:\n  a: { server: data, tool: t, args: { since: "2024-01-01" } }\n  b: { server: data, tool: t, needs: [a] }\n';
    const json = JSON.stringify({ name: 'x', steps: { a: { server: 'data', tool: 't', args: { since: '2024-01-01' } }, b: { server: 'data', tool: 't', needs: ['a'] } } });
    expect(parsePipelineSpec(`\n  ${json}`)).toEqual(parsePipelineSpec(yaml));
    expect(parsePipelineSpec(json.replace(/}$/, ',}'))).toEqual(parsePipelineSpec(yaml));
    expect(() => parsePipelineSpec(json.replace('"tool":"t"', '"tol":"t"'), 'p.json')).toThrow(/p\.json:1:\d+: steps\.a: unknown field 'tol'/);
  });

  it('when YAML is malformed, then the error has the line', () => {
    expect(() => parsePipelineSpec('name: x\nsteps:\n  a: [1, 2\n', 'p.yaml')).toThrow(/p\.yaml:\d+:\d+: YAML:/);
  });

  it('when fields are unknown or missing, then each is reported with its path and line', () => {
    try {
      parsePipelineSpec('name: x\nsteps:\n  a:\n    server: data\n    tol: sql_query\n', 'p.yaml');
      throw new Error('should fail');
    } catch (err) {
      expect(err).toBeInstanceOf(PipelineError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/p\.yaml:5:\d+: steps\.a: unknown field 'tol'/);
      expect(msg).toMatch(/steps\.a\.tool: is required/);
    }
  });

  it('when durations are malformed, then the field is named', () => {
    expect(() => parsePipelineSpec('name: x\nsteps:\n  a: { server: data, tool: t, timeouts: { startToClose: soon } }\n')).toThrow(
      /steps\.a\.timeouts\.startToClose: a duration/,
    );
  });

  it('when a spec is valid, then durations become milliseconds in the plan', () => {
    const plan = planPipeline(parsePipelineSpec('name: x\ndefaults: { timeouts: { startToClose: 2m } }\nsteps:\n  a: { server: data, tool: t, retry: { maximumAttempts: 1, initialInterval: 250ms } }\n'));
    expect(plan.steps.a!.timeouts.startToCloseMs).toBe(120_000);
    expect(plan.steps.a!.retry).toMatchObject({ maximumAttempts: 1, initialIntervalMs: 250 });
  });
});
