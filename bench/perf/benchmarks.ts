import v8 from 'node:v8';
import vm from 'node:vm';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { load as yamlLoad } from 'js-yaml';
import { validateToolArgs } from '../../src/mcp/args-validator';
import type { McpClientPool } from '../../src/mcp/pool';
import { computeRunMetrics } from '../../src/shared/metrics';
import { planPipeline, type Plan, type ToolCatalog } from '../../src/shared/plan';
import { stepsOf, type RunReport } from '../../src/shared/run-types';
import { parsePipelineSpec } from '../../src/shared/spec-parse';
import { chainSpec, chainsSpec, fanoutSpec, layeredSpec, seedShapedSpec } from './specs';
import { plan, type BenchStack, type WorkerSet } from './stack';
import { median, mib, percentile, type Row } from './stats';

const EventType = temporal.api.enums.v1.EventType;

export interface BenchContext {
  stack: BenchStack;
  /** Workers with today's options (src/workers). */
  base: WorkerSet;
  /** Workers with the tuned options under test. */
  tuned: WorkerSet;
  quick: boolean;
  direct: McpClientPool;
  rows: Row[];
  floorMs?: number;
  /** Per step of a bare Temporal chain (bench/perf/bare), measured by `overhead`. */
  temporalFloorMs?: number;
}

const ms = (v: number, d = 1) => `${v.toFixed(d)} ms`;
const rss = () => mib(process.memoryUsage().rss);
let gc: (() => void) | undefined;
/** Heap in use after a full garbage collection (V8's gc, exposed at run time). */
function heapAfterGc(): number {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
  return mib(process.memoryUsage().heapUsed);
}
const push = (ctx: BenchContext, row: Row) => {
  ctx.rows.push({ ...row, rssMiB: Math.round(rss()) });
  process.stderr.write(`  ${row.bench}: ${row.measured} (baseline ${row.baseline})\n`);
};

/** MCP floor: one tool call over a warm Streamable HTTP connection, no Temporal in between. */
export async function mcpFloor(ctx: BenchContext): Promise<void> {
  await ctx.direct.callTool('bench', 'work', { ms: 0 });
  const xs: number[] = [];
  for (let i = 0; i < (ctx.quick ? 200 : 1000); i++) {
    const t = performance.now();
    await ctx.direct.callTool('bench', 'work', { ms: 0 });
    xs.push(performance.now() - t);
  }
  ctx.floorMs = median(xs);
  push(ctx, { bench: 'MCP floor (warm Streamable HTTP call, 0 ms tool)', measured: ms(ctx.floorMs, 2), target: '—', baseline: 'TS SDK published ≈1.3 ms', ratio: `${(ctx.floorMs / 1.3).toFixed(2)}×` });
}

/** 1. Coordination overhead per step on a 50-step chain, tuned vs today's workers, minus the MCP floor. */
export async function overhead(ctx: BenchContext): Promise<void> {
  await ctx.base.run(plan(chainSpec(5, 0)));
  await ctx.tuned.run(plan(chainSpec(5, 0)));
  // The Temporal floor: what a chain step costs here with nothing of ours (no MCP, plan, refs or interceptors).
  const bare = await ctx.stack.addBareWorkers();
  await bare(5);
  const bareMs: number[] = [];
  for (let r = 0; r < (ctx.quick ? 3 : 5); r++) {
    const t = performance.now();
    await bare(50);
    bareMs.push((performance.now() - t) / 50);
  }
  ctx.temporalFloorMs = median(bareMs);
  push(ctx, {
    bench: 'Temporal floor: bare TS workflow, 50-step chain of no-op activities (per step)',
    measured: ms(ctx.temporalFloorMs),
    target: '—',
    baseline: 'Temporal TS published ≈50–77 ms',
    ratio: '—',
    data: { bareMs },
  });
  for (const toolMs of ctx.quick ? [0, 100] : [0, 100, 1000]) {
    const p = plan(chainSpec(50, toolMs));
    const base: number[] = [];
    const tuned: number[] = [];
    for (let r = 0; r < (ctx.quick ? 3 : 5); r++) {
      base.push(computeRunMetrics(await ctx.base.run(p)).coordinationOverheadPerStepMs);
      tuned.push(computeRunMetrics(await ctx.tuned.run(p)).coordinationOverheadPerStepMs);
    }
    const t = median(tuned) - (ctx.floorMs ?? 0);
    const b = median(base) - (ctx.floorMs ?? 0);
    push(ctx, {
      bench: `Coordination overhead per step minus MCP floor, 50-step chain of ${toolMs} ms tools`,
      measured: ms(t),
      target: toolMs === 0 ? '≤ 15 ms' : '—',
      baseline: `today's workers ${ms(b)}; Temporal floor ${ms(ctx.temporalFloorMs ?? NaN)}`,
      ratio: `${(t / b).toFixed(2)} of today`,
      data: { tuned, base, floorMs: ctx.floorMs },
    });
  }
}

