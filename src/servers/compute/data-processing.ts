import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ToolError, objectKeyFromUri, type ObjectStoreClient } from '../kit';
import { DuckSandbox, isNumericType, isTemporalType, sqlIdent, sqlString } from './duck-sandbox';

export const PROCESSING_OPERATIONS = ['clean', 'normalize', 'feature_engineering'] as const;
export type ProcessingOperation = (typeof PROCESSING_OPERATIONS)[number];

/** Names of the input's columns (defaults match the data server's `customer_transactions`). */
export interface ColumnMapping {
  customer: string;
  product: string;
  quantity: string;
  amount: string;
  timestamp: string;
  /** Row identity for de-duplication; when absent from the data, exact duplicate rows are dropped. */
  id: string;
}

export const DEFAULT_COLUMNS: ColumnMapping = {
  customer: 'customer_id',
  product: 'product_id',
  quantity: 'quantity',
  amount: 'amount',
  timestamp: 'ts',
  id: 'transaction_id',
};

export interface ProcessingRequest {
  inputUri: string;
  operations: ProcessingOperation[];
  columns: ColumnMapping;
  /** Half-life of the recency decay in interaction strength. */
  recencyHalfLifeDays: number;
  outputKey?: string;
  idempotencyKey?: string;
}

export interface ProcessingResult {
  uri: string;
  key: string;
  version: number;
  sha256: string;
  rows_in: number;
  rows_out: number;
  bytes_in: number;
  bytes_out: number;
  columns: { name: string; type: string }[];
  operations_applied: ProcessingOperation[];
  dropped: { nulls: number; non_positive_quantity: number; duplicates: number };
  engine: string;
  timings_ms: { download: number; process: number; upload: number };
}

export interface ProcessingEnv {
  objects: ObjectStoreClient;
  tmpRoot: string;
  maxInputBytes: number;
}

async function count(db: DuckSandbox, table: string): Promise<number> {
  const rows = await db.rows(`SELECT count(*)::BIGINT AS n FROM ${table}`);
  return Number(rows[0]?.n ?? 0);
}

/** Downloads an object into a sandbox file, mapping storage failures to messages a caller can act on. */
export async function downloadToSandbox(
  objects: ObjectStoreClient,
  uri: string,
  db: DuckSandbox,
  name: string,
  maxBytes: number,
  field = 'dataset_uri',
): Promise<{ file: string; bytes: number; sha256: string }> {
  let key: string;
  try {
    key = objectKeyFromUri(uri);
  } catch {
    throw new ToolError(`${field} "${uri}" is not a storage object URI; pass storage://<key> as returned by the storage or data server`, 'invalid_uri');
  }
  if (!key || key.endsWith('/')) throw new ToolError(`${field} "${uri}" names no object key`, 'invalid_uri');
  let got: { bytes: Uint8Array; sha256: string };
  try {
    got = await objects.get(key);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/not found/i.test(msg)) throw new ToolError(`${field} "${uri}" does not exist in storage; check the key (list_files on the storage server)`, 'not_found');
    if (/HTTP 4\d\d/.test(msg)) throw new ToolError(`${field} "${uri}" was refused by storage: ${msg}`, 'storage_refused');
    throw new ToolError(`storage is unavailable while reading ${field} "${uri}": ${msg}`, 'storage_unavailable');
  }
  if (got.bytes.length > maxBytes) {
    throw new ToolError(`${field} "${uri}" is ${got.bytes.length} bytes, above the limit of ${maxBytes} (MCP_COMPUTE_MAX_DATASET_BYTES)`, 'too_large');
  }
  const file = db.file(name);
  await fs.promises.writeFile(file, got.bytes);
  return { file, bytes: got.bytes.length, sha256: got.sha256 };
}

/** Column list of a Parquet file, or a ToolError when the bytes are not Parquet. */
export async function describeParquet(db: DuckSandbox, file: string, uri: string, field = 'dataset_uri'): Promise<{ name: string; type: string }[]> {
  try {
    return await db.describe(`SELECT * FROM read_parquet(${sqlString(file)})`);
  } catch (err) {
    throw new ToolError(
      `${field} "${uri}" is not a readable Parquet file (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`,
      'invalid_dataset',
    );
  }
}

