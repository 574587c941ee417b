import { z } from 'zod';
import { ToolError } from '../kit';
import type { DataEngine, QueryResult, RunOptions, SqlParams } from './duckdb-engine';
import type { AnalyticsName } from './schemas';
import { CATEGORIES } from './seed';

const isoDate = (what: string, dflt: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD')
    .refine(
      (s) =>
        !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s),
      'a real calendar date',
    )
    .default(dflt)
    .describe(what);

const range = {
  start_date: isoDate('First day included (YYYY-MM-DD)', '2024-01-01'),
  end_date: isoDate('Last day included (YYYY-MM-DD)', '2025-12-31'),
};
const category = z.enum(CATEGORIES).optional().describe('Only this product category');
const segment = z
  .number()
  .int()
  .min(0)
  .max(1000)
  .optional()
  .describe('Only customers of this latent segment');

function withRange<T extends z.ZodRawShape>(shape: T) {
  return z
    .object({ ...range, ...shape })
    .strict()
    .refine(
      (p) =>
        String((p as Record<string, unknown>).start_date) <= String((p as Record<string, unknown>).end_date),
      { message: 'start_date must not be after end_date', path: ['start_date'] },
    );
}

const RANGE_SQL = `t.ts >= CAST($start_date AS DATE) AND t.ts < CAST($end_date AS DATE) + INTERVAL 1 DAY`;

interface Analysis {
  params: z.ZodType<Record<string, unknown>>;
  doc: string;
  sql: string;
}

/**
 * The named analyses: fixed SQL with named parameters, each with a strict zod schema so a typo in a
 * parameter name fails with the name instead of being ignored.
 */
const ANALYSES: Record<AnalyticsName, Analysis> = {
  revenue_by_day: {
    doc: 'revenue_by_day {start_date, end_date, category?}: orders, units, revenue, customers per day',
    params: withRange({ category }),
    sql: `SELECT CAST(t.ts AS DATE) AS day, count(*) AS orders, sum(t.quantity) AS units, sum(t.amount) AS revenue,
                 count(DISTINCT t.customer_id) AS customers
          FROM customer_transactions t
          WHERE ${RANGE_SQL} AND ($category IS NULL OR t.category = $category)
          GROUP BY 1 ORDER BY 1`,
  },
  revenue_by_month: {
    doc: 'revenue_by_month {start_date, end_date, category?}: orders, units, revenue, customers, average order value per month',
    params: withRange({ category }),
    sql: `SELECT strftime(date_trunc('month', t.ts), '%Y-%m') AS month, count(*) AS orders, sum(t.quantity) AS units,
                 sum(t.amount) AS revenue, count(DISTINCT t.customer_id) AS customers, round(avg(t.amount), 2) AS avg_order_value
          FROM customer_transactions t
          WHERE ${RANGE_SQL} AND ($category IS NULL OR t.category = $category)
          GROUP BY 1 ORDER BY 1`,
  },
  top_products: {
    doc: 'top_products {start_date, end_date, category?, segment?, by: revenue|units|orders = revenue, limit: 1..100 = 10}',
    params: withRange({
      category,
      segment,
      by: z.enum(['revenue', 'units', 'orders']).default('revenue').describe('Ranking measure'),
      limit: z.number().int().min(1).max(100).default(10).describe('Products returned'),
    }),
    sql: `SELECT t.product_id, p.name, p.category, count(*) AS orders, sum(t.quantity) AS units, sum(t.amount) AS revenue
          FROM customer_transactions t JOIN products p USING (product_id) JOIN customers c USING (customer_id)
          WHERE ${RANGE_SQL} AND ($category IS NULL OR t.category = $category) AND ($segment IS NULL OR c.segment = $segment)
          GROUP BY ALL
          ORDER BY CASE $by WHEN 'units' THEN sum(t.quantity) WHEN 'orders' THEN count(*) ELSE sum(t.amount) END DESC, t.product_id
          LIMIT $limit`,
  },
  customer_cohorts: {
    doc: 'customer_cohorts {start_date, end_date, max_months: 0..24 = 12}: per first-purchase month, active customers and retention by months since',
    params: withRange({
      max_months: z
        .number()
        .int()
        .min(0)
        .max(24)
        .default(12)
        .describe('Months after the cohort month to report'),
    }),
    sql: `WITH tx AS (
            SELECT t.customer_id, date_trunc('month', t.ts) AS m FROM customer_transactions t WHERE ${RANGE_SQL}
          ), firsts AS (
            SELECT customer_id, min(m) AS cohort FROM tx GROUP BY 1
          ), sizes AS (
            SELECT cohort, count(*) AS cohort_size FROM firsts GROUP BY 1
          ), activity AS (
            SELECT f.cohort, date_diff('month', f.cohort, tx.m) AS months_since, count(DISTINCT tx.customer_id) AS active_customers
            FROM tx JOIN firsts f USING (customer_id) GROUP BY 1, 2
          )
          SELECT strftime(a.cohort, '%Y-%m') AS cohort_month, a.months_since, s.cohort_size, a.active_customers,
                 round(a.active_customers / s.cohort_size, 4) AS retention
          FROM activity a JOIN sizes s USING (cohort)
          WHERE a.months_since <= $max_months
          ORDER BY a.cohort, a.months_since`,
  },
  category_mix: {
    doc: 'category_mix {start_date, end_date, segment?}: orders, revenue and revenue share per category',
    params: withRange({ segment }),
    sql: `SELECT t.category, count(*) AS orders, sum(t.amount) AS revenue,
                 round(sum(t.amount) / sum(sum(t.amount)) OVER (), 4) AS revenue_share
          FROM customer_transactions t JOIN customers c USING (customer_id)
          WHERE ${RANGE_SQL} AND ($segment IS NULL OR c.segment = $segment)
          GROUP BY 1 ORDER BY revenue DESC, t.category`,
  },
  segment_preferences: {
    doc: 'segment_preferences {start_date, end_date, top_k: 1..12 = 3}: per customer segment, its top categories by order share and their lift over the overall share',
    params: withRange({
      top_k: z.number().int().min(1).max(12).default(3).describe('Categories per segment'),
    }),
    sql: `WITH base AS (
            SELECT c.segment, t.category, count(*) AS orders
            FROM customer_transactions t JOIN customers c USING (customer_id)
            WHERE ${RANGE_SQL} GROUP BY 1, 2
          ), shares AS (
            SELECT segment, category, orders,
                   orders / sum(orders) OVER (PARTITION BY segment) AS share,
                   sum(orders) OVER (PARTITION BY category) / sum(orders) OVER () AS overall_share
            FROM base
          ), ranked AS (
            SELECT *, row_number() OVER (PARTITION BY segment ORDER BY share DESC, category) AS rank FROM shares
          )
          SELECT segment, rank, category, orders, round(share, 4) AS share, round(share / overall_share, 3) AS lift
          FROM ranked WHERE rank <= $top_k ORDER BY segment, rank`,
  },
  customer_summary: {
    doc: "customer_summary {customer_id}: a customer's segment, region, orders, revenue, first/last purchase and favourite category",
    params: z.object({ customer_id: z.number().int().min(1).describe('Customer id') }).strict(),
    sql: `SELECT c.customer_id, c.segment, c.region, c.signup_date, count(t.transaction_id) AS orders,
                 coalesce(sum(t.amount), 0) AS revenue, min(t.ts) AS first_purchase, max(t.ts) AS last_purchase,
                 mode(t.category) AS favourite_category
          FROM customers c LEFT JOIN customer_transactions t USING (customer_id)
          WHERE c.customer_id = $customer_id
          GROUP BY ALL`,
  },
};

