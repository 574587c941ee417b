import { createHash } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';

/** Bumped whenever the generator's SQL changes what it produces for a given seed. */
export const GENERATOR_VERSION = 1;

/** Product categories; segments prefer subsets of them. */
export const CATEGORIES = [
  'electronics',
  'books',
  'home',
  'garden',
  'toys',
  'sports',
  'beauty',
  'grocery',
  'fashion',
  'automotive',
  'health',
  'music',
] as const;

export const REGIONS = ['north', 'south', 'east', 'west', 'central'] as const;

/** Share of transactions drawn from the customer's segment preferences (the rest follow global popularity). */
export const PREFERRED_SHARE = 0.72;

export interface SeedParams {
  seed: number;
  rows: number;
  customers: number;
  products: number;
  segments: number;
  /** Categories each segment prefers. */
  preferredCategoriesPerSegment: number;
}

/** Fills in derived sizes so a small row count still gives a sensible catalogue. */
export function resolveSeedParams(p: {
  seed: number;
  rows: number;
  customers?: number;
  products?: number;
}): SeedParams {
  const customers = p.customers && p.customers > 0 ? p.customers : Math.max(50, Math.round(p.rows / 24));
  const products =
    p.products && p.products > 0 ? p.products : Math.min(2000, Math.max(60, Math.round(p.rows / 100)));
  return { seed: p.seed, rows: p.rows, customers, products, segments: 8, preferredCategoriesPerSegment: 3 };
}

/** A 63-bit constant derived from the seed and a salt, as a decimal literal. */
export function saltConstant(seed: number, salt: string): string {
  const digest = createHash('sha256').update(`${seed}:${salt}`).digest();
  return (digest.readBigUInt64BE(0) & 0x7fffffffffffffffn).toString();
}

function assertInt(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min)
    throw new Error(`seed parameter ${name} must be an integer >= ${min}, got ${v}`);
}

/**
 * SQL statements that generate the three tables entirely inside DuckDB. Randomness is `hash(seed, i, salt)`
 * mapped to [0,1): deterministic for a seed, independent of thread scheduling, and fast (no JS loop).
 *
 * Planted structure a recommender can learn:
 * - every customer belongs to one of `segments` latent segments;
 * - each segment prefers 3 categories, and inside each category ranks products by its own rotation of the
 *   global order, so its favourites differ from the global best-sellers;
 * - 72 % of a customer's purchases come from the segment's preferences, 28 % from global popularity;
 * - popularity ranks are drawn log-uniformly, i.e. P(rank = k) ~ 1/k (Zipf, s = 1), so a popularity
 *   baseline is meaningful but beatable.
 */
export function seedStatements(params: SeedParams): string[] {
  const { seed, rows, customers, products, segments, preferredCategoriesPerSegment: prefs } = params;
  assertInt('seed', seed, 0);
  assertInt('rows', rows, 1);
  assertInt('customers', customers, 1);
  assertInt('products', products, CATEGORIES.length);
  assertInt('segments', segments, 1);
  const K = CATEGORIES.length;
  const cats = `[${CATEGORIES.map((c) => `'${c}'`).join(', ')}]`;
  const regions = `[${REGIONS.map((c) => `'${c}'`).join(', ')}]`;
  // DuckDB's multi-argument hash() combines per-argument hashes cheaply, so draws with different salts came
  // out correlated; re-hashing the row hash XOR a per-(seed, salt) 63-bit constant gives independent streams.
  const h = (i: string, salt: string) => `hash(xor(hash(${i}), ${saltConstant(seed, salt)}::UBIGINT))`;
  // 2^32 buckets: enough resolution for 50M rows, exact in a DOUBLE.
  const u = (i: string, salt: string) => `((${h(i, salt)} % 4294967296)::DOUBLE / 4294967296.0)`;
  const seconds = 731 * 86_400; // 2024-01-01 .. 2025-12-31 inclusive (2024 is a leap year)
  return [
    'DROP TABLE IF EXISTS customer_transactions',
    'DROP TABLE IF EXISTS customers',
    'DROP TABLE IF EXISTS products',
    'DROP TABLE IF EXISTS _seed_info',
    `CREATE TABLE products AS
     WITH shuffled AS (
       SELECT range + 1 AS product_id, row_number() OVER (ORDER BY ${u('range', 'p_cat')}, range) - 1 AS slot,
              ${u('range', 'p_price')} AS up
       FROM range(${products})
     ), assigned AS (
       SELECT product_id, (slot % ${K})::INTEGER AS category_idx, up FROM shuffled
     )
     SELECT product_id::INTEGER AS product_id,
            ${cats}[category_idx + 1] AS category,
            ${cats}[category_idx + 1] || ' item ' || product_id AS name,
            round(2 + 250 * up * up, 2)::DECIMAL(10,2) AS price,
            product_id::INTEGER AS popularity_rank,
            category_idx,
            row_number() OVER (PARTITION BY category_idx ORDER BY product_id)::INTEGER AS category_rank
     FROM assigned ORDER BY product_id`,
    `CREATE TABLE customers AS
     SELECT (range + 1)::INTEGER AS customer_id,
            floor(${u('range', 'c_seg')} * ${segments})::INTEGER AS segment,
            ${regions}[1 + floor(${u('range', 'c_reg')} * ${REGIONS.length})::INTEGER] AS region,
            (DATE '2023-01-01' + floor(${u('range', 'c_signup')} * 1000)::INTEGER) AS signup_date
     FROM range(${customers}) ORDER BY customer_id`,
    `CREATE TABLE customer_transactions AS
     WITH cat_sizes AS (
       SELECT category_idx, count(*)::INTEGER AS n FROM products GROUP BY category_idx
     ), offsets AS (
       SELECT s.range AS segment, c.category_idx, (${h('s.range * 1000 + c.category_idx', 'off')} % c.n)::INTEGER AS off, c.n
       FROM range(${segments}) s CROSS JOIN cat_sizes c
     ), draws AS (
       SELECT range AS i,
              1 + least(${customers - 1}, floor(${customers} * pow(${u('range', 't_cust')}, 1.6))::INTEGER) AS customer_id,
              ${u('range', 't_path')} < ${PREFERRED_SHARE} AS preferred,
              floor(${u('range', 't_pref')} * ${prefs})::INTEGER AS pref_j,
              ${u('range', 't_rank')} AS ur,
              ${u('range', 't_qty')} AS uq,
              ${u('range', 't_ts')} AS ut,
              ${u('range', 't_disc')} AS ud
       FROM range(${rows})
     ), located AS (
       SELECT d.*, c.segment, ((c.segment * 5 + d.pref_j * 7) % ${K})::INTEGER AS pref_cat
       FROM draws d JOIN customers c USING (customer_id)
     ), ranked AS (
       -- The target rank is computed first so the product lookup below is a plain two-key equi-join
       -- (an expression in the join condition made DuckDB hash on one key and filter a 150x blow-up).
       SELECT l.*, ((least(o.n, floor(exp(l.ur * ln(o.n + 1)))::INTEGER) - 1 + o.off) % o.n + 1)::INTEGER AS pref_rank
       FROM located l JOIN offsets o ON o.segment = l.segment AND o.category_idx = l.pref_cat
     ), chosen AS (
       SELECT r.i, r.customer_id, r.uq, r.ut, r.ud,
              CASE WHEN r.preferred THEN p_pref.product_id
                   ELSE least(${products}, floor(exp(r.ur * ln(${products} + 1)))::INTEGER) END AS product_id
       FROM ranked r
       JOIN products p_pref ON p_pref.category_idx = r.pref_cat AND p_pref.category_rank = r.pref_rank
     ), priced AS (
       SELECT ch.i, ch.customer_id, ch.product_id, p.category,
              (1 + floor(pow(ch.uq, 3) * 5))::INTEGER AS quantity,
              p.price, ch.ud,
              TIMESTAMP '2024-01-01 00:00:00' + to_seconds(floor(pow(ch.ut, 0.85) * ${seconds})::BIGINT) AS ts
       FROM chosen ch JOIN products p USING (product_id)
     )
     SELECT row_number() OVER (ORDER BY ts, i)::BIGINT AS transaction_id,
            customer_id, product_id, category, quantity,
            round(quantity * price * CASE WHEN ud < 0.15 THEN 0.85 ELSE 1 END, 2)::DECIMAL(12,2) AS amount,
            ts
     FROM priced ORDER BY ts, i`,
  ];
}

