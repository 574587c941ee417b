/**
 * The Temporal floor: the smallest TypeScript workflow that runs a chain of activities, with nothing
 * of ours in between (no plan, no refs, no interceptors). What a step costs on this machine and dev
 * server before the orchestrator adds anything; bench/perf/benchmarks.ts measures it beside ours.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface BareActivities {
  noop(): Promise<number>;
}

export async function bareChain(n: number, taskQueue: string): Promise<number> {
  const { noop } = proxyActivities<BareActivities>({ taskQueue, startToCloseTimeout: '1 minute' });
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await noop();
  return sum;
}
