import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { callOk } from '../../../harness/mcp-client';
import { connectMcp } from '../../../harness/mcp-client';
import { startDataServer } from '../../../../src/servers/data/main';

jest.setTimeout(120_000);

const AGGREGATES = `SELECT count(*) AS n, sum(amount)::VARCHAR AS revenue, sum(quantity) AS units,
  count(DISTINCT customer_id) AS customers, count(DISTINCT product_id) AS products,
  min(ts)::VARCHAR AS first_ts, max(ts)::VARCHAR AS last_ts,
  sum(hash(transaction_id, customer_id, product_id, amount, ts) % 1000000007) AS fingerprint
  FROM customer_transactions`;

async function seedAndMeasure(dataDir: string, seed: number, rows: number) {
  const started = await startDataServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    seed,
    seedRows: rows,
    threads: 2,
    memoryLimit: '512MB',
  });
  const client = await connectMcp(started.server.mcpUrl);
  try {
    const agg = await callOk<{ rows: Array<Record<string, unknown>> }>(client, 'sql_query', {
      sql: AGGREGATES,
    });
    const perCategory = await callOk<{ rows: Array<Record<string, unknown>> }>(client, 'sql_query', {
      sql: 'SELECT category, count(*) AS n, sum(amount)::VARCHAR AS revenue FROM customer_transactions GROUP BY 1 ORDER BY 1',
    });
    const info = await callOk<{ seed: Record<string, unknown> }>(client, 'server_info', {});
    return { agg: agg.rows[0], perCategory: perCategory.rows, seed: info.seed };
  } finally {
    await client.close();
    await started.close();
  }
}

describe('seeding', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'data-seed-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('when two databases are seeded with the same parameters, then their aggregates are identical', async () => {
    const a = await seedAndMeasure(tmp(), 7, 30_000);
    const b = await seedAndMeasure(tmp(), 7, 30_000);
    expect(a.agg).toEqual(b.agg);
    expect(a.perCategory).toEqual(b.perCategory);
    expect(a.agg?.n).toBe(30_000);
    const c = await seedAndMeasure(tmp(), 8, 30_000);
    expect(c.agg?.fingerprint).not.toEqual(a.agg?.fingerprint);
  });

  it('when 100k rows are seeded, then it completes and _seed_info records parameters and time', async () => {
    const r = await seedAndMeasure(tmp(), 42, 100_000);
    expect(r.agg?.n).toBe(100_000);
    expect(String(r.agg?.first_ts) >= '2024-01-01').toBe(true);
    expect(String(r.agg?.last_ts) < '2026-01-01').toBe(true);
    expect(r.seed).toMatchObject({ seed: 42, rows: 100_000, seededThisStart: true });
     
    console.log(`seed of 100000 rows took ${r.seed.durationMs} ms on ${os.cpus().length} CPUs`);
    expect(Number(r.seed.durationMs)).toBeLessThan(90_000);
  });

  it('when the server restarts on the same data dir, then it does not seed again', async () => {
    const dir = tmp();
    const first = await seedAndMeasure(dir, 3, 5_000);
    const second = await seedAndMeasure(dir, 3, 9_999);
    expect(first.seed.seededThisStart).toBe(true);
    expect(second.seed.seededThisStart).toBe(false);
    expect(second.agg?.n).toBe(5_000);
    expect(second.seed.createdAt).toBe(first.seed.createdAt);
  });
});
