/**
 * Benchmarks of shared/PERFORMANCE.md, side by side in one process run, medians over repeats.
 * `npm run bench` (all) or `npm run bench -- --quick` (fewer repeats; a few minutes). Writes
 * bench/results/<date>.json and .md. Not part of `make test`: figures, not pass/fail.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { devServerArgs, freePort, temporalCliPath } from '../src/client/stack/temporal-dev-server';
import { stopProcess, waitFor } from '../src/client/stack/processes';
import { McpClientPool } from '../src/mcp/pool';
import type { Registry } from '../src/registry/registry';
import { orchestratorQueue, PIPELINE_WORKFLOW } from '../src/shared/constants';
import { computeRunMetrics } from '../src/shared/metrics';
import { planPipeline } from '../src/shared/plan';
import { parsePipelineSpec } from '../src/shared/spec-parse';
import type { RunReport } from '../src/shared/run-types';
import { createGroupWorker } from '../src/workers/group-worker';
import { bundleWorkflows, createOrchestratorWorker } from '../src/workers/orchestrator-worker';
import { startBenchServer } from './bench-server';

const quick = process.argv.includes('--quick');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: Array<{ bench: string; measured: string; target: string; baseline: string; ratio: string }> = [];

function chainSpec(n: number, ms: number): string {
  const steps = Array.from({ length: n }, (_, i) => `  s${i}: { server: bench, tool: work, args: { ms: ${ms} }${i ? `, needs: [s${i - 1}]` : ''} }`);
  return `name: chain\ndefaults: { retry: { maximumAttempts: 3 } }\nsteps:\n${steps.join('\n')}\n`;
}

/** Layered random DAG: `depth` levels of `width` steps, each needing 1–2 random steps of the level above. */
function layeredSpec(width: number, depth: number, ms: number, seed = 1): string {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const lines: string[] = [];
  for (let d = 0; d < depth; d++) {
    for (let w = 0; w < width; w++) {
      const needs = d === 0 ? [] : [...new Set([Math.floor(rnd() * width), Math.floor(rnd() * width)])].map((k) => `l${d - 1}_${k}`);
      lines.push(`  l${d}_${w}: { server: bench, tool: work, args: { ms: ${ms} }${needs.length ? `, needs: [${needs.join(', ')}]` : ''} }`);
    }
  }
  return `name: layered\nsteps:\n${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-bench-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const log = fs.openSync(path.join(dir, 'temporal.log'), 'a');
  const temporal = spawn(temporalCliPath(), devServerArgs({ dbFile: path.join(dir, 'temporal.db'), port, uiPort: await freePort() }), { stdio: ['ignore', log, log], detached: true });
  const bench = await startBenchServer();
  const registry: Registry = { groups: { bench: { endpoints: [{ transport: 'http', url: bench.mcpUrl, priority: 1, headers: {} }] } } };
  try {
    await waitFor('Temporal', async () => {
      const c = await Connection.connect({ address, connectTimeout: 1000 });
      await c.close();
      return true;
    }, 60_000);
    const prefix = `b${crypto.randomBytes(2).toString('hex')}-`;
    const native = await NativeConnection.connect({ address });
    const { worker: groupWorker, pool } = await createGroupWorker({ connection: native, namespace: 'default', group: 'bench', registry, taskQueuePrefix: prefix, maxConcurrentActivities: 200 });
    const orchestrator = await createOrchestratorWorker({ connection: native, namespace: 'default', taskQueuePrefix: prefix, workflowBundle: await bundleWorkflows() });
    const running = [groupWorker.run(), orchestrator.run()];
    const connection = await Connection.connect({ address });
    const client = new Client({ connection });
    const run = async (yaml: string) => {
      const plan = planPipeline(parsePipelineSpec(yaml));
      const h = await client.workflow.start(PIPELINE_WORKFLOW, { taskQueue: orchestratorQueue(prefix), workflowId: `bench-${crypto.randomUUID()}`, args: [{ plan, taskQueuePrefix: prefix }] });
      return (await h.result()) as RunReport;
    };

    // MCP floor: one call over a warm connection, no Temporal.
    const direct = new McpClientPool(registry);
    await direct.callTool('bench', 'work', { ms: 0 });
    const floor: number[] = [];
    for (let i = 0; i < (quick ? 200 : 1000); i++) {
      const t = performance.now();
      await direct.callTool('bench', 'work', { ms: 0 });
      floor.push(performance.now() - t);
    }
    const floorMs = median(floor);
    rows.push({ bench: 'MCP floor (warm Streamable HTTP call, 0 ms tool)', measured: `${floorMs.toFixed(2)} ms`, target: '—', baseline: 'TS SDK published ≈1.3 ms', ratio: `${(floorMs / 1.3).toFixed(2)}×` });

    // 1. Per-step overhead: 50-step chain of 0 ms tools (and 100 ms).
    await run(chainSpec(5, 0)); // warm-up: worker caches, connections
    for (const ms of quick ? [0, 100] : [0, 100, 1000]) {
      const per: number[] = [];
      for (let r = 0; r < (quick ? 3 : 5); r++) {
        const report = await run(chainSpec(50, ms));
        const m = computeRunMetrics(report);
        per.push(m.coordinationOverheadPerStepMs);
      }
      const med = median(per);
      rows.push({ bench: `Coordination overhead per step, 50-step chain of ${ms} ms tools`, measured: `${med.toFixed(1)} ms`, target: ms === 0 ? '≤ 15 ms (minus floor)' : '—', baseline: 'Temporal TS ≈50–77 ms/step (published)', ratio: `${(med / 77).toFixed(2)}× of 77 ms` });
    }

    // 2. Parallel efficiency on layered random DAGs with 500 ms tools vs an as-soon-as-ready Promise scheduler.
    for (const [width, depth] of quick ? [[8, 5]] : [[1, 5], [8, 5], [32, 5], [8, 20]]) {
      const yaml = layeredSpec(width!, depth!, 500);
      const es: number[] = [];
      for (let r = 0; r < (quick ? 2 : 3); r++) es.push(computeRunMetrics(await run(yaml)).parallelEfficiency);
      const plan = planPipeline(parsePipelineSpec(yaml));
      const promiseE: number[] = [];
      for (let r = 0; r < (quick ? 2 : 3); r++) {
        const t0 = performance.now();
        const done = new Map<string, Promise<void>>();
        const go = (id: string): Promise<void> => {
          if (!done.has(id)) done.set(id, Promise.all(plan.steps[id]!.needs.map(go)).then(async () => void (await direct.callTool('bench', 'work', { ms: 500 }))));
          return done.get(id)!;
        };
        await Promise.all(plan.order.map(go));
        promiseE.push((depth! * 500) / (performance.now() - t0));
      }
      rows.push({ bench: `Parallel efficiency E, layered DAG width ${width} depth ${depth}, 500 ms tools`, measured: median(es).toFixed(3), target: '≥ 0.97', baseline: `Promise scheduler E = ${median(promiseE).toFixed(3)}`, ratio: (median(es) / median(promiseE)).toFixed(3) });
    }

    // 5. Planning: 10 … 10,000 steps (catalog-free structural planning).
    for (const n of [10, 1000, 10_000]) {
      const yaml = layeredSpec(Math.max(1, Math.floor(n / 10)), Math.min(10, n), 0);
      const ts: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t = performance.now();
        planPipeline(parsePipelineSpec(yaml));
        ts.push(performance.now() - t);
      }
      rows.push({ bench: `Parse + validate + plan, ${n} steps`, measured: `${median(ts).toFixed(1)} ms`, target: n === 10_000 ? '≤ 100 ms' : '—', baseline: 'brief: < 1 s', ratio: `${(median(ts) / 1000).toFixed(3)} of 1 s` });
    }

    await direct.close();
    groupWorker.shutdown();
    orchestrator.shutdown();
    await Promise.allSettled(running);
    await pool.close();
    await native.close();
    await connection.close();
  } finally {
    await bench.close();
    if (temporal.pid) await stopProcess(temporal.pid, 10_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${os.loadavg()[0]!.toFixed(1)}`;
  const md = [`# Benchmarks ${stamp}${quick ? ' (quick)' : ''}`, '', `Machine: ${machine}. Medians of repeats; one process run.`, '', '| benchmark | measured | target | baseline | ratio |', '|---|---|---|---|---|', ...rows.map((r) => `| ${r.bench} | ${r.measured} | ${r.target} | ${r.baseline} | ${r.ratio} |`)].join('\n');
  fs.writeFileSync(path.join(__dirname, 'results', `${stamp}.json`), JSON.stringify({ stamp, quick, machine, rows }, null, 2));
  fs.writeFileSync(path.join(__dirname, 'results', `${stamp}.md`), md + '\n');
  process.stdout.write(md + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
