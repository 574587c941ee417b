/**
 * Manual scale measurement (not a Jest test): ~1.2M transactions through data_processing, train_model,
 * model_export on real servers. Run: `npx tsx test/integration/servers/compute/scale-run.ts [customers] [products]`.
 */
import { callOk, connectMcp } from '../../../harness/mcp-client';
import { pollUntil, startStack, syntheticTransactionsParquet } from './fixture';

async function main() {
  const customers = Number(process.argv[2] ?? 60_000);
  const products = Number(process.argv[3] ?? 2_000);
  const stack = await startStack();
  const client = await connectMcp(stack.compute.server.mcpUrl);
  try {
    let t = Date.now();
    const bytes = await syntheticTransactionsParquet(stack.root, { customers, products, perCustomer: 20, segments: 20 });
    const raw = await stack.objects.put('datasets/scale.parquet', bytes);
    console.error(`generated ${customers * 20} rows (${bytes.length} bytes) in ${Date.now() - t} ms`);
    t = Date.now();
    const proc = await callOk<Record<string, any>>(client, 'data_processing', { dataset_uri: raw.uri, operations: ['clean', 'normalize', 'feature_engineering'] });
    console.error('data_processing', Date.now() - t, 'ms', JSON.stringify({ rows_in: proc.rows_in, rows_out: proc.rows_out, bytes_out: proc.bytes_out, timings: proc.timings_ms }));
    const job = await callOk<{ job_id: string }>(client, 'train_model', { dataset_uri: proc.uri, hyperparameters: { factors: 32, epochs: 15 } });
    const done = await pollUntil(async () => {
      const j = await callOk<Record<string, any>>(client, 'job_status', { job_id: job.job_id });
      return ['succeeded', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
    }, 900_000, 1000);
    console.error('train_model', JSON.stringify({ status: done.status, error: done.error, data: done.data, metrics: done.metrics, timings_ms: done.timings_ms, last_loss: done.progress.loss }));
    if (done.model_id) {
      const ex = await callOk<Record<string, any>>(client, 'model_export', { model_id: done.model_id, verify_users: 500 });
      console.error('model_export', JSON.stringify({ bytes: ex.bytes, verified: ex.verified, parity: ex.parity }));
    }
  } finally {
    await client.close();
    await stack.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
