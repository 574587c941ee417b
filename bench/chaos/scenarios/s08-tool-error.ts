import type { ChaosStack } from '../stack';
import { judge, newResult, type Scenario } from '../types';

/**
 * RELIABILITY 8: a tool that answers `isError` fails its step without retries (the retry policy allows
 * 10 attempts): the server sees exactly one call per run, no retry storm.
 */
export const toolErrorNoRetry: Scenario = {
  id: '8-tool-error',
  title: 'Tool error (isError) → no retry storm',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'failed fast', 'n/a');
    const runs = opts.runs ?? (opts.quick ? 2 : 5);
    const calls0 = stack.ledger.executions.fail ?? 0;
    for (let i = 0; i < runs; i++) {
      const id = `s8-${i}`;
      const plan = stack.plan(`name: chaos-tool-error
defaults: { retry: { maximumAttempts: 10, initialInterval: 100ms } }
steps:
  bad: { server: ledger, tool: fail, args: { name: "${id}" } }
`);
      const before = stack.ledger.executions.fail ?? 0;
      const o = await stack.outcome(await stack.start(plan, id));
      r.faults++;
      const seen = (stack.ledger.executions.fail ?? 0) - before;
      judge(r, id, [
        [o.temporalStatus === 'FAILED' && o.progress.steps.bad?.status === 'failed', `run ended ${o.temporalStatus}, step ${o.progress.steps.bad?.status}`],
        [o.progress.error?.type === 'McpToolError', `error type ${o.progress.error?.type} (want McpToolError)`],
        [seen === 1, `the server saw ${seen} calls (want 1)`],
      ]);
    }
    r.faultsNote = `${r.faults} × tool error`;
    r.evidence = `ledger server: ${(stack.ledger.executions.fail ?? 0) - calls0} calls of the failing tool for ${runs} runs (retry policy allowed 10 attempts each)`;
    return r;
  },
};
