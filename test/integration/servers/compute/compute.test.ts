import fs from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { callOk, callTool, connectMcp, errorText } from '../../../harness/mcp-client';
import { pollUntil, startStack, startWebhookReceiver, syntheticTransactionsParquet } from './fixture';

jest.setTimeout(120_000);

type Job = {
  job_id: string;
  status: string;
  progress: { phase: string; epoch: number; epochs: number; loss: number | null };
  loss_history: { loss: number }[];
  metrics: { k: number; users_evaluated: number; model: { hit_rate: number; ndcg: number }; popularity: { hit_rate: number; ndcg: number }; hit_rate_lift: number | null } | null;
  model_id: string | null;
  artifacts: Record<string, string> | null;
  data: { users: number; items: number; interactions: number; held_out_pairs: number } | null;
  timings_ms: Record<string, number>;
  webhook: { delivered?: boolean; event_id?: string } | null;
  error: string | null;
};

const SECRET = 'whsec_compute_test_0123456789abcdef';

describe('compute server over real HTTP', () => {
  let stack: Awaited<ReturnType<typeof startStack>>;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let client: Client;
  let rawUri: string;
  let processedUri: string;
  let trainedJob: Job;

  const waitJob = (jobId: string, done: (j: Job) => boolean, timeoutMs = 60_000) =>
    pollUntil(async () => {
      const j = await callOk<Job>(client, 'job_status', { job_id: jobId });
      return done(j) ? j : undefined;
    }, timeoutMs);

  beforeAll(async () => {
    stack = await startStack();
    hooks = await startWebhookReceiver(SECRET);
    client = await connectMcp(stack.compute.server.mcpUrl);
    const bytes = await syntheticTransactionsParquet(stack.root, { customers: 2000, products: 300, perCustomer: 20, segments: 10, dirty: true });
    rawUri = (await stack.objects.put('datasets/customer_transactions.parquet', bytes)).uri;
  });

  afterAll(async () => {
    await client?.close();
    await hooks?.close();
    await stack?.close();
  });

  it('when asked for server_info, then it lists every tool, detects no GPU and reports measured facts', async () => {
    const info = await callOk<Record<string, any>>(client, 'server_info', {});
    expect(info.tools).toEqual(expect.arrayContaining(['data_processing', 'train_model', 'job_status', 'list_jobs', 'cancel_job', 'gpu_status', 'predict', 'model_export', 'server_info']));
    expect(info.capabilities.gpu).toBe('none (detected)');
    expect(info.capabilities.max_concurrent_jobs).toBe(1);
    expect(info.measured.cpu_count).toBeGreaterThan(0);
    expect(info.measured.disk_free_bytes).toBeGreaterThan(0);
    const listed = await client.listTools();
    for (const t of listed.tools) {
      expect(t.outputSchema).toBeDefined();
      expect(t.annotations).toBeDefined();
    }
  });

  it('when asked for gpu_status, then it reports no accelerator, the checks it made, CPU and memory', async () => {
    const g = await callOk<Record<string, any>>(client, 'gpu_status', {});
    expect(g.gpu_available).toBe(false);
    expect(g.accelerators).toEqual([]);
    expect(g.detection.some((c: { check: string }) => c.check.includes('nvidia-smi'))).toBe(true);
    expect(g.compute_device).toMatch(/cpu only/);
    expect(g.memory.total_bytes).toBeGreaterThan(g.memory.free_bytes);
  });

  it('when processing with clean, normalize and feature_engineering, then dirty rows are dropped and a customer×product dataset is stored', async () => {
    const r = await callOk<Record<string, any>>(client, 'data_processing', {
      dataset_uri: rawUri,
      operations: ['feature_engineering', 'clean', 'normalize'],
    });
    expect(r.operations_applied).toEqual(['clean', 'normalize', 'feature_engineering']);
    expect(r.rows_in).toBe(40_000 + 7 + 5 + 3);
    expect(r.dropped).toEqual({ nulls: 7, non_positive_quantity: 5, duplicates: 3 });
    expect(r.rows_out).toBeGreaterThan(5000);
    expect(r.rows_out).toBeLessThan(40_000);
    const names = r.columns.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['customer_id', 'product_id', 'purchases', 'strength', 'recency_days', 'last_purchase_at', 'amount_customer_norm']));
    expect(r.uri).toMatch(/^storage:\/\/processed\//);
    const stored = await stack.objects.get(r.uri);
    expect(stored.bytes.length).toBe(r.bytes_out);
    expect(Buffer.from(stored.bytes.subarray(0, 4)).toString()).toBe('PAR1');
    processedUri = r.uri;
  });

  it('when data_processing gets a bad uri, a missing object, non-Parquet bytes or a missing column, then it says what to fix', async () => {
    const bad = await callTool(client, 'data_processing', { dataset_uri: 's3://bucket/x.parquet', operations: ['clean'] });
    expect(bad.isError).toBe(true);
    expect(errorText(bad)).toMatch(/not a storage object URI/);
    const missing = await callTool(client, 'data_processing', { dataset_uri: 'storage://datasets/nope.parquet', operations: ['clean'] });
    expect(errorText(missing)).toMatch(/does not exist/);
    await stack.objects.put('datasets/garbage.parquet', Buffer.from('this is not parquet'));
    const garbage = await callTool(client, 'data_processing', { dataset_uri: 'storage://datasets/garbage.parquet', operations: ['clean'] });
    expect(errorText(garbage)).toMatch(/not a readable Parquet file/);
    const col = await callTool(client, 'data_processing', { dataset_uri: rawUri, operations: ['clean'], columns: { quantity: 'qty' } });
    expect(col.isError).toBe(true);
    expect(errorText(col)).toMatch(/no column "qty" \(columns.quantity\)/);
  });

  it('when training with an idempotency key twice, then one job runs, beats popularity by 2x on HR@10 and a signed webhook arrives', async () => {
    const args = {
      dataset_uri: processedUri,
      hyperparameters: { factors: 24, epochs: 10, regularization: 0.1, alpha: 20, seed: 7 },
      callback: { url: hooks.url, secret: SECRET },
    };
    const meta = { idempotencyKey: 'wf-1:train' };
    const first = await callOk<{ job_id: string; status: string }>(client, 'train_model', args, meta);
    const second = await callOk<{ job_id: string; status: string }>(client, 'train_model', args, meta);
    expect(['queued', 'running']).toContain(first.status);
    expect(second.job_id).toBe(first.job_id);
    const listed = await callOk<{ jobs: { job_id: string }[] }>(client, 'list_jobs', {});
    expect(listed.jobs.filter((j) => j.job_id === first.job_id)).toHaveLength(1);
    expect(listed.jobs).toHaveLength(1);

    const job = await waitJob(first.job_id, (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status));
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(job.loss_history).toHaveLength(10);
    expect(job.loss_history[9]!.loss).toBeLessThan(job.loss_history[0]!.loss);
    const m = job.metrics!;
    expect(m.k).toBe(10);
    expect(m.users_evaluated).toBeGreaterThan(1500);
    expect(m.model.hit_rate).toBeGreaterThanOrEqual(2 * m.popularity.hit_rate);
    expect(m.model.ndcg).toBeGreaterThan(m.popularity.ndcg);
    expect(job.artifacts!['user_factors.f32']).toMatch(/^storage:\/\/models\//);
    const uf = await stack.objects.get(job.artifacts!['user_factors.f32']!);
    expect(uf.bytes.length).toBe(job.data!.users * 24 * 4);
    const metaJson = JSON.parse(Buffer.from((await stack.objects.get(job.artifacts!['meta.json']!)).bytes).toString('utf8'));
    expect(metaJson.factors).toBe(24);

    await hooks.waitFor(() => hooks.received.length > 0, 10_000);
    const hook = hooks.received[0]!;
    expect(hook.verdict.ok).toBe(true);
    expect(hook.body.type).toBe('training.succeeded');
    expect((hook.body.data as { job_id: string }).job_id).toBe(first.job_id);
    expect(hook.id).toBe(hook.body.id);
    const after = await waitJob(first.job_id, (j) => j.webhook?.delivered === true, 10_000);
    expect(after.webhook!.event_id).toBe(hook.id);
    trainedJob = after;
     
    console.log('compute metrics (2000×300 synthetic):', JSON.stringify({ metrics: m, timings_ms: job.timings_ms, data: job.data }));
  });

  it('when predicting for a trained customer, then it returns K unseen products with descending scores', async () => {
    const r = await callOk<{ items: { product_id: string; score: number; rank: number }[]; source: string; excluded_purchased: number }>(client, 'predict', {
      model_id: trainedJob.model_id,
      customer_id: 3,
      k: 10,
    });
    expect(r.source).toBe('model');
    expect(r.items).toHaveLength(10);
    expect(r.excluded_purchased).toBeGreaterThan(0);
    for (let i = 1; i < r.items.length; i++) expect(r.items[i]!.score).toBeLessThanOrEqual(r.items[i - 1]!.score);
    // Customer 3 is in segment 3, whose products are 90..119: most recommendations should come from there.
    const inSegment = r.items.filter((it) => Number(it.product_id) >= 90 && Number(it.product_id) < 120).length;
    expect(inSegment).toBeGreaterThanOrEqual(6);
    const withSeen = await callOk<{ excluded_purchased: number }>(client, 'predict', { model_id: trainedJob.model_id, customer_id: '3', exclude_purchased: false });
    expect(withSeen.excluded_purchased).toBe(0);
  });

  it('when predicting for an unknown model or customer, then it fails clearly or falls back to popularity on request', async () => {
    const noModel = await callTool(client, 'predict', { model_id: 'mdl_doesnotexist', customer_id: 1 });
    expect(noModel.isError).toBe(true);
    expect(errorText(noModel)).toMatch(/unknown model_id "mdl_doesnotexist"/);
    const traversal = await callTool(client, 'predict', { model_id: '../../etc', customer_id: 1 });
    expect(errorText(traversal)).toMatch(/unknown model_id/);
    const noCustomer = await callTool(client, 'predict', { model_id: trainedJob.model_id, customer_id: 'ghost' });
    expect(errorText(noCustomer)).toMatch(/customer_id "ghost" is not in model/);
    const cold = await callOk<{ source: string; items: unknown[] }>(client, 'predict', { model_id: trainedJob.model_id, customer_id: 'ghost', cold_start: 'popular', k: 5 });
    expect(cold.source).toBe('popularity');
    expect(cold.items).toHaveLength(5);
  });

  it('when exporting to ONNX, then onnxruntime-node reproduces the scores within 1e-4 and identical top-10 lists', async () => {
    const r = await callOk<Record<string, any>>(client, 'model_export', { model_id: trainedJob.model_id, verify_users: 200 });
    expect(r.verified).toBe(true);
    expect(r.parity.users_checked).toBe(200);
    expect(r.parity.max_abs_diff).toBeLessThan(1e-4);
    expect(r.parity.top_k_identical_users).toBe(200);
    const stored = await stack.objects.get(r.uri);
    expect(stored.bytes.length).toBe(r.bytes);
    const bad = await callTool(client, 'model_export', { model_id: 'mdl_missing000' });
    expect(errorText(bad)).toMatch(/unknown model_id/);
     
    console.log('onnx parity:', JSON.stringify(r.parity), 'bytes', r.bytes);
  });

  it('when a running job is cancelled, then its worker stops, later cancels change nothing, and the webhook says cancelled', async () => {
    const started = await callOk<{ job_id: string }>(client, 'train_model', {
      dataset_uri: processedUri,
      hyperparameters: { factors: 64, epochs: 200, seed: 1 },
      callback: { url: hooks.url, secret: SECRET },
    });
    const running = await waitJob(started.job_id, (j) => j.status === 'running' && j.progress.epoch >= 1, 60_000);
    const gpu = await callOk<{ jobs: { job_id: string; status: string }[] }>(client, 'gpu_status', {});
    expect(gpu.jobs.find((j) => j.job_id === started.job_id)?.status).toBe('running');
    const waiting = await callOk<{ job_id: string; status: string; position_in_queue: number }>(client, 'train_model', { dataset_uri: processedUri });
    expect(waiting).toMatchObject({ status: 'queued', position_in_queue: 0 });
    const cq = await callOk<{ status: string; changed: boolean; previous_status: string }>(client, 'cancel_job', { job_id: waiting.job_id });
    expect(cq).toMatchObject({ status: 'cancelled', changed: true, previous_status: 'queued' });
    const c1 = await callOk<{ status: string; changed: boolean; previous_status: string }>(client, 'cancel_job', { job_id: started.job_id });
    expect(c1).toMatchObject({ status: 'cancelled', changed: true, previous_status: 'running' });
    const epochAtCancel = (await callOk<Job>(client, 'job_status', { job_id: started.job_id })).progress.epoch;
    await new Promise((r) => setTimeout(r, 1500));
    const later = await callOk<Job>(client, 'job_status', { job_id: started.job_id });
    expect(later.status).toBe('cancelled');
    expect(later.progress.epoch).toBe(epochAtCancel);
    expect(later.progress.epoch).toBeGreaterThanOrEqual(running.progress.epoch);
    expect(later.progress.epoch).toBeLessThan(200);
    const c2 = await callOk<{ changed: boolean; status: string }>(client, 'cancel_job', { job_id: started.job_id });
    expect(c2).toMatchObject({ changed: false, status: 'cancelled' });
    await hooks.waitFor(() => hooks.received.some((h) => (h.body.data as { job_id: string }).job_id === started.job_id), 10_000);
    const hook = hooks.received.find((h) => (h.body.data as { job_id: string }).job_id === started.job_id)!;
    expect(hook.verdict.ok).toBe(true);
    expect(hook.body.type).toBe('training.cancelled');
    const info = await callOk<{ measured: { jobs_running: number } }>(client, 'server_info', {});
    expect(info.measured.jobs_running).toBe(0);
  });

  it('when train_model gets a bad dataset uri or invalid hyperparameters, then it refuses before queueing', async () => {
    const before = (await callOk<{ total: number }>(client, 'list_jobs', {})).total;
    const notUri = await callTool(client, 'train_model', { dataset_uri: '/etc/passwd' });
    expect(errorText(notUri)).toMatch(/not a storage object URI/);
    const missing = await callTool(client, 'train_model', { dataset_uri: 'storage://processed/none.parquet' });
    expect(errorText(missing)).toMatch(/does not exist in storage/);
    for (const hp of [{ factors: 0 }, { epochs: 100000 }, { regularization: -1 }, { alpha: 0 }]) {
      const r = await callTool(client, 'train_model', { dataset_uri: processedUri, hyperparameters: hp }).catch((e: Error) => ({ isError: true, content: [{ type: 'text' as const, text: e.message }] }));
      expect(r.isError).toBe(true);
      expect(errorText(r as never)).toMatch(/hyperparameters|Input validation|invalid/i);
    }
    const badHoldout = await callTool(client, 'train_model', { dataset_uri: processedUri, holdout: { strategy: 'leave_last_out', test_fraction: 0.3 } });
    expect(errorText(badHoldout)).toMatch(/test_fraction applies only to holdout.strategy "time_split"/);
    const badColumn = await callTool(client, 'train_model', { dataset_uri: processedUri, hyperparameters: { epochs: 1 }, columns: { weight: 'nope' } });
    expect(badColumn.isError).toBeFalsy();
    const failed = await waitJob((badColumn.structuredContent as { job_id: string }).job_id, (j) => j.status !== 'queued' && j.status !== 'running', 30_000);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/no column "nope" \(columns.weight\)/);
    expect((await callOk<{ total: number }>(client, 'list_jobs', {})).total).toBe(before + 1);
  });

  it('when job_status or cancel_job name an unknown job, then they fail with the id in the message', async () => {
    const s = await callTool(client, 'job_status', { job_id: 'job_nope' });
    expect(s.isError).toBe(true);
    expect(errorText(s)).toMatch(/unknown job_id "job_nope"/);
    const c = await callTool(client, 'cancel_job', { job_id: 'job_nope' });
    expect(errorText(c)).toMatch(/unknown job_id "job_nope"/);
    const filtered = await callOk<{ jobs: { status: string }[] }>(client, 'list_jobs', { status: 'cancelled' });
    expect(filtered.jobs.length).toBeGreaterThanOrEqual(1);
    expect(filtered.jobs.every((j) => j.status === 'cancelled')).toBe(true);
  });

  it('when the model files are on disk, then they are float32 binaries of the right size', () => {
    const dir = `${stack.root}/compute/models/${trainedJob.model_id}`;
    expect(fs.statSync(`${dir}/item_factors.f32`).size).toBe(trainedJob.data!.items * 24 * 4);
  });
});