/** As-soon-as-ready Promise scheduler calling the same server directly; returns E = LB / makespan. */
async function promiseE(ctx: BenchContext, p: Plan, toolMs: number): Promise<number> {
  const t0 = performance.now();
  const done = new Map<string, Promise<void>>();
  const go = (id: string): Promise<void> => {
    if (!done.has(id)) done.set(id, Promise.all(p.steps[id]!.needs.map(go)).then(async () => void (await ctx.direct.callTool('bench', 'work', { ms: toolMs }))));
    return done.get(id)!;
  };
  await Promise.all(p.order.map(go));
  return (p.levels.length * toolMs) / (performance.now() - t0);
}

/** 2. Parallel efficiency on layered random DAGs vs the Promise scheduler, and the break-even tool time. */
export async function efficiency(ctx: BenchContext): Promise<void> {
  const reps = ctx.quick ? 2 : 3;
  for (const [width, depth] of ctx.quick ? [[8, 5], [32, 5]] : [[1, 5], [8, 5], [32, 5], [1, 20], [8, 20], [32, 20]]) {
    const p = plan(layeredSpec(width!, depth!, 500));
    const es: number[] = [];
    const ps: number[] = [];
    for (let r = 0; r < reps; r++) {
      es.push(computeRunMetrics(await ctx.tuned.run(p)).parallelEfficiency);
      ps.push(await promiseE(ctx, p, 500));
    }
    // The best any Temporal workflow could do here: each level pays at least one bare chain step.
    const bound = ctx.temporalFloorMs === undefined ? undefined : (depth! * 500) / (depth! * (500 + ctx.temporalFloorMs));
    push(ctx, {
      bench: `Parallel efficiency E, layered DAG width ${width} depth ${depth}, 500 ms tools`,
      measured: median(es).toFixed(3),
      target: '≥ 0.97',
      baseline: `Promise scheduler E = ${median(ps).toFixed(3)}${bound === undefined ? '' : `; Temporal-floor bound ${bound.toFixed(3)}`}`,
      ratio: `${(median(es) / median(ps)).toFixed(3)} of Promise`,
      data: { es, ps, bound },
    });
  }
  // Break-even: the shortest tool time at which E reaches 0.95 (layered 8 × 5).
  const curve: Array<{ toolMs: number; e: number }> = [];
  for (const toolMs of ctx.quick ? [50, 200, 500] : [25, 50, 100, 200, 350, 500, 1000]) {
    const p = plan(layeredSpec(8, 5, toolMs));
    const es: number[] = [];
    for (let r = 0; r < reps; r++) es.push(computeRunMetrics(await ctx.tuned.run(p)).parallelEfficiency);
    curve.push({ toolMs, e: median(es) });
  }
  let breakEven: number | undefined;
  for (let i = 0; i < curve.length; i++) {
    const c = curve[i]!;
    if (c.e >= 0.95) {
      const prev = curve[i - 1];
      // Linear interpolation between the last point below and the first at or above 0.95.
      breakEven = prev ? prev.toolMs + ((0.95 - prev.e) / (c.e - prev.e)) * (c.toolMs - prev.toolMs) : c.toolMs;
      break;
    }
  }
  push(ctx, {
    bench: 'Break-even tool duration where E reaches 0.95 (layered 8 × 5)',
    measured: breakEven === undefined ? `> ${curve.at(-1)!.toolMs} ms` : ms(breakEven, 0),
    target: '—',
    baseline: curve.map((c) => `${c.toolMs} ms: ${c.e.toFixed(2)}`).join(', '),
    ratio: '—',
    data: curve,
  });
}

/** 3. Fan-out: one level of width 10 … 1,500 (3,000 in full mode: chunked under the 2,000 pending cap). */
export async function fanout(ctx: BenchContext): Promise<void> {
  for (const width of ctx.quick ? [10, 100, 1500] : [10, 100, 500, 1500, 3000]) {
    const t0 = performance.now();
    const report = await ctx.tuned.run(plan(fanoutSpec(width, 0)));
    const wall = performance.now() - t0;
    const done = Object.values(stepsOf(report)).filter((s) => s.status === 'done').length;
    push(ctx, {
      bench: `Fan-out width ${width} (0 ms tools)`,
      measured: `${report.status}, ${(wall / 1000).toFixed(1)} s, ${(done / (wall / 1000)).toFixed(0)} steps/s`,
      target: width >= 1500 ? 'completes (in-flight cap 1,000)' : '—',
      baseline: `runs: ${(report.runs?.length ?? 0) + 1}`,
      ratio: `${done}/${width + 2} steps`,
      data: { wall, done, runs: report.runs },
    });
  }
}

