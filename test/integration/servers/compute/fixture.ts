import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { DuckDBInstance } from '@duckdb/node-api';
import { ObjectStoreClient, verifyWebhook, WEBHOOK_HEADERS } from '../../../../src/servers/kit';
import { startStorageServer } from '../../../../src/servers/storage/main';
import { startComputeServer } from '../../../../src/servers/compute/main';

export const SERVICE_TOKEN = 'compute-test-service-token-0123456789';

/** A real storage server and a compute server wired to it, each with a fresh data dir. */
export async function startStack(opts: { maxConcurrentJobs?: number } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'compute-it-'));
  const base = { host: '127.0.0.1', port: 0, allowedHosts: [], allowedOrigins: [], maxBodyBytes: 4 * 1024 * 1024 };
  const storage = await startStorageServer({ ...base, dataDir: path.join(root, 'storage'), serviceToken: SERVICE_TOKEN });
  const compute = await startComputeServer(
    { ...base, dataDir: path.join(root, 'compute') },
    { storageUrl: storage.server.url, serviceToken: SERVICE_TOKEN, maxConcurrentJobs: opts.maxConcurrentJobs ?? 1, webhookBaseDelayMs: 50 },
  );
  const objects = new ObjectStoreClient({ baseUrl: storage.server.url, token: async () => SERVICE_TOKEN });
  return {
    root,
    storage,
    compute,
    objects,
    async close() {
      await compute.close();
      await storage.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Writes synthetic transactions with planted structure as Parquet: customers belong to one of
 * `segments` segments, 85 % of their purchases come from their segment's block of products (skewed
 * within the block), the rest from a popularity-skewed global pool. A handful of dirty rows (null
 * customer, zero quantity, duplicated transaction ids) exercise `clean`.
 */
export async function syntheticTransactionsParquet(
  dir: string,
  o: { customers: number; products: number; perCustomer: number; segments: number; dirty?: boolean },
): Promise<Uint8Array> {
  const file = path.join(dir, `tx-${o.customers}-${o.products}.parquet`);
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const n = o.customers * o.perCustomer;
  const block = Math.floor(o.products / o.segments);
  const u = (salt: number) => `((hash(n * 1000003 + ${salt}) % 1000000)::DOUBLE / 1e6)`;
  try {
    await conn.run(`CREATE TABLE tx AS
      WITH x AS (SELECT range AS n, range // ${o.perCustomer} AS c FROM range(${n}))
      SELECT n AS transaction_id, c AS customer_id,
        CASE WHEN ${u(1)} < 0.85 THEN (c % ${o.segments}) * ${block} + floor(${u(2)} * ${u(2)} * ${block})::BIGINT
             ELSE floor(${u(3)} * ${u(3)} * ${u(3)} * ${o.products})::BIGINT END AS product_id,
        'cat' || ((c % ${o.segments})::VARCHAR) AS category,
        (1 + floor(${u(4)} * 3))::INTEGER AS quantity,
        round(5 + ${u(5)} * 50, 2)::DOUBLE AS amount,
        TIMESTAMP '2024-01-01' + to_seconds((hash(n * 7 + 11) % 63072000)::BIGINT) AS ts
      FROM x`);
    if (o.dirty) {
      await conn.run(`INSERT INTO tx SELECT transaction_id + 100000000, NULL, product_id, category, quantity, amount, ts FROM tx WHERE transaction_id < 7`);
      await conn.run(`INSERT INTO tx SELECT transaction_id + 200000000, customer_id, product_id, category, 0, amount, ts FROM tx WHERE transaction_id BETWEEN 10 AND 14`);
      await conn.run(`INSERT INTO tx SELECT * FROM tx WHERE transaction_id BETWEEN 20 AND 22`);
    }
    await conn.run(`COPY tx TO '${file}' (FORMAT parquet)`);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
  return fs.readFileSync(file);
}

/** A local webhook receiver that verifies every delivery's signature with kit verifyWebhook. */
export async function startWebhookReceiver(secret: string) {
  const received: { verdict: ReturnType<typeof verifyWebhook>; id: string | undefined; body: Record<string, unknown> }[] = [];
  const waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const verdict = verifyWebhook(secret, raw, req.headers[WEBHOOK_HEADERS.signature] as string | undefined);
      received.push({ verdict, id: req.headers[WEBHOOK_HEADERS.id] as string | undefined, body: JSON.parse(raw.toString('utf8')) as Record<string, unknown> });
      res.statusCode = verdict.ok ? 204 : 401;
      res.end();
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/training`,
    received,
    async waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error('webhook not received in time');
        await new Promise<void>((r) => {
          const t = setTimeout(r, 100);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `fn` returns a value, bounded by `timeoutMs`. */
export async function pollUntil<T>(fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
