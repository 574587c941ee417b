import { temporalRestart } from '../../../bench/chaos/scenarios/s03-temporal-restart';
import { sigtermDrain } from '../../../bench/chaos/scenarios/s07-sigterm-drain';
import { failover } from '../../../bench/chaos/scenarios/s10-failover';
import { ChaosStack } from '../../../bench/chaos/stack';
import type { Scenario, ScenarioResult } from '../../../bench/chaos/types';

jest.setTimeout(300_000);

/**
 * The short chaos suite inside `make test` (the long one is `npm run chaos`): RELIABILITY scenarios 3, 7
 * and 10, one run each, through the same scenario code as the runner, on a stack with its OWN Temporal
 * dev server (scenario 3 kills it; the suite's shared server must not be touched), real data servers
 * (primary + replica) and worker processes.
 */
describe('chaos scenarios (short)', () => {
  let stack: ChaosStack;
  beforeAll(async () => {
    stack = await ChaosStack.start({ groups: ['data', 'ledger'], log: () => undefined });
  });
  afterAll(async () => stack?.close());

  const run = async (s: Scenario): Promise<ScenarioResult> => {
    const r = await s.run(stack, { quick: true, runs: 1 });
    process.stderr.write(`${r.id}: ${r.ok}/${r.runs} ok, faults ${r.faults}, duplicated ${r.duplicated}, recover ${r.recoverMs.join(',')} ms — ${r.evidence}\n`);
    return r;
  };

  it('when the Temporal dev server is SIGKILLed mid-run and restarted on its DB, then the run and its timers continue and no effect repeats', async () => {
    const r = await run(temporalRestart);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(1);
    expect(r.faults).toBe(1);
    expect(r.duplicated).toBe(0);
  });

  it('when a group worker gets SIGTERM during a long step, then the step finishes on attempt 1 within the grace time and the run completes', async () => {
    const r = await run(sigtermDrain);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(1);
    expect(r.duplicated).toBe(0);
    expect(r.recoverMs[0]).toBeLessThan(30_000);
  });

  it('when the primary data server stops mid-run, then calls fail over to the replica, return to the primary when it is back, and the run completes', async () => {
    const r = await run(failover);
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(1);
    expect(r.duplicated).toBe(0);
  });
});
