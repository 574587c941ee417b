import type { ChaosStack } from '../stack';
import { completed, judge, newResult, type Scenario } from '../types';

/**
 * RELIABILITY 14: many runs at once share the workers' connection pools; every step must get the
 * answer to ITS call (the effect name it sent comes back), never another run's.
 */
export const concurrentClients: Scenario = {
  id: '14-concurrent',
  title: 'Concurrent runs → no cross-talk',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'completed', 'n/a');
    const runs = opts.runs ?? (opts.quick ? 8 : 20);
    const width = 10;
    const steps = Array.from({ length: width }, (_, j) => `  s${j}: { server: ledger, tool: effect, args: { name: "\${workflow.id}/s${j}", hold_ms: ${(j * 37) % 200} } }`).join('\n');
    const plan = stack.plan(`name: chaos-concurrent\nsteps:\n${steps}\n`);
    let mismatched = 0;
    const outcomes = await Promise.all(Array.from({ length: runs }, async (_, i) => stack.outcome(await stack.start(plan, `s14-${i}`))));
    for (const o of outcomes) {
      const wrong = Array.from({ length: width }, (_, j) => j).filter((j) => (o.report?.results[`s${j}`] as { name?: string } | undefined)?.name !== `${o.workflowId}/s${j}`);
      mismatched += wrong.length;
      judge(r, o.workflowId, [
        [completed(o), `run ended ${o.temporalStatus}/${o.progress.status}`],
        [wrong.length === 0, `${wrong.length} steps got another call's answer`],
      ]);
    }
    r.duplicated = stack.ledger.duplicated(stack.prefix + 's14-');
    r.faultsNote = `${runs} runs × ${width} calls at once`;
    r.evidence = `${runs * width} answers checked against the call that asked: ${mismatched} mismatched`;
    return r;
  },
};
