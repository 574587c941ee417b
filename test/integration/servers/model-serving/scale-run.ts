/**
 * Measures deploy and predict latency with a model the size of the compute server's measured run
 * (60 000 users × 2 000 items × 32 factors, ~7.9 MB ONNX). Not a test: run with
 * `npx tsx test/integration/servers/model-serving/scale-run.ts`; prints one JSON line.
 */
import fs from 'node:fs';
import { randomRecommender, startServingStack } from './fixture';

async function main() {
  const users = Number(process.env.USERS ?? 60_000);
  const items = Number(process.env.ITEMS ?? 2_000);
  const factors = Number(process.env.FACTORS ?? 32);
  const n = Number(process.env.N ?? 500);
  const model = randomRecommender(42, users, items, factors);
  const stack = await startServingStack({}, { maxBodyBytes: 1024 * 1024 });
  try {
    await stack.objects.put('models/scale/model.onnx', model.bytes);
    const t0 = performance.now();
    const d = await stack.call('POST', '/v1/models', {
      name: 'scale',
      version: '1',
      model_uri: 'storage://models/scale/model.onnx',
    });
    const deployMs = performance.now() - t0;
    if (d.status !== 201) throw new Error(JSON.stringify(d.body));
    const client: number[] = [];
    const server: number[] = [];
    const inference: number[] = [];
    let maxDiff = 0;
    for (let i = 0; i < n; i++) {
      const u = (i * 7919) % users;
      const s = performance.now();
      const r = await stack.call('POST', '/v1/models/scale/predict', { customer_index: u, k: 10 });
      client.push(performance.now() - s);
      server.push(r.body.latency_ms);
      inference.push(r.body.inference_ms);
      if (i % 50 === 0) {
        const direct = model.scores(u);
        for (const x of r.body.items as { item_index: number; score: number }[])
          maxDiff = Math.max(maxDiff, Math.abs(x.score - direct[x.item_index]!));
      }
    }
    const pct = (a: number[], p: number) =>
      Math.round([...a].sort((x, y) => x - y)[Math.floor(p * (a.length - 1))]! * 100) / 100;
    process.stdout.write(
      JSON.stringify({
        users,
        items,
        factors,
        onnxBytes: model.bytes.length,
        deployMs: Math.round(deployMs),
        loadedMs: d.body.loaded_ms,
        warmupMs: d.body.warmup_ms,
        predictions: n,
        clientMs: { p50: pct(client, 0.5), p95: pct(client, 0.95), p99: pct(client, 0.99) },
        serverMs: { p50: pct(server, 0.5), p95: pct(server, 0.95) },
        inferenceMs: { p50: pct(inference, 0.5), p95: pct(inference, 0.95) },
        maxAbsDiffSampled: maxDiff,
      }) + '\n',
    );
  } finally {
    await stack.serving.close();
    await stack.storage.close();
    fs.rmSync(stack.root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
