import type { ChaosStack } from '../stack';
import { completed, judge, newResult, type Scenario } from '../types';

/**
 * RELIABILITY 12: a tool call far longer than the activity's heartbeat timeout (4 s) stays alive only
 * because the tool reports progress, which the activity turns into heartbeats: one attempt, no timeout.
 * The full run uses a 65 s call (longer than the 60 s a client would give up after).
 */
export const longToolProgress: Scenario = {
  id: '12-long-tool',
  title: 'Long tool with progress (≫ heartbeat timeout)',
  async run(stack: ChaosStack, opts) {
    const holdMs = opts.quick ? 12_000 : 65_000;
    const r = newResult(this.id, this.title, 'completed', 'n/a');
    const runs = opts.runs ?? 1;
    for (let i = 0; i < runs; i++) {
      const id = `s12-${i}`;
      const plan = stack.plan(`name: chaos-long-tool
defaults:
  retry: { maximumAttempts: 3, initialInterval: 200ms }
  timeouts: { startToClose: 3m, heartbeat: 4s }
steps:
  long: { server: ledger, tool: effect, args: { name: "${id}/long", hold_ms: ${holdMs} } }
`);
      const o = await stack.outcome(await stack.start(plan, id));
      judge(r, id, [
        [completed(o), `run ended ${o.temporalStatus}/${o.progress.status}`],
        [o.progress.steps.long?.attempts === 1, `attempt ${o.progress.steps.long?.attempts} (want 1: no heartbeat timeout)`],
      ]);
    }
    r.duplicated = stack.ledger.duplicated('s12-');
    r.faultsNote = `${runs} × ${holdMs / 1000} s call vs 4 s heartbeat timeout`;
    r.evidence = 'progress notifications every 1 s kept the call and the activity alive; attempt 1';
    return r;
  },
};