/** Schedule-to-start latencies (ms) of a run's activities, from its history's timestamps. */
async function scheduleToStart(handle: WorkflowHandle): Promise<number[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const at = new Map<string, number>();
  const out: number[] = [];
  const t = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) at.set(String(e.eventId), t(e));
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
      const s = at.get(String(e.activityTaskStartedEventAttributes?.scheduledEventId));
      if (s !== undefined) out.push(t(e) - s);
    }
  }
  return out;
}

/** 4. Concurrency: N seed-shaped workflows at once: steps/s, schedule-to-start p95, slowdown, failures. */
export async function concurrency(ctx: BenchContext): Promise<void> {
  const p = plan(seedShapedSpec(20));
  const alone: number[] = [];
  for (let r = 0; r < 3; r++) alone.push(computeRunMetrics(await ctx.tuned.run(p)).makespanMs);
  for (const n of ctx.quick ? [200] : [50, 100, 200]) {
    const t0 = performance.now();
    const handles = await Promise.all(Array.from({ length: n }, () => ctx.tuned.start(p)));
    const settled = await Promise.allSettled(handles.map((h) => h.result() as Promise<RunReport>));
    const wall = performance.now() - t0;
    const ok = settled.flatMap((s) => (s.status === 'fulfilled' && s.value.status === 'completed' ? [s.value] : []));
    const s2s = (await Promise.all(handles.map(scheduleToStart))).flat();
    const makespans = ok.map((r) => computeRunMetrics(r).makespanMs);
    const p95 = percentile(s2s, 95);
    push(ctx, {
      bench: `${n} concurrent seed-shaped workflows (20 steps of 20 ms)`,
      measured: `p95 schedule-to-start ${ms(p95, 0)}; ${((ok.length * p.order.length) / (wall / 1000)).toFixed(0)} steps/s; ${n - ok.length} failed`,
      target: n === 200 ? 'p95 < 250 ms, 0 failed' : '0 failed',
      baseline: `alone: makespan ${ms(median(alone), 0)}`,
      ratio: `slowdown ${(median(makespans) / median(alone)).toFixed(2)}×`,
      data: { p50: percentile(s2s, 50), p95, wall, failed: n - ok.length, makespanMedian: median(makespans), alone },
    });
  }
}

/** 5. Planning: parse + validate (catalog cached, arguments checked) + plan, 10 … 10,000 steps. */
export async function planning(ctx: BenchContext): Promise<void> {
  const catalog: ToolCatalog = { bench: { tools: { work: { inputSchema: { type: 'object', properties: { ms: { type: 'integer', minimum: 0 } }, required: ['ms'] } } } } };
  // The 10,000-step spec once more as JSON (what a generator writes): the same spec without YAML.
  const cases = [10, 100, 1000, 10_000].map((n) => ({ n, format: 'YAML', text: layeredSpec(Math.max(1, Math.floor(n / 10)), Math.min(10, n), 0) }));
  cases.push({ n: 10_000, format: 'JSON', text: JSON.stringify(yamlLoad(cases[3]!.text)) });
  for (const { n, format, text: yaml } of cases) {
    const ts: number[] = [];
    const phases: Array<{ parse: number; plan: number }> = [];
    for (let r = 0; r < (ctx.quick ? 5 : 9); r++) {
      const t = performance.now();
      const spec = parsePipelineSpec(yaml);
      const t1 = performance.now();
      planPipeline(spec, { servers: ['bench'], catalog, validateArgs: validateToolArgs });
      const t2 = performance.now();
      ts.push(t2 - t);
      phases.push({ parse: t1 - t, plan: t2 - t1 });
    }
    push(ctx, {
      bench: `Parse + validate + plan, ${n} steps${format === 'JSON' ? ', JSON spec' : ''} (catalog cached)`,
      measured: ms(median(ts)),
      target: n === 10_000 ? '≤ 100 ms' : '—',
      baseline: `brief: < 1 s; parse ${ms(median(phases.map((p) => p.parse)))}, plan ${ms(median(phases.map((p) => p.plan)))}`,
      ratio: `${(median(ts) / 1000).toFixed(3)} of 1 s`,
    });
  }
}

