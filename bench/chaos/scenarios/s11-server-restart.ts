import { sleep, type ChaosStack } from '../stack';
import { completed, judge, newResult, SPEC_DEFAULTS, type Scenario } from '../types';

/**
 * RELIABILITY 11: the MCP server restarts mid-run (down for 1.5 s, back on its port). Our servers are
 * stateless Streamable HTTP, so a restart shows up as refused connections and fresh sessions: the
 * client reconnects and the run completes, every effect once. (The 404 → re-initialize path of a
 * STATEFUL server is test/integration/resilience/session-expiry.test.ts.)
 */
export const serverRestart: Scenario = {
  id: '11-server-restart',
  title: 'MCP server restarted mid-run (client reconnects)',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'completed', 'server back → next step done');
    const runs = opts.runs ?? (opts.quick ? 1 : 3);
    for (let i = 0; i < runs; i++) {
      const id = `s11-${i}`;
      const n = 8;
      const steps = Array.from({ length: n }, (_, j) => `  e${j}: { server: ledger, tool: effect, ${j ? `needs: [e${j - 1}], ` : ''}args: { name: "${id}/e${j}", hold_ms: 300 } }`).join('\n');
      const handle = await stack.start(stack.plan(`name: chaos-server-restart\n${SPEC_DEFAULTS}steps:\n${steps}\n`), id);
      await stack.waitProgress(handle, (p) => p.steps.e2?.status === 'done', 60_000);
      await sleep(100);
      await stack.restartLedger(1500);
      r.faults++;
      const tBack = Date.now();
      const doneAtBack = (await stack.progress(handle))?.completionOrder.length ?? 0;
      await stack.waitProgress(handle, (p) => p.completionOrder.length > doneAtBack, 60_000);
      r.recoverMs.push(Date.now() - tBack);
      const o = await stack.outcome(handle);
      judge(r, id, [
        [completed(o), `run ended ${o.temporalStatus}/${o.progress.status}`],
        [Array.from({ length: n }, (_, j) => stack.ledger.count(`${id}/e${j}`)).every((c) => c === 1), 'an effect applied more or less than once'],
      ]);
    }
    r.duplicated = stack.ledger.duplicated('s11-');
    r.faultsNote = `${r.faults} × ledger server restart (1.5 s down)`;
    r.evidence = 'ledger: every effect once across the restart (in-flight call retried, replayed by key)';
    return r;
  },
};
