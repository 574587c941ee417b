/**
 * Chaos run (issue 6, acceptance 2): tool calls through the real orchestrator while the server fails a
 * share of them with transient HTTP 503s. Prints runs, calls, faults injected, calls that succeeded
 * after retries, and the success rate. `npm run chaos [-- --calls 2000 --fail-rate 0.05]`.
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
import type { Registry } from '../src/registry/registry';
import { orchestratorQueue, PIPELINE_WORKFLOW } from '../src/shared/constants';
import { planPipeline } from '../src/shared/plan';
import { parsePipelineSpec } from '../src/shared/spec-parse';
import type { RunReport } from '../src/shared/run-types';
import { createGroupWorker } from '../src/workers/group-worker';
import { bundleWorkflows, createOrchestratorWorker } from '../src/workers/orchestrator-worker';
import { startBenchServer } from './bench-server';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

async function main(): Promise<void> {
  const calls = arg('calls', 2000);
  const failRate = arg('fail-rate', 0.05);
  const width = 100;
  const runsWanted = Math.ceil(calls / width);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-chaos-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const log = fs.openSync(path.join(dir, 'temporal.log'), 'a');
  const temporal = spawn(temporalCliPath(), devServerArgs({ dbFile: path.join(dir, 'temporal.db'), port, uiPort: await freePort() }), { stdio: ['ignore', log, log], detached: true });
  const bench = await startBenchServer({ failRate, latencyMs: 0, hangRate: 0 });
  const registry: Registry = { groups: { bench: { endpoints: [{ transport: 'http', url: bench.mcpUrl, priority: 1, headers: {} }] } } } as Registry;
  try {
    await waitFor('Temporal', async () => {
      const c = await Connection.connect({ address, connectTimeout: 1000 });
      await c.close();
      return true;
    }, 60_000);
    const prefix = `c${crypto.randomBytes(2).toString('hex')}-`;
    const native = await NativeConnection.connect({ address });
    const { worker, pool } = await createGroupWorker({ connection: native, namespace: 'default', group: 'bench', registry, taskQueuePrefix: prefix, maxConcurrentActivities: 100 });
    const orchestrator = await createOrchestratorWorker({ connection: native, namespace: 'default', taskQueuePrefix: prefix, workflowBundle: await bundleWorkflows() });
    const running = [worker.run(), orchestrator.run()];
    const client = new Client({ connection: await Connection.connect({ address }) });
    const spec = `name: chaos\ndefaults: { retry: { maximumAttempts: 10, initialInterval: 100ms, backoffCoefficient: 2, maximumInterval: 2s } }\nsteps:\n${Array.from({ length: width }, (_, i) => `  s${i}: { server: bench, tool: work, args: { ms: 0 } }`).join('\n')}\n`;
    const plan = planPipeline(parsePipelineSpec(spec));
    const t0 = performance.now();
    let completedRuns = 0;
    let okCalls = 0;
    let retries = 0;
    for (let batch = 0; batch < runsWanted; batch += 4) {
      const reports = await Promise.allSettled(
        Array.from({ length: Math.min(4, runsWanted - batch) }, () =>
          client.workflow
            .start(PIPELINE_WORKFLOW, { taskQueue: orchestratorQueue(prefix), workflowId: `chaos-${crypto.randomUUID()}`, args: [{ plan, taskQueuePrefix: prefix }] })
            .then((h) => h.result() as Promise<RunReport>),
        ),
      );
      for (const r of reports) {
        if (r.status !== 'fulfilled') continue;
        completedRuns++;
        for (const s of Object.values(r.value.steps)) {
          if (s.status === 'done') okCalls++;
          retries += Math.max(0, (s.attempts ?? 1) - 1);
        }
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const injected = bench.faults?.counters;
    const total = runsWanted * width;
    const lines = [
      '| scenario | runs | tool calls | faults injected | runs completed | calls succeeded after retries | retries | success | time |',
      '|---|---|---|---|---|---|---|---|---|',
      `| ${(failRate * 100).toFixed(0)} % transient faults (HTTP 503) | ${runsWanted} | ${total} | ${injected?.failed ?? '?'} of ${injected?.seen ?? '?'} attempts | ${completedRuns} | ${okCalls} | ${retries} | ${((okCalls / total) * 100).toFixed(2)} % | ${seconds.toFixed(1)} s |`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'results', `chaos-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.md`), lines.join('\n') + '\n');
    worker.shutdown();
    orchestrator.shutdown();
    await Promise.allSettled(running);
    await pool.close();
    await native.close();
  } finally {
    await bench.close();
    if (temporal.pid) await stopProcess(temporal.pid, 10_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