/** Facts recorded in `_seed_info` and reported by `server_info`. */
export interface SeedInfo extends SeedParams {
  generatorVersion: number;
  durationMs: number;
  createdAt: string;
}

/** Runs the generator in one transaction and records its parameters in `_seed_info`. */
export async function runSeed(conn: DuckDBConnection, params: SeedParams): Promise<SeedInfo> {
  const started = performance.now();
  await conn.run('BEGIN TRANSACTION');
  try {
    for (const sql of seedStatements(params)) await conn.run(sql);
    const count = await conn.runAndReadAll('SELECT count(*) FROM customer_transactions');
    const got = Number(count.getRowsJS()[0]?.[0]);
    if (got !== params.rows) throw new Error(`seed produced ${got} rows, expected ${params.rows}`);
    const info: SeedInfo = {
      ...params,
      generatorVersion: GENERATOR_VERSION,
      durationMs: Math.round(performance.now() - started),
      createdAt: new Date().toISOString(),
    };
    await conn.run(
      `CREATE TABLE _seed_info AS SELECT $seed::INTEGER AS seed, $rows::BIGINT AS rows, $customers::INTEGER AS customers,
         $products::INTEGER AS products, $segments::INTEGER AS segments, $prefs::INTEGER AS preferred_categories_per_segment,
         $gv::INTEGER AS generator_version, $ms::BIGINT AS duration_ms, $at::TIMESTAMPTZ AS created_at`,
      {
        seed: info.seed,
        rows: info.rows,
        customers: info.customers,
        products: info.products,
        segments: info.segments,
        prefs: info.preferredCategoriesPerSegment,
        gv: info.generatorVersion,
        ms: info.durationMs,
        at: info.createdAt,
      },
    );
    await conn.run('COMMIT');
    return info;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Reads `_seed_info`, or undefined when the database has not been seeded. */
export async function readSeedInfo(conn: DuckDBConnection): Promise<SeedInfo | undefined> {
  const exists = await conn.runAndReadAll(
    "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = '_seed_info'",
  );
  if (Number(exists.getRowsJS()[0]?.[0]) === 0) return undefined;
  const r = await conn.runAndReadAll('SELECT * FROM _seed_info LIMIT 1');
  const row = r.getRowObjectsJS()[0];
  if (!row) return undefined;
  return {
    seed: Number(row.seed),
    rows: Number(row.rows),
    customers: Number(row.customers),
    products: Number(row.products),
    segments: Number(row.segments),
    preferredCategoriesPerSegment: Number(row.preferred_categories_per_segment),
    generatorVersion: Number(row.generator_version),
    durationMs: Number(row.duration_ms),
    createdAt: row.created_at instanceof Date ? row.created_at.toISOString() : String(row.created_at),
  };
}
