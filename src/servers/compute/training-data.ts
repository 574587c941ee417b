import { ToolError, type ObjectStoreClient } from '../kit';
import { DuckSandbox, isNumericType, isTemporalType, sqlIdent, sqlString } from './duck-sandbox';
import { describeParquet, downloadToSandbox } from './data-processing';
import type { Interactions } from './evaluation';

/** Which dataset columns hold the user, the item, the interaction strength and its time. */
export interface TrainingColumns {
  user: string;
  item: string;
  /** Summed per (user, item); rows with strength ≤ 0 are ignored. */
  weight: string;
  /** Latest value per (user, item) orders the hold-out; optional when the hold-out is `none`. */
  timestamp?: string;
}

export interface LoadedInteractions {
  data: Interactions;
  userIds: string[];
  itemIds: string[];
  rowsRead: number;
  bytes: number;
}

/**
 * Reads a Parquet dataset from storage into unique (user, item) pairs with dense indices, using the
 * sandboxed DuckDB (its work runs on DuckDB's threads, not on the event loop).
 */
export async function loadInteractions(
  objects: ObjectStoreClient,
  uri: string,
  columns: TrainingColumns,
  limits: { tmpRoot: string; maxBytes: number; maxInteractions: number },
): Promise<LoadedInteractions> {
  const db = await DuckSandbox.open({ tmpRoot: limits.tmpRoot });
  try {
    const input = await downloadToSandbox(objects, uri, db, 'train.parquet', limits.maxBytes);
    const cols = await describeParquet(db, input.file, uri);
    const types = new Map(cols.map((c) => [c.name, c.type]));
    for (const [role, c] of Object.entries(columns) as [string, string | undefined][]) {
      if (c !== undefined && !types.has(c)) {
        throw new ToolError(
          `dataset ${uri} has no column "${c}" (columns.${role}); available: ${cols.map((x) => x.name).join(', ')}`,
          'invalid_columns',
        );
      }
    }
    const wType = types.get(columns.weight)!;
    if (!isNumericType(wType)) throw new ToolError(`column "${columns.weight}" (columns.weight) has type ${wType}; it must be numeric`, 'invalid_columns');
    const q = sqlIdent;
    let tExpr = '0::DOUBLE';
    if (columns.timestamp) {
      const tt = types.get(columns.timestamp)!;
      if (isTemporalType(tt)) tExpr = `epoch(${q(columns.timestamp)})::DOUBLE`;
      else if (isNumericType(tt)) tExpr = `CAST(${q(columns.timestamp)} AS DOUBLE)`;
      else throw new ToolError(`column "${columns.timestamp}" (columns.timestamp) has type ${tt}; it must be a timestamp, date or number`, 'invalid_columns');
    }
    const src = `read_parquet(${sqlString(input.file)})`;
    const rowsRead = Number((await db.rows(`SELECT count(*)::BIGINT AS n FROM ${src}`))[0]?.n ?? 0);
    await db.conn.run(`CREATE TABLE p AS
      SELECT CAST(${q(columns.user)} AS VARCHAR) AS u, CAST(${q(columns.item)} AS VARCHAR) AS i,
             sum(${q(columns.weight)})::DOUBLE AS w, max(${tExpr}) AS t
      FROM ${src}
      WHERE ${q(columns.user)} IS NOT NULL AND ${q(columns.item)} IS NOT NULL AND ${q(columns.weight)} > 0
      GROUP BY 1, 2`);
    const pairs = Number((await db.rows('SELECT count(*)::BIGINT AS n FROM p'))[0]?.n ?? 0);
    if (pairs === 0) throw new ToolError(`dataset ${uri} has no rows with a user, an item and a positive ${columns.weight}`, 'empty_dataset');
    if (pairs > limits.maxInteractions) {
      throw new ToolError(`dataset ${uri} has ${pairs} user-item pairs, above the limit of ${limits.maxInteractions} (MCP_COMPUTE_MAX_INTERACTIONS)`, 'too_large');
    }
    // Numeric-looking ids sort numerically so indices follow the natural id order.
    const order = (c: string) => `try_cast(${c} AS BIGINT) NULLS LAST, ${c}`;
    await db.conn.run(`CREATE TABLE us AS SELECT u, (row_number() OVER (ORDER BY ${order('u')}) - 1)::INTEGER AS ix FROM (SELECT DISTINCT u FROM p)`);
    await db.conn.run(`CREATE TABLE its AS SELECT i, (row_number() OVER (ORDER BY ${order('i')}) - 1)::INTEGER AS ix FROM (SELECT DISTINCT i FROM p)`);
    const userIds = ((await db.conn.runAndReadAll('SELECT u FROM us ORDER BY ix')).getColumns()[0] ?? []) as string[];
    const itemIds = ((await db.conn.runAndReadAll('SELECT i FROM its ORDER BY ix')).getColumns()[0] ?? []) as string[];
    const r = await db.conn.runAndReadAll(
      'SELECT us.ix AS ui, its.ix AS ii, p.w::FLOAT AS w, p.t AS t FROM p JOIN us USING (u) JOIN its USING (i) ORDER BY 1, 2',
    );
    const [uc, ic, wc, tc] = r.getColumns() as [number[], number[], number[], number[]];
    return {
      data: {
        users: userIds.length,
        items: itemIds.length,
        user: Int32Array.from(uc),
        item: Int32Array.from(ic),
        strength: Float32Array.from(wc),
        ts: Float64Array.from(tc),
      },
      userIds,
      itemIds,
      rowsRead,
      bytes: input.bytes,
    };
  } finally {
    db.close();
  }
}
