import { sleep, type ChaosStack } from '../stack';
import { completed, judge, newResult, SPEC_DEFAULTS, type Scenario } from '../types';
import { inBackground, waitUntil } from './s01-kill-worker';

/**
 * RELIABILITY 7: SIGTERM the group worker while a 5 s step runs. The worker stops polling, lets the
 * in-flight activity finish within its shutdown grace time (30 s) and reports it: the step succeeds on
 * attempt 1 and is not executed again. The group's other worker takes the remaining steps.
 */
export const sigtermDrain: Scenario = {
  id: '7-sigterm-drain',
  title: 'SIGTERM group worker during a long step (graceful drain)',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'completed', 'SIGTERM → worker exited after finishing the step');
    const runs = opts.runs ?? (opts.quick ? 1 : 3);
    for (let i = 0; i < runs; i++) {
      const id = `s7-${i}`;
      const plan = stack.plan(`name: chaos-sigterm
${SPEC_DEFAULTS}steps:
  a: { server: ledger, tool: effect, args: { name: "${id}/a" } }
  long: { server: ledger, tool: effect, needs: [a], args: { name: "${id}/long", hold_ms: 5000 } }
  c: { server: ledger, tool: effect, needs: [long], args: { name: "${id}/c" } }
`);
      const handle = await stack.start(plan, id);
      await waitUntil(() => stack.ledger.count(`${id}/long`) === 1, 60_000, `${id}/long applied`);
      await sleep(500);
      const replaysBefore = stack.ledger.replays;
      const { exitMs: drainMs } = await stack.killWorkerRunning(handle, 'ledger', 'SIGTERM');
      r.faults++;
      // The group's other worker takes the next step; a replacement starts meanwhile.
      const replacement = inBackground(stack.ensureWorkers());
      r.recoverMs.push(drainMs);
      const o = await stack.outcome(handle);
      await replacement();
      const attempts = o.progress.steps.long?.attempts;
      judge(r, id, [
        [completed(o), `run ended ${o.temporalStatus}/${o.progress.status}`],
        [attempts === 1, `long step succeeded on attempt ${attempts} (want 1: finished by the draining worker)`],
        [stack.ledger.replays === replaysBefore, `${stack.ledger.replays - replaysBefore} replayed calls (want 0: nothing retried)`],
        [drainMs < 30_000, `worker took ${drainMs} ms to exit (grace 30 s)`],
      ]);
    }
    r.duplicated = stack.ledger.duplicated('s7-');
    r.faultsNote = `${r.faults} × SIGTERM ledger worker mid-step`;
    r.evidence = 'long step finished on attempt 1 by the draining worker; no replays at the server';
    return r;
  },
};
