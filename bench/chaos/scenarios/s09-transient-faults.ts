import type { ChaosStack } from '../stack';
import { completed, judge, newResult, type Scenario } from '../types';

/**
 * RELIABILITY 9: the ledger server answers 5 % of tool calls with HTTP 503 (its fault switch). Runs of
 * 20 independent steps each; every run must complete. Calls, faults and the success rate after retries
 * are the server's counters and the run reports.
 */
export const transientFaults: Scenario = {
  id: '9-transient-faults',
  title: '5 % injected HTTP 503 on tool calls',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'completed', 'extra attempts per call (retried faults)');
    const runs = opts.runs ?? (opts.quick ? 10 : 100);
    const width = 20;
    const faults = stack.ledgerServer.faults!;
    const before = { ...faults.counters };
    faults.set({ failRate: 0.05, latencyMs: 0, hangRate: 0, tools: ['effect'] });
    let calls = 0;
    let succeeded = 0;
    let retries = 0;
    try {
      const steps = Array.from({ length: width }, (_, j) => `  s${j}: { server: ledger, tool: effect, args: { name: "\${workflow.id}/s${j}" } }`).join('\n');
      const plan = stack.plan(`name: chaos-faults
defaults:
  retry: { maximumAttempts: 10, initialInterval: 100ms, backoffCoefficient: 2, maximumInterval: 2s }
  timeouts: { startToClose: 30s }
steps:
${steps}
`);
      for (let b = 0; b < runs; b += 5) {
        const batch = Array.from({ length: Math.min(5, runs - b) }, (_, j) => `s9-${b + j}`);
        const outcomes = await Promise.all(batch.map(async (id) => stack.outcome(await stack.start(plan, id))));
        for (const o of outcomes) {
          const ss = Object.values(o.progress.steps);
          calls += ss.length;
          const ok = ss.filter((s) => s.status === 'done');
          succeeded += ok.length;
          retries += ok.reduce((a, s) => a + Math.max(0, (s.attempts ?? 1) - 1), 0);
          const bad = ss.find((s) => s.status === 'failed');
          judge(r, o.workflowId, [
            [completed(o), `run ended ${o.temporalStatus}/${o.progress.status}${bad ? ` (${bad.id}: ${bad.error?.type}: ${bad.error?.message.slice(0, 200)})` : ''}`],
            [ok.length === width, `${ok.length}/${width} steps done`],
          ]);
        }
      }
    } finally {
      faults.set({ failRate: 0, latencyMs: 0, hangRate: 0 });
    }
    r.faults = faults.counters.failed - before.failed;
    r.duplicated = stack.ledger.duplicated(stack.prefix + 's9-');
    r.faultsNote = `${r.faults} × HTTP 503 in ${faults.counters.seen - before.seen} call attempts`;
    r.recoverNote = 'n/a (retry delay: Retry-After 1 s)';
    r.evidence = `${calls} tool calls, ${succeeded} succeeded after retries (${((succeeded / Math.max(1, calls)) * 100).toFixed(2)} %), ${retries} retries for ${r.faults} faults`;
    return r;
  },
};
