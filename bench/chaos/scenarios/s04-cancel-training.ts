import type { ChaosStack } from '../stack';
import { judge, newResult, SPEC_DEFAULTS, type Scenario } from '../types';
import { waitUntil } from './s01-kill-worker';

/**
 * RELIABILITY 4: cancel a run while the compute server trains a model (train_model starts a long ALS
 * job; a wait step polls job_status). The run's compensations run (cancel_job, delete of the dataset),
 * the job stops ON THE COMPUTE SERVER (its own job record says cancelled) and the run ends CANCELLED.
 */
export const cancelTraining: Scenario = {
  id: '4-cancel-training',
  title: 'Cancel the run during compute train_model',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'cancelled', 'cancel request → job cancelled on the compute server');
    const compute = stack.compute;
    if (!compute) throw new Error('scenario 4 needs the compute group');
    const runs = opts.runs ?? (opts.quick ? 1 : 3);
    let jobsStarted = 0;
    for (let i = 0; i < runs; i++) {
      const id = `s4-${i}`;
      // A synthetic implicit-feedback set big enough that 200 ALS sweeps take far longer than the test.
      const plan = stack.plan(`name: chaos-cancel-training
${SPEC_DEFAULTS}steps:
  dataset:
    server: data
    tool: sql_query
    args:
      sql: "SELECT (i % 4000)::INTEGER AS customer_id, ((i * 7919) % 3000)::INTEGER AS product_id, 1.0 AS strength FROM range(0, 400000) t(i)"
      output: parquet
      object_key: "chaos/${id}/dataset.parquet"
    compensate: { server: storage, tool: delete_file, args: { key: "\${steps.dataset.result.uri}" } }
  train:
    server: compute
    tool: train_model
    needs: [dataset]
    args:
      dataset_uri: "\${steps.dataset.result.uri}"
      columns: { user: customer_id, item: product_id, weight: strength }
      hyperparameters: { factors: 64, epochs: 200 }
      holdout: { strategy: none }
    compensate: { tool: cancel_job, args: { job_id: "\${steps.train.result.job_id}" } }
  wait_training:
    needs: [train]
    wait:
      signal: trainingCompleted
      timeout: 10m
      poll: { server: compute, tool: job_status, args: { job_id: "\${steps.train.result.job_id}" }, every: 1s, until: { path: status, in: [succeeded, failed, cancelled] } }
      failWhen: { path: status, in: [failed, cancelled] }
  after: { server: ledger, tool: effect, needs: [wait_training], args: { name: "${id}/after" } }
`);
      const handle = await stack.start(plan, id);
      const p = await stack.waitProgress(handle, (pr) => pr.steps.train!.status === 'done', 120_000);
      const jobId = String(p.steps.train?.summary?.job_id ?? '');
      const job = () => (jobId ? compute.jobs.get(jobId) : compute.jobs.list({ limit: 100 }).jobs.find((j) => j.dataset_uri.includes(`chaos/${id}/`)));
      await waitUntil(() => job()?.status === 'running' && (job()?.progress.epoch ?? 0) >= 1, 120_000, `${id}: the training job running its first sweeps`);
      const tCancel = Date.now();
      await handle.cancel();
      r.faults++;
      let stoppedMs: number | undefined;
      await waitUntil(() => {
        if (job()?.status === 'cancelled' && stoppedMs === undefined) stoppedMs = Date.now() - tCancel;
        return job()?.status !== 'running';
      }, 60_000, `${id}: the job to leave running`);
      const o = await stack.outcome(handle);
      if (stoppedMs !== undefined) r.recoverMs.push(stoppedMs);
      const mine = compute.jobs.list({ limit: 1000 }).jobs.filter((j) => j.dataset_uri.includes(`chaos/${id}/`));
      jobsStarted += mine.length;
      r.duplicated += Math.max(0, mine.length - 1);
      const j = job();
      judge(r, id, [
        [o.temporalStatus === 'CANCELLED' && o.progress.status === 'cancelled', `run ended ${o.temporalStatus}/${o.progress.status}`],
        [j?.status === 'cancelled', `compute job ${j?.job_id} is ${j?.status} at epoch ${j?.progress.epoch}/${j?.progress.epochs} (want cancelled)`],
        [o.progress.steps.train?.status === 'compensated' && o.progress.steps.dataset?.status === 'compensated', `steps train=${o.progress.steps.train?.status}, dataset=${o.progress.steps.dataset?.status} (want compensated)`],
        [mine.length === 1, `${mine.length} training jobs for one step`],
        [stack.ledger.count(`${id}/after`) === 0, 'the step after training ran'],
      ]);
    }
    r.faultsNote = `${r.faults} × workflow cancel mid-training`;
    r.evidence = `compute server: ${jobsStarted} job(s) for ${runs} train step(s), each ended cancelled (job record); dataset compensated by delete_file`;
    return r;
  },
};