/** One line per analysis, for the tool description. */
export const ANALYTICS_DOC = `Analyses and params: ${Object.values(ANALYSES)
  .map((a) => a.doc)
  .join('; ')}. Dates are YYYY-MM-DD, inclusive; the data covers 2024-01-01..2025-12-31.`;

/** Validates `params` for the named analysis and runs it. */
export async function runAnalytics(
  engine: DataEngine,
  name: AnalyticsName,
  params: Record<string, unknown>,
  maxRows: number,
  run: RunOptions,
): Promise<{ params: Record<string, unknown>; result: QueryResult }> {
  const analysis = ANALYSES[name];
  const parsed = analysis.params.safeParse(params);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => {
        const where = i.path.length ? `params.${i.path.join('.')}` : 'params';
        const keys = 'keys' in i && Array.isArray(i.keys) ? ` (${i.keys.join(', ')})` : '';
        return `${where}: ${i.message}${keys}`;
      })
      .join('; ');
    throw new ToolError(`invalid params for ${name}: ${issues}. Expected: ${analysis.doc}`, 'invalid_params');
  }
  const values = bindValuesFor(analysis.sql, parsed.data);
  const result = await engine.query(analysis.sql, values, maxRows, run, `analysis ${name}`);
  return { params: parsed.data, result };
}

/** Named parameter values the SQL uses; optional parameters absent from the input bind as NULL. */
function bindValuesFor(sql: string, data: Record<string, unknown>): SqlParams {
  const names = new Set([...sql.matchAll(/\$([a-z_][a-z0-9_]*)/g)].map((m) => m[1] as string));
  const out: Record<string, string | number | boolean | null> = {};
  for (const n of names) {
    const v = data[n];
    out[n] = v === undefined ? null : (v as string | number | boolean);
  }
  return out;
}
