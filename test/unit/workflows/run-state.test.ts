import { isPackedPlan, packPlan, planForWire, planPipeline, unpackPlan } from '../../../src/shared/plan';
import { pipelineStartOptions } from '../../../src/servers/workflow/temporal-runs';
import { parsePipelineSpec } from '../../../src/shared/spec-parse';
import { packRows, stepRow, stepsOf, unpackRows, type McpCallOutput, type PackedRows, type StepRow } from '../../../src/shared/run-types';
import { RunState } from '../../../src/workflows/run-state';

const out = (result: unknown): McpCallOutput => ({ result, callMs: 1, attempt: 1, endpoint: 'e', replayed: false, bytes: 10 });

const diamond = planPipeline(
  parsePipelineSpec(`
name: diamond
steps:
  a: { server: s, tool: t, compensate: { tool: undo, args: { id: "\${steps.a.result.id}" } } }
  b: { server: s, tool: t, args: { x: "\${steps.a.result.id}" } }
  c: { server: s, tool: t, needs: [a] }
  d: { server: s, tool: t, needs: [b, c] }
`),
);

describe('run state: readiness and continue-as-new', () => {
  it('when steps complete, then dependents become ready once all their needs are done, in plan order', () => {
    const s = new RunState(diamond, 'w', 0);
    expect(s.nextReady()).toBe('a');
    expect(s.nextReady()).toBeUndefined();
    s.start('a', 1);
    s.complete('a', out({ id: 7 }), 2);
    expect([s.nextReady(), s.nextReady()]).toEqual(['b', 'c']);
    s.start('b', 3);
    s.complete('b', out({}), 4);
    expect(s.nextReady()).toBeUndefined();
    s.start('c', 3);
    s.complete('c', out({}), 5);
    expect(s.nextReady()).toBe('d');
  });

  it('when a run hands over to the next, then the next sees finished steps, needed results and the compensation order', () => {
    const first = new RunState(diamond, 'w', 100);
    for (const id of ['a', 'b', 'c']) {
      first.nextReady();
      first.start(id, 110);
      first.complete(id, out({ id: 7, big: 'x' }), 120);
    }
    const handover = first.continuation([{ name: 'sig', payload: 1 }], { runId: 'r1', events: 50, steps: 3 });
    // b's and c's results are referenced by nobody still to run; a's by its own compensation.
    expect(Object.keys(handover.results)).toEqual(['a']);
    expect(unpackRows(handover.rows as PackedRows, diamond.order, 100).map((r) => r[0])).toEqual(['a', 'b', 'c']);

    const next = new RunState(diamond, 'w', 999);
    next.restore(handover);
    expect(next.progress.startedAt).toBe(100);
    expect(next.status('b')).toBe('done');
    expect(next.nextReady()).toBe('d');
    expect(next.compensable()).toEqual(['a']);
    expect(next.results.a).toEqual({ id: 7, big: 'x' });
    expect(next.runs).toEqual([{ runId: 'r1', events: 50, steps: 3 }]);
  });

  it('when a plan is large, then progress is a compact table that still lists every step', () => {
    const yaml = `name: wide\nsteps:\n${Array.from({ length: 2500 }, (_, i) => `  s${i}: { server: s, tool: t }`).join('\n')}\n`;
    const plan = planPipeline(parsePipelineSpec(yaml));
    const s = new RunState(plan, 'w', 0);
    for (let i = 0; i < 2000; i++) {
      const id = s.nextReady()!;
      s.start(id, 1);
      s.complete(id, out({ n: i }), 2);
    }
    const p = s.snapshot(10);
    expect(p.table!.rows).toHaveLength(2000);
    expect(Object.keys(p.steps)).toHaveLength(500);
    expect(Object.keys(stepsOf(p, plan))).toHaveLength(2500);
    expect(stepsOf(p, plan).s0!.server).toBe('s');
  });
});

