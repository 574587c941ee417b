/**
 * The chaos suite (issue 6): RELIABILITY.md scenarios against the real stack — its own Temporal dev
 * server, real MCP servers, worker processes — with faults injected (SIGKILL/SIGTERM of workers and of
 * Temporal, servers stopped, cancellations, injected 503s). Prints one row per scenario and writes
 * bench/results/chaos-<date>.{json,md}.
 *
 *   npm run chaos                      # every scenario, full run counts (9: 100 runs × 20 calls)
 *   npm run chaos -- --quick           # few runs per scenario (minutes)
 *   npm run chaos -- --only 3,10       # by number, id (3-temporal-restart) or name (failover)
 *   npm run chaos -- --runs 2          # runs per scenario, overriding the defaults
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectScenarios } from './chaos/scenarios';
import { ChaosStack } from './chaos/stack';
import { markdownTable } from './chaos/table';
import type { ScenarioResult } from './chaos/types';
import { option } from './cli-options';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const runsArg = option('runs');
  const runs = runsArg === undefined ? undefined : Number(runsArg);
  if (runs !== undefined && (!Number.isInteger(runs) || runs < 1)) throw new Error(`--runs must be a positive integer, got '${runsArg}'`);
  const scenarios = selectScenarios(option('only')?.split(',').map((s) => s.trim()).filter(Boolean));
  const t0 = Date.now();
  const stack = await ChaosStack.start();
  const results: ScenarioResult[] = [];
  try {
    for (const s of scenarios) {
      process.stderr.write(`[chaos] scenario ${s.id} …\n`);
      const ts = Date.now();
      try {
        const r = await s.run(stack, { quick, runs });
        r.seconds = (Date.now() - ts) / 1000;
        results.push(r);
        process.stderr.write(`[chaos] ${s.id}: ${r.ok}/${r.runs} ok, ${r.duplicated} duplicated, ${r.seconds.toFixed(0)} s\n`);
      } catch (err) {
        // A scenario that could not finish is a failed row, not the end of the suite.
        const message = err instanceof Error ? err.message : String(err);
        process.stderr.write(`[chaos] ${s.id} aborted: ${message}\n`);
        results.push({ id: s.id, title: s.title, runs: 0, faults: 0, faultsNote: 'aborted', expected: 'completed', ok: 0, duplicated: 0, recoverMs: [], recoverNote: 'n/a', evidence: 'scenario aborted', failures: [message], seconds: (Date.now() - ts) / 1000 });
      }
    }
  } finally {
    await stack.close();
  }
  const md = markdownTable(results);
  process.stdout.write(md);
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const meta = { at: new Date().toISOString(), quick, host: { cpus: os.cpus().length, node: process.version }, seconds: (Date.now() - t0) / 1000 };
  fs.writeFileSync(path.join(dir, `chaos-${stamp}.json`), JSON.stringify({ ...meta, results }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, `chaos-${stamp}.md`), `# Chaos run ${meta.at}${quick ? ' (--quick)' : ''}\n\n${os.cpus().length} CPUs, Node ${process.version}, ${meta.seconds.toFixed(0)} s in all.\n\n${md}`);
  process.stderr.write(`[chaos] wrote bench/results/chaos-${stamp}.{json,md} (${meta.seconds.toFixed(0)} s)\n`);
  const bad = results.some((r) => r.runs === 0 || r.ok < r.runs || r.duplicated > 0);
  process.exitCode = bad ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
