import { type ChaosStack } from '../stack';
import { compensated, judge, newResult, SPEC_DEFAULTS, type Scenario } from '../types';
import { inBackground, waitUntil } from './s01-kill-worker';

/**
 * RELIABILITY 5: step k fails (a tool error) → the completed steps are compensated in reverse
 * completion order, each once; the worker running the compensations is SIGKILLed while the first one
 * holds its call open (after its effect), and the compensation is retried and replayed by key.
 */
export const compensation: Scenario = {
  id: '5-compensation',
  title: 'Fail step k → reverse compensations; SIGKILL worker mid-compensation',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'compensated', 'SIGKILL → next compensation applied');
    const runs = opts.runs ?? (opts.quick ? 2 : 5);
    for (let i = 0; i < runs; i++) {
      const id = `s5-${i}`;
      const k = 2 + (i % 3); // steps e1..ek succeed, f fails after them
      const effects = Array.from({ length: k }, (_, j) => `e${j + 1}`);
      const steps = effects
        .map(
          (e, j) =>
            `  ${e}: { server: ledger, tool: effect, ${j ? `needs: [e${j}], ` : ''}args: { name: "${id}/${e}" }, compensate: { tool: undo, args: { name: "${id}/${e}", hold_ms: 1500 } } }`,
        )
        .join('\n');
      const plan = stack.plan(`name: chaos-compensation
${SPEC_DEFAULTS}steps:
${steps}
  f: { server: ledger, tool: fail, needs: [e${k}], args: { name: "${id}/f" } }
`);
      const handle = await stack.start(plan, id);
      // The first compensation (of e_k) has applied its undo and holds: kill its worker now.
      await waitUntil(() => stack.ledger.undoOrder(`${id}/`).length === 1, 60_000, `${id}: first compensation applied`);
      const tKill = Date.now();
      await stack.killWorkerRunning(handle, 'ledger', 'SIGKILL');
      r.faults++;
      const replacement = inBackground(stack.ensureWorkers());
      await waitUntil(() => stack.ledger.undoOrder(`${id}/`).length >= 2, 90_000, `${id}: next compensation applied`);
      r.recoverMs.push(Date.now() - tKill);
      await replacement();
      const o = await stack.outcome(handle);
      const order = stack.ledger.undoOrder(`${id}/`).map((n) => n.slice(id.length + 1));
      const want = [...effects].reverse();
      judge(r, `${id} (k=${k})`, [
        [compensated(o, effects), `run ended ${o.temporalStatus}; steps ${effects.map((e) => `${e}=${o.progress.steps[e]?.status}`).join(', ')}`],
        [JSON.stringify(order) === JSON.stringify(want), `undo order ${order.join(',')} (want ${want.join(',')})`],
        [effects.every((e) => stack.ledger.count(`${id}/${e}`) === 1), 'an effect applied more or less than once'],
      ]);
    }
    r.duplicated = stack.ledger.duplicated('s5-');
    r.faultsNote = `${runs} × failing step + ${r.faults} × SIGKILL while compensating`;
    r.evidence = `ledger: undo entries in reverse completion order, ${stack.ledger.entries.filter((e) => e.kind === 'undo' && e.name.startsWith('s5-')).length} undos for ${stack.ledger.entries.filter((e) => e.kind === 'effect' && e.name.startsWith('s5-')).length} effects`;
    return r;
  },
};