describe('packed rows of a continuation', () => {
  const order = Array.from({ length: 10_000 }, (_, i) => `s${Math.floor(i / 20)}_${i % 20}`);

  it('when rows are packed and unpacked, then they come back as they were (times to 0.1 ms), in completion order', () => {
    const rows: StepRow[] = [
      ['s3_1', 'done', 1_764_000_000_500, 1_764_000_000_530, 12.3456, 20.04, 1],
      ['s0_0', 'done', 1_764_000_000_100, 1_764_000_000_700, 0.083, 4.2, 2],
      ['s1_5', 'failed', 1_764_000_000_800, 1_764_000_000_801, null, 3.33, 5],
      ['s499_19', 'skipped', null, null, null, null, null],
      ['s2_2', 'compensated', 1_764_000_000_900, 1_764_000_001_900, 1000, 1001.25, 1],
    ];
    const packed = JSON.parse(JSON.stringify(packRows(rows, order, 1_764_000_000_000))) as PackedRows;
    expect(unpackRows(packed, order, 1_764_000_000_000)).toEqual([
      ['s3_1', 'done', 1_764_000_000_500, 1_764_000_000_530, 12.3, 20, 1],
      ['s0_0', 'done', 1_764_000_000_100, 1_764_000_000_700, 0.1, 4.2, 2],
      ['s1_5', 'failed', 1_764_000_000_800, 1_764_000_000_801, null, 3.3, 5],
      ['s499_19', 'skipped', null, null, null, null, null],
      ['s2_2', 'compensated', 1_764_000_000_900, 1_764_000_001_900, 1000, 1001.3, 1],
    ]);
  });

  it('when 10,000 steps have finished, then their packed rows are a fraction of the rows (they travel in every run)', () => {
    const start = 1_764_000_000_000;
    const rows: StepRow[] = order.map((id, i) => [id, 'done', start + i * 7, start + i * 7 + 23, 0.0734 + (i % 13), 4.5678 + (i % 7), 1]);
    const plain = JSON.stringify(rows).length;
    const packed = JSON.stringify(packRows(rows, order, start)).length;
    expect(packed).toBeLessThan(plain / 3);
    expect(packed / rows.length).toBeLessThan(25);
    expect(unpackRows(JSON.parse(JSON.stringify(packRows(rows, order, start))), order, start).map((r) => r[0])).toEqual(order);
  });

  it('when a step is not in the plan, then packing fails loudly rather than carrying a wrong row', () => {
    expect(() => packRows([['nope', 'done', 1, 2, 1, 1, 1]], order, 0)).toThrow("step 'nope'");
  });

  it('when a continuation from before packed rows arrives (a run in flight across an upgrade), then its rows are still read', () => {
    const first = new RunState(diamond, 'w', 100);
    first.nextReady();
    first.start('a', 110);
    first.complete('a', out({ id: 7 }), 120);
    const handover = first.continuation([], { runId: 'r1', events: 10, steps: 1 });
    const old = { ...handover, rows: [stepRow(first.progress.steps.a!)] };
    const next = new RunState(diamond, 'w', 999);
    next.restore(old);
    expect(next.status('a')).toBe('done');
    expect(next.progress.steps.a!.endedAt).toBe(120);
    expect([next.nextReady(), next.nextReady()]).toEqual(['b', 'c']);
  });
});

describe('packed plans', () => {
  it('when a run starts, then a large plan travels packed under the 2 MB payload limit and a small one as is', () => {
    const chain = (n: number) => planPipeline(parsePipelineSpec(`name: chain\nsteps:\n${Array.from({ length: n }, (_, i) => `  s${i}: { server: s, tool: t, args: { n: ${i} }${i ? `, needs: [s${i - 1}]` : ''} }`).join('\n')}\n`));
    const small = chain(100);
    expect(planForWire(small)).toBe(small);
    const big = chain(10_000);
    expect(JSON.stringify(big).length).toBeGreaterThan(2 * 1024 * 1024);
    const wire = planForWire(big);
    expect(isPackedPlan(wire)).toBe(true);
    expect(JSON.stringify(wire).length).toBeLessThan(1024 * 1024);
    // The workflow server and schedules start runs through the same options.
    expect(isPackedPlan(pipelineStartOptions(big, '').args[0].plan)).toBe(true);
    expect(pipelineStartOptions(small, '').args[0].plan).toBe(small);
  });

  it('when a plan is packed and unpacked, then it is the same plan, and much smaller', () => {
    const yaml = `name: chain\ndefaults: { retry: { maximumAttempts: 3 } }\nsteps:\n${Array.from({ length: 300 }, (_, i) => `  s${i}: { server: s, tool: t, args: { n: ${i} }${i ? `, needs: [s${i - 1}]` : ''}${i === 5 ? ', retry: { maximumAttempts: 9 }' : ''} }`).join('\n')}\n`;
    const plan = planPipeline(parsePipelineSpec(yaml), { maxInFlight: 10 });
    const packed = packPlan(plan);
    const back = unpackPlan(JSON.parse(JSON.stringify(packed)));
    expect(back.order).toEqual(plan.order);
    expect(back.levels).toEqual(plan.levels);
    expect(back.steps.s5!.retry.maximumAttempts).toBe(9);
    expect(back.steps.s6!.retry.maximumAttempts).toBe(3);
    for (const id of plan.order) expect({ ...back.steps[id], dependents: [...back.steps[id]!.dependents].sort() }).toEqual({ ...plan.steps[id], dependents: [...plan.steps[id]!.dependents].sort() });
    expect(back.maxInFlight).toBe(10);
    expect(JSON.stringify(packed).length).toBeLessThan(JSON.stringify(plan).length / 3);
  });

  it('when the in-flight cap is out of range, then planning names it', () => {
    expect(() => planPipeline(parsePipelineSpec('name: x\nsteps:\n  a: { server: s, tool: t }\n'), { maxInFlight: 5000 })).toThrow(/maxInFlight.*1 to 2000/s);
  });
});
