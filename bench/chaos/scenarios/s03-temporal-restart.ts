import { sleep, type ChaosStack } from '../stack';
import { completed, judge, newResult, SPEC_DEFAULTS, type Scenario } from '../types';
import { waitUntil } from './s01-kill-worker';

/**
 * RELIABILITY 3: restart the Temporal dev server mid-run (SIGKILL, then SIGTERM on alternate runs) on
 * the same `--db-filename` and port. The run has a step in flight and a wait step whose status polls are
 * workflow timers; both continue after the restart. Time to recover: from the new server's start to the
 * next completed step.
 */
export const temporalRestart: Scenario = {
  id: '3-temporal-restart',
  title: 'Restart Temporal dev server mid-run (SIGKILL / SIGTERM), same DB and port',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'completed', 'new Temporal started → next step completed');
    const runs = opts.runs ?? (opts.quick ? 2 : 4);
    const signals: NodeJS.Signals[] = [];
    for (let i = 0; i < runs; i++) {
      const id = `s3-${i}`;
      const signal: NodeJS.Signals = i % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      signals.push(signal);
      const plan = stack.plan(`name: chaos-temporal-restart
${SPEC_DEFAULTS}steps:
  a: { server: ledger, tool: effect, args: { name: "${id}/a" } }
  b: { server: ledger, tool: effect, needs: [a], args: { name: "${id}/b", hold_ms: 2500 } }
  timers:
    needs: [b]
    wait:
      signal: neverSent
      timeout: 60s
      poll: { server: ledger, tool: ticks, args: { name: "${id}", need: 3 }, every: 1s, until: { path: status, in: [done] } }
  c: { server: ledger, tool: effect, needs: [timers], args: { name: "${id}/c" } }
`);
      const handle = await stack.start(plan, id);
      await waitUntil(() => stack.ledger.count(`${id}/b`) === 1, 60_000, `${id}/b applied`);
      await sleep(500);
      const before = (await stack.progress(handle))?.completionOrder.length ?? 0;
      await stack.stopTemporal(signal);
      r.faults++;
      const tRestart = Date.now();
      await stack.startTemporal();
      await stack.waitProgress(handle, (p) => p.completionOrder.length > before, 120_000);
      r.recoverMs.push(Date.now() - tRestart);
      const o = await stack.outcome(handle);
      const counts = ['a', 'b', 'c'].map((s) => stack.ledger.count(`${id}/${s}`));
      judge(r, `${id} (${signal})`, [
        [completed(o), `run ended ${o.temporalStatus}/${o.progress.status}`],
        [counts.every((n) => n === 1), `effects applied ${counts.join('/')} times (want 1/1/1)`],
        [(stack.ledger.ticks[id] ?? 0) >= 3, `timer-driven polls: ${stack.ledger.ticks[id] ?? 0} (want ≥ 3)`],
      ]);
    }
    r.duplicated = stack.ledger.duplicated('s3-');
    r.faultsNote = `${signals.filter((s) => s === 'SIGKILL').length} × SIGKILL + ${signals.filter((s) => s === 'SIGTERM').length} × SIGTERM of Temporal`;
    r.evidence = `ledger: ${stack.ledger.entries.filter((e) => e.name.startsWith('s3-')).length} effects for ${3 * runs} steps; wait-step polls (1 s workflow timers) continued after each restart`;
    return r;
  },
};