function requireColumns(available: { name: string; type: string }[], needed: [role: string, column: string][], uri: string): void {
  const names = new Set(available.map((c) => c.name));
  for (const [role, column] of needed) {
    if (!names.has(column)) {
      throw new ToolError(
        `dataset ${uri} has no column "${column}" (columns.${role}); available: ${[...names].join(', ')}. Pass columns.${role} to map it`,
        'invalid_columns',
      );
    }
  }
}

/**
 * Runs the declared operations in their natural order (clean → normalize → feature_engineering) on an
 * in-memory DuckDB confined to a temp directory, writes the result as Parquet and stores it.
 */
export async function processDataset(env: ProcessingEnv, req: ProcessingRequest): Promise<ProcessingResult> {
  const ops = PROCESSING_OPERATIONS.filter((o) => req.operations.includes(o));
  const col = req.columns;
  const db = await DuckSandbox.open({ tmpRoot: env.tmpRoot });
  try {
    const t0 = performance.now();
    const input = await downloadToSandbox(env.objects, req.inputUri, db, 'input.parquet', env.maxInputBytes);
    const t1 = performance.now();
    const cols = await describeParquet(db, input.file, req.inputUri);
    const typeOf = new Map(cols.map((c) => [c.name, c.type]));
    const needed: [string, string][] = [
      ['customer', col.customer],
      ['product', col.product],
    ];
    if (ops.includes('clean')) needed.push(['quantity', col.quantity]);
    if (ops.includes('normalize')) needed.push(['amount', col.amount]);
    if (ops.includes('feature_engineering')) needed.push(['timestamp', col.timestamp]);
    requireColumns(cols, needed, req.inputUri);
    for (const [role, c] of [
      ['quantity', col.quantity],
      ['amount', col.amount],
    ] as const) {
      const t = typeOf.get(c);
      if (t && !isNumericType(t) && needed.some(([r]) => r === role)) {
        throw new ToolError(`column "${c}" (columns.${role}) has type ${t}; a numeric column is required`, 'invalid_columns');
      }
    }
    const has = (c: string) => typeOf.has(c);
    const q = sqlIdent;

    await db.conn.run(`CREATE TABLE s0 AS SELECT * FROM read_parquet(${sqlString(input.file)})`);
    const rowsIn = await count(db, 's0');
    let current = 's0';
    const dropped = { nulls: 0, non_positive_quantity: 0, duplicates: 0 };

    if (ops.includes('clean')) {
      const notNull = [col.customer, col.product, col.quantity, col.amount, col.timestamp].filter(has).map((c) => `${q(c)} IS NOT NULL`);
      await db.conn.run(`CREATE TABLE c1 AS SELECT * FROM ${current} WHERE ${notNull.join(' AND ')}`);
      const n1 = await count(db, 'c1');
      dropped.nulls = rowsIn - n1;
      await db.conn.run(`CREATE TABLE c2 AS SELECT * FROM c1 WHERE ${q(col.quantity)} > 0`);
      const n2 = await count(db, 'c2');
      dropped.non_positive_quantity = n1 - n2;
      if (has(col.id)) {
        const order = has(col.timestamp) ? q(col.timestamp) : q(col.id);
        await db.conn.run(`CREATE TABLE c3 AS SELECT * FROM c2 QUALIFY row_number() OVER (PARTITION BY ${q(col.id)} ORDER BY ${order}) = 1`);
      } else {
        await db.conn.run('CREATE TABLE c3 AS SELECT DISTINCT * FROM c2');
      }
      dropped.duplicates = n2 - (await count(db, 'c3'));
      current = 'c3';
    }

    if (ops.includes('normalize')) {
      const a = q(col.amount);
      // log1p tames the heavy right tail of basket values; min-max and per-customer ratios put amounts
      // on comparable scales across customers who spend very differently.
      await db.conn.run(`CREATE TABLE n1 AS
        SELECT *,
          ln(1 + greatest(${a}, 0))::DOUBLE AS amount_log,
          ((${a} - min(${a}) OVER ()) / nullif(max(${a}) OVER () - min(${a}) OVER (), 0))::DOUBLE AS amount_minmax,
          (${a} / nullif(avg(${a}) OVER (PARTITION BY ${q(col.customer)}), 0))::DOUBLE AS amount_customer_norm
        FROM ${current}`);
      current = 'n1';
    }

    if (ops.includes('feature_engineering')) {
      const tsType = typeOf.get(col.timestamp) ?? '';
      const epoch = isTemporalType(tsType) ? `epoch(${q(col.timestamp)})` : `CAST(${q(col.timestamp)} AS DOUBLE)`;
      const sums = [
        has(col.quantity) ? `sum(${q(col.quantity)})::DOUBLE AS quantity` : null,
        has(col.amount) ? `sum(${q(col.amount)})::DOUBLE AS amount` : null,
        ops.includes('normalize') ? 'avg(amount_customer_norm)::DOUBLE AS amount_customer_norm' : null,
      ].filter(Boolean);
      // Strength: log-scaled purchase count, decayed towards half weight for old interactions so recent
      // taste counts more without erasing long-standing preferences.
      await db.conn.run(`CREATE TABLE f1 AS
        WITH base AS (SELECT *, ${epoch} AS _t FROM ${current}),
             ref AS (SELECT max(_t) AS t_ref FROM base),
             agg AS (
               SELECT ${q(col.customer)} AS customer_id, ${q(col.product)} AS product_id,
                 count(*)::BIGINT AS purchases, ${sums.length ? sums.join(', ') + ',' : ''}
                 min(${q(col.timestamp)}) AS first_purchase_at, max(${q(col.timestamp)}) AS last_purchase_at,
                 max(_t) AS _last
               FROM base GROUP BY ALL)
        SELECT agg.* EXCLUDE (_last),
          ((ref.t_ref - agg._last) / 86400.0)::DOUBLE AS recency_days,
          (ln(1 + purchases) * (0.5 + 0.5 * pow(0.5, ((ref.t_ref - agg._last) / 86400.0) / ${Number(req.recencyHalfLifeDays)})))::DOUBLE AS strength
        FROM agg, ref
        ORDER BY customer_id, product_id`);
      current = 'f1';
    }

    const outFile = db.file('output.parquet');
    await db.conn.run(`COPY ${current} TO ${sqlString(outFile)} (FORMAT parquet, COMPRESSION zstd)`);
    const rowsOut = await count(db, current);
    const columns = await db.describe(`SELECT * FROM ${current}`);
    const version = await db.rows('SELECT version() AS v');
    const bytes = await fs.promises.readFile(outFile);
    const t2 = performance.now();

    const digest = crypto
      .createHash('sha256')
      .update(`${input.sha256}|${ops.join(',')}|${JSON.stringify(col)}|${req.recencyHalfLifeDays}`)
      .digest('hex')
      .slice(0, 12);
    const base = path.posix.basename(objectKeyFromUri(req.inputUri)).replace(/\.[^.]*$/, '') || 'dataset';
    const key = req.outputKey ?? `processed/${base}-${ops.join('-')}-${digest}.parquet`;
    let stored;
    try {
      stored = await env.objects.put(key, bytes, {
        idempotencyKey: req.idempotencyKey,
        metadata: { source: req.inputUri, operations: ops, rows: rowsOut, producer: 'compute.data_processing' },
      });
    } catch (err) {
      throw new ToolError(`storing the processed dataset as ${key} failed: ${err instanceof Error ? err.message : String(err)}`, 'storage_unavailable');
    }
    const t3 = performance.now();
    return {
      uri: stored.uri,
      key: stored.key,
      version: stored.version,
      sha256: stored.sha256,
      rows_in: rowsIn,
      rows_out: rowsOut,
      bytes_in: input.bytes,
      bytes_out: bytes.length,
      columns,
      operations_applied: ops,
      dropped,
      engine: `duckdb ${String(version[0]?.v ?? '')} (in-memory, external access limited to its temp dir)`,
      timings_ms: { download: t1 - t0, process: t2 - t1, upload: t3 - t2 },
    };
  } finally {
    db.close();
  }
}
