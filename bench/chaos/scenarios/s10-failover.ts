import { sleep, type ChaosStack } from '../stack';
import { completed, judge, newResult, SPEC_DEFAULTS, type Scenario } from '../types';
import { waitUntil } from './s01-kill-worker';

/**
 * RELIABILITY 10: the data group has a primary (priority 1) and a replica (priority 2, its own DuckDB
 * seeded the same way). The primary is stopped mid-run: calls fail over to the replica and the run goes
 * on; the primary comes back on its port and, once health checks and the breaker let it, traffic returns
 * to it. Calls per endpoint are the data servers' own counters.
 */
export const failover: Scenario = {
  id: '10-failover',
  title: 'Primary data server down mid-run → replica, then back',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'completed', 'primary down → first call answered by the replica');
    const runs = opts.runs ?? (opts.quick ? 1 : 3);
    const phases: string[] = [];
    for (let i = 0; i < runs; i++) {
      const id = `s10-${i}`;
      const n = 14;
      const steps = Array.from({ length: n }, (_, j) => {
        const needs = j ? `needs: [h${j - 1}], ` : '';
        return `  q${j}: { server: data, tool: sql_query, ${needs}args: { sql: "SELECT count(*) AS n FROM customer_transactions" } }
  h${j}: { server: ledger, tool: effect, needs: [q${j}], args: { name: "${id}/h${j}", hold_ms: 400 } }`;
      }).join('\n');
      const plan = stack.plan(`name: chaos-failover\n${SPEC_DEFAULTS}steps:\n${steps}\n`);
      const handle = await stack.start(plan, id);
      const p0 = stack.dataCalls(0);
      const r0 = stack.dataCalls(1);
      await stack.waitProgress(handle, (p) => p.steps.q2?.status === 'done', 60_000);
      await stack.stopData(0);
      r.faults++;
      const tDown = Date.now();
      const primaryBefore = stack.dataCalls(0) - p0;
      await waitUntil(() => stack.dataCalls(1) > r0, 30_000, `${id}: a call answered by the replica`);
      r.recoverMs.push(Date.now() - tDown);
      await sleep(2500);
      await stack.restartData(0);
      const primaryAtReturn = stack.dataCalls(0);
      await waitUntil(() => stack.dataCalls(0) > primaryAtReturn, 30_000, `${id}: a call answered by the primary again`);
      const replicaAtReturn = stack.dataCalls(1);
      const o = await stack.outcome(handle);
      const replicaDuring = replicaAtReturn - r0;
      const primaryAfter = stack.dataCalls(0) - primaryAtReturn;
      const replicaAfter = stack.dataCalls(1) - replicaAtReturn;
      phases.push(`primary ${primaryBefore} → replica ${replicaDuring} → primary ${primaryAfter} (replica after return: ${replicaAfter})`);
      judge(r, id, [
        [completed(o), `run ended ${o.temporalStatus}/${o.progress.status}`],
        [primaryBefore >= 3 && replicaDuring >= 1 && primaryAfter >= 1, `calls per endpoint: ${phases.at(-1)}`],
        [replicaAfter === 0, `${replicaAfter} calls still went to the replica after the primary answered again`],
        [Array.from({ length: n }, (_, j) => stack.ledger.count(`${id}/h${j}`)).every((c) => c === 1), 'a ledger effect applied more or less than once'],
      ]);
    }
    r.duplicated = stack.ledger.duplicated('s10-');
    r.faultsNote = `${r.faults} × primary data server stopped (~2.5 s down)`;
    r.evidence = `data servers' call counters per run: ${phases.join('; ')}`;
    return r;
  },
};
