/**
 * Benchmarks of shared/PERFORMANCE.md, side by side in one process run, medians over repeats.
 *
 *   npm run bench                       # everything, 30-minute soak included
 *   npm run bench -- --quick            # target sizes, fewer repeats, 30-second soak (under 5 minutes)
 *   npm run bench -- --only soak --soak 30
 *   npm run bench -- --only overhead,planning
 *   MCP_TRACING=off npm run bench -- --quick   # the workflow bundle without its tracing interceptors
 *
 * Benchmarks: floor, overhead, efficiency, fanout, concurrency, planning, history, soak. Writes
 * bench/results/<date>.json and .md (one row per target: measured, target, baseline, ratio). Not part
 * of `make test`: figures, not pass/fail. Workers run in this process, so "RSS" is this process's.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOW_LATENCY_DYNAMIC_CONFIG, temporalCliPath } from '../src/client/stack/temporal-dev-server';
import { McpClientPool } from '../src/mcp/pool';
import { concurrency, efficiency, fanout, historyScale, mcpFloor, overhead, planning, soak, type BenchContext } from './perf/benchmarks';
import { BenchStack, type WorkerTuning } from './perf/stack';
import type { Row } from './perf/stats';
import { option } from './cli-options';

/**
 * Worker options measured against today's (src/workers/*.ts). See bench/results/*.md for the figures
 * behind each; the lead applies them to the real workers.
 */
export const TUNED: WorkerTuning = {
  orchestrator: { maxCachedWorkflows: 2000, maxConcurrentWorkflowTaskPolls: 4, nonStickyToStickyPollRatio: 0.5 },
  group: { maxConcurrentActivityTaskPolls: 8 },
};

const ALL = ['floor', 'overhead', 'efficiency', 'fanout', 'concurrency', 'planning', 'history', 'soak'];

function machine() {
  const cpus = os.cpus();
  let temporalVersion = 'unknown';
  try {
    temporalVersion = execFileSync(temporalCliPath(), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as unknown
  }
  const sdk = (JSON.parse(fs.readFileSync(require.resolve('@temporalio/worker/package.json'), 'utf8')) as { version: string }).version;
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    temporal: temporalVersion,
    temporalSdk: sdk,
    loadAvg: os.loadavg().map((l) => Math.round(l * 10) / 10),
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = option('only')?.split(',') ?? ALL;
  const unknown = only.filter((o) => !ALL.includes(o));
  if (unknown.length) throw new Error(`--only: unknown benchmark(s) ${unknown.join(', ')} (known: ${ALL.join(', ')})`);
  const soakMinutes = Number(option('soak') ?? (quick ? 0.5 : 30));
  if (!(soakMinutes > 0)) throw new Error('--soak needs a number of minutes > 0');
  const started = Date.now();
  const m = machine();
  const rows: Row[] = [];
  const stack = await BenchStack.start();
  const direct = new McpClientPool(stack.registry);
  try {
    const ctx: BenchContext = { stack, base: await stack.addWorkers({}), tuned: await stack.addWorkers(TUNED), quick, direct, rows };
    const steps: Record<string, () => Promise<void>> = {
      floor: () => mcpFloor(ctx),
      overhead: () => overhead(ctx),
      efficiency: () => efficiency(ctx),
      fanout: () => fanout(ctx),
      concurrency: () => concurrency(ctx),
      planning: () => planning(ctx),
      history: () => historyScale(ctx),
      soak: () => soak(ctx, soakMinutes),
    };
    // The floor is what overhead is measured against: always first when overhead runs.
    const todo = only.includes('overhead') && !only.includes('floor') ? ['floor', ...only] : only;
    for (const name of ALL.filter((n) => todo.includes(n))) {
      process.stderr.write(`bench ${name}…\n`);
      await steps[name]!();
    }
  } finally {
    await direct.close();
    await stack.close();
  }

  const stamp = new Date(started).toISOString().slice(0, 19).replace(/:/g, '-');
  const suffix = only === ALL ? '' : `-${only.join('+')}`;
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const md = [
    `# Benchmarks ${stamp}${quick ? ' (quick)' : ''}`,
    '',
    `Machine: ${m.cpus} × ${m.model}, ${m.ramGiB} GiB RAM, Node ${m.node}, ${m.temporal.split('\n')[0]}, SDK ${m.temporalSdk}; load ${m.loadAvg.join(' ')} at the end (shared machine). ` +
      `Local dev server (${Object.entries(LOW_LATENCY_DYNAMIC_CONFIG).map(([k, v]) => `${k}=${String(v)}`).join(', ')}). Medians of repeats; one process run of ${minutes} min. ` +
      `"Today's workers" = options of src/workers/*.ts; figures without that baseline use the tuned workers (bench/run.ts TUNED). RSS = bench process (workers, servers and client in-process), MiB.`,
    '',
    '| benchmark | measured | target | baseline | ratio | RSS |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.bench} | ${r.measured} | ${r.target} | ${r.baseline} | ${r.ratio} | ${r.rssMiB ?? ''} |`),
  ].join('\n');
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${stamp}${suffix}.json`), JSON.stringify({ stamp, quick, machine: m, tuned: TUNED, rows }, null, 2));
  fs.writeFileSync(path.join(dir, `${stamp}${suffix}.md`), md + '\n');
  process.stdout.write(md + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