/** 6. History scale: 1k / 5k / 10k steps (20 parallel chains of 0 ms tools) across continue-as-new. */
export async function historyScale(ctx: BenchContext): Promise<void> {
  // Quick mode runs the target size only: 10,000 steps across continue-as-new.
  for (const n of ctx.quick ? [10_000] : [1000, 5000, 10_000]) {
    const t0 = performance.now();
    const handle = await ctx.tuned.start(plan(chainsSpec(20, n / 20, 0)));
    const report = (await handle.result()) as RunReport;
    const wall = performance.now() - t0;
    const counts: number[] = [];
    // Each run's start event carries the plan and what earlier runs finished; it must stay far below
    // Temporal's 2 MB payload limit, and a run's whole history below gRPC's 4 MB message to be fetched.
    let maxEventBytes = 0;
    let maxRunBytes = 0;
    for (const runId of [...(report.runs ?? []).map((r) => r.runId), undefined]) {
      const events = (await ctx.stack.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
      counts.push(events.length);
      const sizes = events.map((e) => temporal.api.history.v1.HistoryEvent.encode(e).finish().length);
      maxEventBytes = Math.max(maxEventBytes, ...sizes);
      maxRunBytes = Math.max(maxRunBytes, sizes.reduce((a, b) => a + b, 0));
    }
    const done = Object.values(stepsOf(report)).filter((s) => s.status === 'done').length;
    push(ctx, {
      bench: `History scale ${n} steps (20 chains, 0 ms tools), continue-as-new`,
      measured: `${report.status} ${done}/${n}; ${counts.length} runs; max ${Math.max(...counts)} events/run; largest event ${(maxEventBytes / 1e6).toFixed(2)} MB, largest run ${(maxRunBytes / 1e6).toFixed(2)} MB`,
      target: 'completes; < 4,096 events per run',
      baseline: `${(wall / 1000).toFixed(1)} s, ${(n / (wall / 1000)).toFixed(0)} steps/s`,
      ratio: `${(Math.max(...counts) / 4096).toFixed(2)} of 4,096`,
      data: { counts, wall, maxEventBytes, maxRunBytes },
    });
  }
}

/**
 * Soak: back-to-back batches of seed-shaped runs for `minutes`, sampling RSS. Flat = the end (median of
 * the last 5 samples) within 10 % of the start (median of the first 5 after a warm-up of a fifth of the time).
 */
export async function soak(ctx: BenchContext, minutes: number): Promise<void> {
  const p = plan(seedShapedSpec(10));
  const end = Date.now() + minutes * 60_000;
  const warm = Date.now() + (minutes * 60_000) / 5;
  const samples: Array<{ t: number; rssMiB: number; heapMiB: number }> = [];
  let runs = 0;
  let failed = 0;
  const t0 = Date.now();
  let next = t0;
  while (Date.now() < end) {
    const rs = await Promise.allSettled(Array.from({ length: 10 }, () => ctx.tuned.run(p)));
    runs += rs.length;
    failed += rs.filter((r) => r.status === 'rejected' || r.value.status !== 'completed').length;
    if (Date.now() >= next && Date.now() >= warm) {
      // The heap after a full collection tells a leak from V8 and allocator slack that RSS also holds.
      samples.push({ t: Math.round((Date.now() - t0) / 1000), rssMiB: Math.round(rss() * 10) / 10, heapMiB: Math.round(heapAfterGc() * 10) / 10 });
      next = Date.now() + Math.max(2_000, (minutes * 60_000) / 60);
    }
  }
  const first = median(samples.slice(0, 5).map((s) => s.rssMiB));
  const last = median(samples.slice(-5).map((s) => s.rssMiB));
  const growth = (last - first) / first;
  const heapFirst = median(samples.slice(0, 5).map((s) => s.heapMiB));
  const heapLast = median(samples.slice(-5).map((s) => s.heapMiB));
  push(ctx, {
    bench: `Soak ${minutes} min: back-to-back seed-shaped runs (10 at a time), process RSS`,
    measured: `start ${first.toFixed(0)} MiB → end ${last.toFixed(0)} MiB (${(growth * 100).toFixed(1)} %); heap after GC ${heapFirst.toFixed(0)} → ${heapLast.toFixed(0)} MiB; ${runs} runs, ${failed} failed`,
    target: 'end within 10 % of start',
    baseline: `start ${first.toFixed(0)} MiB (after ${(minutes / 5).toFixed(1)} min warm-up)`,
    ratio: `${(last / first).toFixed(3)}`,
    data: { samples, runs, failed },
  });
}
