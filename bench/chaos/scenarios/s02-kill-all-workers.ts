import { CHAOS_GROUPS, sleep, type ChaosStack } from '../stack';
import { completed, judge, newResult, SPEC_DEFAULTS, type Scenario } from '../types';
import { waitUntil } from './s01-kill-worker';

/**
 * RELIABILITY 2: kill every worker (all group workers and the orchestrator) mid-run, start them again.
 * Evidence of "nothing duplicated": the storage server's object versions of the data exports (listed by
 * the run's own last step) and the ledger's effects.
 */
export const killAllWorkers: Scenario = {
  id: '2-kill-all-workers',
  title: 'SIGKILL every worker (groups + orchestrator), restart',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'completed', 'all killed → run resumed (next step done)');
    const runs = opts.runs ?? (opts.quick ? 1 : 3);
    const groups = [...stack.groups.filter((g) => (CHAOS_GROUPS as readonly string[]).includes(g)), 'orchestrator'];
    let versions = 0;
    for (let i = 0; i < runs; i++) {
      const id = `s2-${i}`;
      const plan = stack.plan(`name: chaos-kill-all
${SPEC_DEFAULTS}steps:
  export_a: { server: data, tool: sql_query, args: { sql: "SELECT 1 AS x", output: parquet, object_key: "chaos/${id}/a.parquet" } }
  hold: { server: ledger, tool: effect, needs: [export_a], args: { name: "${id}/hold", hold_ms: 3000 } }
  export_b: { server: data, tool: sql_query, needs: [hold], args: { sql: "SELECT 2 AS x", output: parquet, object_key: "chaos/${id}/b.parquet" } }
  list: { server: storage, tool: list_files, needs: [export_b], args: { prefix: "chaos/${id}/" } }
`);
      const handle = await stack.start(plan, id);
      await waitUntil(() => stack.ledger.count(`${id}/hold`) === 1, 60_000, `${id}/hold applied`);
      await sleep(300);
      const tKill = Date.now();
      await Promise.all(groups.map((g) => stack.killWorker(g, 'SIGKILL')));
      r.faults += groups.length;
      await sleep(1000);
      await stack.ensureWorkers();
      await stack.waitProgress(handle, (p) => p.steps.hold!.status === 'done', 90_000);
      r.recoverMs.push(Date.now() - tKill);
      const o = await stack.outcome(handle);
      const items = ((o.report?.results.list as { items?: Array<{ key: string; versions: number }> } | undefined)?.items ?? []).map((it) => [it.key, it.versions] as const);
      versions += items.reduce((a, [, v]) => a + v, 0);
      r.duplicated += items.reduce((a, [, v]) => a + Math.max(0, v - 1), 0);
      judge(r, id, [
        [completed(o), `run ended ${o.temporalStatus}/${o.progress.status}`],
        [items.length === 2 && items.every(([, v]) => v === 1), `storage objects ${JSON.stringify(items)} (want a and b, 1 version each)`],
        [stack.ledger.count(`${id}/hold`) === 1, `ledger effect applied ${stack.ledger.count(`${id}/hold`)} times`],
      ]);
    }
    r.duplicated += stack.ledger.duplicated('s2-');
    r.faultsNote = `${runs} × SIGKILL of ${groups.length} workers (${groups.join(', ')})`;
    r.evidence = `storage server: ${versions} object versions for ${2 * runs} exports; ledger: ${stack.ledger.entries.filter((e) => e.name.startsWith('s2-')).length} effects for ${runs} steps`;
    return r;
  },
};
