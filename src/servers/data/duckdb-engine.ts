import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  DuckDBInstance,
  DuckDBTypeId,
  StatementType,
  type DuckDBConnection,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
  type DuckDBValue,
} from '@duckdb/node-api';
import { ToolError, logger } from '../kit';
import { Mutex, ResourcePool } from './connection-pool';
import { readSeedInfo, resolveSeedParams, runSeed, type SeedInfo } from './seed';
import {
  ETL_STATEMENT_TYPES,
  QUERY_HEAD_KEYWORDS,
  QUERY_STATEMENT_TYPES,
  headKeyword,
  checkEtlTarget,
  lineAndColumn,
  parsePositionFromSerializeError,
  statementTypeName,
  stripLeadingComments,
  type EtlTarget,
} from './sql-guard';

const log = logger('data');

/** A scalar SQL parameter as it arrives in JSON. */
export type SqlParam = string | number | boolean | null;
/** Positional (`$1`, `?`) or named (`$name`) parameters. */
export type SqlParams = SqlParam[] | Record<string, SqlParam>;

export interface ColumnInfo {
  name: string;
  type: string;
}

export interface QueryResult {
  columns: ColumnInfo[];
  rows: Record<string, unknown>[];
  rowCount: number;
  truncated: boolean;
  elapsedMs: number;
}

export interface EngineOptions {
  dataDir: string;
  seed: { seed: number; rows: number; customers?: number; products?: number };
  memoryLimit: string;
  threads: number;
  maxConcurrent: number;
  etlSchemas: readonly string[];
  /** Largest SQL text accepted. @default 100000 */
  maxSqlChars?: number;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Largest SQL text a tool accepts, so a giant payload fails fast instead of tying up the parser. */
export const MAX_SQL_CHARS = 100_000;
const INTEGER_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
]);

/** Double-quotes an identifier for SQL text (the only place we build SQL from names). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isInterrupt(err: unknown): boolean {
  return /INTERRUPT Error|Interrupted/i.test(errMessage(err));
}

/**
 * The data server's DuckDB database: one read-write instance on `<dataDir>/data.duckdb`.
 *
 * Why one read-write instance and not a separate READ_ONLY instance for queries: DuckDB lets one process
 * open a file either read-write or read-only, not both at once, and `run_etl` must write tables that
 * `sql_query` then reads, so a read-only instance would not see ETL output until a restart. Instead:
 * - instance-wide (`SET … ; SET lock_configuration=true` right after start-up): external access off except
 *   one random, per-start export directory, extension auto-install/auto-load off, memory and thread limits;
 *   nothing can change these afterwards;
 * - query connections (a pool, one query each at a time) only ever run a single statement that DuckDB's
 *   own parser types as SELECT, inside `BEGIN TRANSACTION READ ONLY`, with a timeout that interrupts the
 *   connection and a streamed row cap;
 * - the trusted writer connection runs the seed and ETL (with their own checks), and a separate exporter
 *   connection runs `COPY (<validated SELECT>) TO <export dir>`, also inside a READ ONLY transaction.
 */
export class DataEngine {
  private readonly log = log;
  private readonly writerLock = new Mutex();
  private readonly exportLock = new Mutex();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly exporter: DuckDBConnection,
    private readonly readers: DuckDBConnection[],
    private readonly pool: ResourcePool<DuckDBConnection>,
    /** Only directory DuckDB may write files to (exports); random so a query cannot guess it. */
    readonly exportDir: string,
    readonly dbFile: string,
    readonly seedInfo: SeedInfo,
    /** True when this start created the data (first start). */
    readonly seededNow: boolean,
    readonly duckdbVersion: string,
    readonly opts: EngineOptions,
  ) {}

  /** Opens (and on first start seeds) the database, then locks its configuration down. */
  static async open(opts: EngineOptions): Promise<DataEngine> {
    fs.mkdirSync(opts.dataDir, { recursive: true });
    const dbFile = path.join(opts.dataDir, 'data.duckdb');
    const tmpRoot = path.join(opts.dataDir, 'tmp');
    // Leftovers of a crash: export files are transient and their directory name is per start.
    fs.rmSync(tmpRoot, { recursive: true, force: true });
    const exportDir = path.join(tmpRoot, randomUUID());
    fs.mkdirSync(exportDir, { recursive: true });
    const spillDir = path.join(opts.dataDir, 'duckdb-spill');
    const instance = await DuckDBInstance.create(dbFile, {
      threads: String(opts.threads),
      memory_limit: opts.memoryLimit,
      temp_directory: spillDir,
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      allow_community_extensions: 'false',
    });
    const writer = await instance.connect();
    try {
      const version = String(
        (await writer.runAndReadAll('SELECT version()')).getRowsJS()[0]?.[0] ?? 'unknown',
      );
      let seedInfo = await readSeedInfo(writer);
      let seededNow = false;
      const hasTx = await writer.runAndReadAll(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'customer_transactions'",
      );
      if (!seedInfo || Number(hasTx.getRowsJS()[0]?.[0]) === 0) {
        const params = resolveSeedParams(opts.seed);
        log.info('seeding', { ...params });
        seedInfo = await runSeed(writer, params);
        seededNow = true;
        await writer.run('CHECKPOINT');
        log.info('seeded', { rows: seedInfo.rows, durationMs: seedInfo.durationMs });
      }
      for (const schema of opts.etlSchemas)
        await writer.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      await writer.run(`SET allowed_directories = [${sqlString(exportDir + path.sep)}]`);
      await writer.run('SET enable_external_access = false');
      await writer.run('SET lock_configuration = true');
      const exporter = await instance.connect();
      const readers: DuckDBConnection[] = [];
      for (let i = 0; i < opts.maxConcurrent; i++) readers.push(await instance.connect());
      const pool = new ResourcePool(readers, opts.maxConcurrent * 16);
      return new DataEngine(
        instance,
        writer,
        exporter,
        readers,
        pool,
        exportDir,
        dbFile,
        seedInfo,
        seededNow,
        version,
        opts,
      );
    } catch (err) {
      writer.closeSync();
      instance.closeSync();
      throw err;
    }
  }

  /** Queries running / waiting right now. */
  get load(): { running: number; queued: number } {
    return { running: this.pool.busy, queued: this.pool.queued };
  }

  /** Runs `fn` on `conn`, interrupting the connection on timeout or cancellation. */
  private async withDeadline<R>(
    conn: DuckDBConnection,
    run: RunOptions,
    what: string,
    fn: () => Promise<R>,
  ): Promise<R> {
    let reason: 'timeout' | 'cancelled' | undefined;
    const timer = setTimeout(() => {
      reason = 'timeout';
      conn.interrupt();
    }, run.timeoutMs);
    const onAbort = () => {
      reason = 'cancelled';
      conn.interrupt();
    };
    run.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await fn();
    } catch (err) {
      if (reason === 'timeout' || (isInterrupt(err) && !reason)) {
        throw new ToolError(
          `${what} exceeded timeout_ms=${run.timeoutMs} and was interrupted; narrow the query or raise timeout_ms`,
          'timeout',
        );
      }
      if (reason === 'cancelled') throw new ToolError(`${what} was cancelled by the caller`, 'cancelled');
      throw err;
    } finally {
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Describes a parse error with DuckDB's message and the offending position. */
  private async syntaxError(conn: DuckDBConnection, sql: string, err: unknown): Promise<ToolError> {
    let where = '';
    try {
      const r = await conn.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql]);
      const { position } = parsePositionFromSerializeError(String(r.getRowsJS()[0]?.[0] ?? ''));
      if (position !== undefined) {
        const { line, column } = lineAndColumn(sql, position);
        where = ` (position ${position}: line ${line}, column ${column})`;
      }
    } catch {
      // Position is a courtesy; DuckDB's own message below still carries LINE and a caret.
    }
    return new ToolError(
      `invalid SQL${where}: ${errMessage(err).replace(/^Failed to extract statements: /, '')}`,
      'invalid_sql',
    );
  }

  /**
   * Parses with DuckDB's parser, requires exactly one statement of an allowed type, prepares (binds) it
   * and binds parameters. The caller owns the returned statement.
   */
  private async prepareChecked(
    conn: DuckDBConnection,
    sql: string,
    params: SqlParams | undefined,
    allowed: ReadonlySet<StatementType>,
    field = 'sql',
  ): Promise<DuckDBPreparedStatement> {
    if (sql.length > (this.opts.maxSqlChars ?? MAX_SQL_CHARS)) {
      throw new ToolError(
        `${field} is ${sql.length} characters; the limit is ${this.opts.maxSqlChars ?? MAX_SQL_CHARS}`,
        'invalid_sql',
      );
    }
    let extracted;
    try {
      extracted = await conn.extractStatements(sql);
    } catch (err) {
      throw await this.syntaxError(conn, sql, err);
    }
    if (extracted.count === 0) throw new ToolError(`${field} contains no statement`, 'invalid_sql');
    if (extracted.count > 1) {
      throw new ToolError(
        `${field} contains ${extracted.count} statements; send exactly one (stacked statements are refused)`,
        'forbidden_statement',
      );
    }
    let prepared: DuckDBPreparedStatement;
    try {
      prepared = await extracted.prepare(0);
    } catch (err) {
      throw new ToolError(
        `${field} failed to prepare: ${errMessage(err)}`,
        /Permission Error/i.test(errMessage(err)) ? 'forbidden_statement' : 'invalid_sql',
      );
    }
    if (!allowed.has(prepared.statementType)) {
      const type = statementTypeName(prepared.statementType);
      prepared.destroySync();
      throw new ToolError(
        `${field} is a ${type} statement; only ${[...allowed].map(statementTypeName).join('/')} (with WITH … SELECT) may run here`,
        'forbidden_statement',
      );
    }
    const head = headKeyword(sql);
    if (allowed === QUERY_STATEMENT_TYPES && !QUERY_HEAD_KEYWORDS.has(head)) {
      prepared.destroySync();
      throw new ToolError(
        `${field} starts with ${head || 'nothing'}; only SELECT / WITH … SELECT queries may run here`,
        'forbidden_statement',
      );
    }
    this.bindParams(prepared, params);
    return prepared;
  }

  private bindParams(prepared: DuckDBPreparedStatement, params: SqlParams | undefined): void {
    const expected = prepared.parameterCount;
    const given =
      params === undefined ? 0 : Array.isArray(params) ? params.length : Object.keys(params).length;
    if (given !== expected) {
      prepared.destroySync();
      throw new ToolError(
        `the query has ${expected} parameter(s) but params has ${given}; pass one value per $n / $name`,
        'invalid_params',
      );
    }
    if (!params || expected === 0) return;
    try {
      if (Array.isArray(params)) {
        params.forEach((v, i) => prepared.bindValue(i + 1, v as DuckDBValue));
      } else {
        for (const [k, v] of Object.entries(params)) {
          let index: number;
          try {
            index = prepared.parameterIndex(k);
          } catch {
            throw new ToolError(
              `params.${k} does not match a $${k} parameter in the query`,
              'invalid_params',
            );
          }
          prepared.bindValue(index, v as DuckDBValue);
        }
      }
    } catch (err) {
      prepared.destroySync();
      if (err instanceof ToolError) throw err;
      throw new ToolError(`could not bind params: ${errMessage(err)}`, 'invalid_params');
    }
  }

  /**
   * Runs one parameterized SELECT on a locked, read-only query connection and returns at most `maxRows`
   * rows (streamed, so a huge result is never materialised).
   */
  async query(
    sql: string,
    params: SqlParams | undefined,
    maxRows: number,
    run: RunOptions,
    field = 'sql',
  ): Promise<QueryResult> {
    const started = performance.now();
    return this.pool.use(run.timeoutMs, run.signal, async (conn) => {
      await conn.run('BEGIN TRANSACTION READ ONLY');
      try {
        return await this.withDeadline(conn, run, 'query', async () => {
          const prepared = await this.prepareChecked(conn, sql, params, QUERY_STATEMENT_TYPES, field);
          try {
            let reader: DuckDBResultReader;
            try {
              reader = await prepared.streamAndReadUntil(maxRows + 1);
            } catch (err) {
              if (isInterrupt(err)) throw err;
              throw new ToolError(
                `query failed: ${errMessage(err)}`,
                /Permission Error/i.test(errMessage(err)) ? 'forbidden_statement' : 'query_failed',
              );
            }
            const { columns, rows } = readRows(reader, maxRows);
            return {
              columns,
              rows,
              rowCount: rows.length,
              truncated: reader.currentRowCount > maxRows,
              elapsedMs: Math.round(performance.now() - started),
            };
          } finally {
            prepared.destroySync();
          }
        });
      } finally {
        await conn.run('ROLLBACK').catch(() => undefined);
      }
    });
  }

  /** Checks a SELECT (parse, type, bind) on a locked query connection without running it. */
  async validateSelect(
    sql: string,
    params: SqlParams | undefined,
    run: RunOptions,
    field = 'sql',
  ): Promise<ColumnInfo[]> {
    return this.pool.use(run.timeoutMs, run.signal, async (conn) => {
      await conn.run('BEGIN TRANSACTION READ ONLY');
      try {
        const prepared = await this.prepareChecked(conn, sql, params, QUERY_STATEMENT_TYPES, field);
        try {
          const columns: ColumnInfo[] = [];
          for (let i = 0; i < prepared.columnCount; i++)
            columns.push({ name: prepared.columnName(i), type: prepared.columnType(i).toString() });
          return columns;
        } finally {
          prepared.destroySync();
        }
      } finally {
        await conn.run('ROLLBACK').catch(() => undefined);
      }
    });
  }

  /**
   * Writes the result of a validated SELECT to a file in the export directory with DuckDB's COPY, on the
   * exporter connection inside a READ ONLY transaction. The caller deletes the file.
   */
  async copyToFile(
    sql: string,
    params: SqlParams | undefined,
    format: 'parquet' | 'csv',
    run: RunOptions,
    field = 'sql',
  ): Promise<{ file: string; rows: number; bytes: number; columns: ColumnInfo[] }> {
    const columns = await this.validateSelect(sql, params, run, field);
    const body = stripTrailingSemicolons(sql);
    const file = path.join(this.exportDir, `${randomUUID()}.${format}`);
    const options = format === 'parquet' ? '(FORMAT parquet, COMPRESSION zstd)' : '(FORMAT csv, HEADER true)';
    const copySql = `COPY (\n${body}\n) TO ${sqlString(file)} ${options}`;
    return this.exportLock.run(async () => {
      const conn = this.exporter;
      // The wrapper must still be exactly one COPY statement: the SELECT cannot have escaped its parentheses.
      let extracted;
      try {
        extracted = await conn.extractStatements(copySql);
      } catch (err) {
        throw new ToolError(
          `${field} cannot be exported (end it without a trailing comment): ${errMessage(err)}`,
          'invalid_sql',
        );
      }
      if (extracted.count !== 1)
        throw new ToolError(`${field} cannot be wrapped for export as one statement`, 'forbidden_statement');
      await conn.run('BEGIN TRANSACTION READ ONLY');
      try {
        return await this.withDeadline(conn, run, 'export', async () => {
          const prepared = await extracted.prepare(0);
          try {
            if (prepared.statementType !== StatementType.COPY)
              throw new ToolError(`${field} cannot be exported`, 'forbidden_statement');
            this.bindParams(prepared, params);
            const r = await prepared.runAndReadAll();
            const rows = Number(r.getRowsJS()[0]?.[0] ?? 0);
            const bytes = fs.statSync(file).size;
            return { file, rows, bytes, columns };
          } catch (err) {
            fs.rmSync(file, { force: true });
            if (err instanceof ToolError || isInterrupt(err)) throw err;
            throw new ToolError(`export failed: ${errMessage(err)}`, 'query_failed');
          } finally {
            try {
              prepared.destroySync();
            } catch {
              // already destroyed by bindParams on a parameter error
            }
          }
        });
      } finally {
        await conn.run('ROLLBACK').catch(() => undefined);
      }
    });
  }

  /** Resolves `table` / `schema.table` to an existing table or view, or throws `not_found` listing what exists. */
  async resolveTable(name: string): Promise<{ schema: string; table: string; kind: 'table' | 'view' }> {
    const parts = name.split('.');
    if (parts.length > 2 || parts.some((p) => p.length === 0)) {
      throw new ToolError(`table "${name}" must be <table> or <schema>.<table>`, 'invalid_params');
    }
    const [schema, table] =
      parts.length === 2 ? [parts[0] as string, parts[1] as string] : ['main', parts[0] as string];
    const r = await this.pool.use(10_000, undefined, (conn) =>
      conn.runAndReadAll(
        `SELECT schema_name, table_name, 'table' AS kind FROM duckdb_tables() WHERE database_name = current_database() AND lower(schema_name) = lower($1) AND lower(table_name) = lower($2)
         UNION ALL
         SELECT schema_name, view_name, 'view' FROM duckdb_views() WHERE NOT internal AND database_name = current_database() AND lower(schema_name) = lower($1) AND lower(view_name) = lower($2)`,
        [schema, table],
      ),
    );
    const row = r.getRowsJS()[0];
    if (!row) {
      const known = (await this.listTables()).map((t) =>
        t.schema === 'main' ? t.name : `${t.schema}.${t.name}`,
      );
      throw new ToolError(
        `unknown table "${name}"; known tables: ${known.slice(0, 50).join(', ')}`,
        'not_found',
      );
    }
    return { schema: String(row[0]), table: String(row[1]), kind: row[2] === 'view' ? 'view' : 'table' };
  }

  /** Columns, types and exact row count of a table or view. */
  async tableSchema(name: string, run: RunOptions) {
    const { schema, table, kind } = await this.resolveTable(name);
    return this.pool.use(run.timeoutMs, run.signal, async (conn) => {
      const cols = await conn.runAndReadAll(
        `SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns()
         WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2 ORDER BY column_index`,
        [schema, table],
      );
      const count = await this.withDeadline(conn, run, 'row count', () =>
        conn.runAndReadAll(`SELECT count(*) FROM ${quoteIdent(schema)}.${quoteIdent(table)}`),
      );
      return {
        schema,
        table,
        kind,
        columns: cols.getRowsJS().map((c) => ({
          name: String(c[0]),
          type: String(c[1]),
          nullable: Boolean(c[2]),
          default: c[3] === null || c[3] === undefined ? null : String(c[3]),
        })),
        rowCount: Number(count.getRowsJS()[0]?.[0] ?? 0),
      };
    });
  }

  /** Tables (and views) of the database with estimated row counts (cheap: from DuckDB's catalog). */
  async listTables(): Promise<
    Array<{ schema: string; name: string; kind: 'table' | 'view'; estimatedRows: number | null }>
  > {
    const r = await this.pool.use(10_000, undefined, (conn) =>
      conn.runAndReadAll(
        `SELECT schema_name, table_name, 'table', estimated_size FROM duckdb_tables() WHERE database_name = current_database() AND NOT internal
         UNION ALL
         SELECT schema_name, view_name, 'view', NULL FROM duckdb_views() WHERE database_name = current_database() AND NOT internal
         ORDER BY 1, 2`,
      ),
    );
    return r.getRowsJS().map((row) => ({
      schema: String(row[0]),
      name: String(row[1]),
      kind: row[2] === 'view' ? ('view' as const) : ('table' as const),
      estimatedRows: row[3] === null || row[3] === undefined ? null : Number(row[3]),
    }));
  }

  /** Exact row counts of the given tables (server_info). */
  async countRows(
    tables: Array<{ schema: string; name: string }>,
    run: RunOptions,
  ): Promise<Record<string, number>> {
    if (tables.length === 0) return {};
    const sql = tables
      .map((t, i) => `SELECT ${i} AS i, count(*) AS n FROM ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`)
      .join(' UNION ALL ');
    return this.pool.use(run.timeoutMs, run.signal, async (conn) => {
      const r = await this.withDeadline(conn, run, 'row counts', () => conn.runAndReadAll(sql));
      const out: Record<string, number> = {};
      for (const [i, n] of r.getRowsJS()) {
        const t = tables[Number(i)];
        if (t) out[t.schema === 'main' ? t.name : `${t.schema}.${t.name}`] = Number(n);
      }
      return out;
    });
  }

  /**
   * Runs ETL statements in one transaction on the writer connection: all commit or none do. Each must be a
   * single statement DuckDB types as SELECT/INSERT/UPDATE/DELETE/CREATE/DROP/ALTER/MERGE, and every write
   * must target an allowed schema.
   */
  async runEtl(
    statements: string[],
    run: RunOptions,
  ): Promise<{ statements: EtlStatementResult[]; tables: Record<string, number>; elapsedMs: number }> {
    const started = performance.now();
    // Cheap refusal before anything runs, so a forbidden statement late in the list does not waste work.
    statements.forEach((sql, i) => {
      const head =
        stripLeadingComments(sql)
          .split(/[\s(;]+/, 1)[0]
          ?.toUpperCase() ?? '';
      if (FORBIDDEN_ETL_KEYWORDS.has(head)) {
        throw new ToolError(
          `statements[${i}] is a ${head} statement, which run_etl refuses (no ATTACH/COPY/INSTALL/LOAD/SET/PRAGMA/CALL/EXPORT/transaction control)`,
          'forbidden_statement',
        );
      }
      if (sql.length > (this.opts.maxSqlChars ?? MAX_SQL_CHARS))
        throw new ToolError(`statements[${i}] is too long`, 'invalid_sql');
    });
    return this.writerLock.run(async () => {
      const conn = this.writer;
      await conn.run('BEGIN TRANSACTION');
      let committed = false;
      try {
        const results = await this.withDeadline(conn, run, 'ETL', async () => {
          const out: EtlStatementResult[] = [];
          for (let i = 0; i < statements.length; i++) {
            const sql = statements[i] as string;
            const field = `statements[${i}]`;
            const prepared = await this.prepareChecked(conn, sql, undefined, ETL_STATEMENT_TYPES, field);
            try {
              const check = checkEtlTarget(sql, prepared.statementType, this.opts.etlSchemas);
              if (!check.ok) throw new ToolError(`${field}: ${check.message}`, 'forbidden_target');
              let r;
              try {
                r = await prepared.run();
              } catch (err) {
                if (isInterrupt(err)) throw err;
                throw new ToolError(`${field} failed: ${errMessage(err)}`, 'etl_failed');
              }
              out.push({
                index: i,
                type: statementTypeName(prepared.statementType),
                target: check.target,
                rowsChanged: r.rowsChanged,
              });
            } finally {
              prepared.destroySync();
            }
          }
          return out;
        });
        await conn.run('COMMIT');
        committed = true;
        const targets = uniqueTargets(results);
        const tables = await this.countExisting(conn, targets);
        return { statements: results, tables, elapsedMs: Math.round(performance.now() - started) };
      } finally {
        if (!committed) await conn.run('ROLLBACK').catch(() => undefined);
      }
    });
  }

  private async countExisting(conn: DuckDBConnection, targets: EtlTarget[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const t of targets) {
      const exists = await conn.runAndReadAll(
        `SELECT count(*) FROM (SELECT table_name FROM duckdb_tables() WHERE schema_name = $1 AND table_name = $2
           UNION ALL SELECT view_name FROM duckdb_views() WHERE schema_name = $1 AND view_name = $2)`,
        [t.schema, t.name],
      );
      if (Number(exists.getRowsJS()[0]?.[0]) === 0) continue;
      const r = await conn.runAndReadAll(
        `SELECT count(*) FROM ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`,
      );
      out[`${t.schema}.${t.name}`] = Number(r.getRowsJS()[0]?.[0] ?? 0);
    }
    return out;
  }

  /** Database file size in bytes (measured now). */
  fileBytes(): number {
    try {
      return (
        fs.statSync(this.dbFile).size +
        (fs.existsSync(this.dbFile + '.wal') ? fs.statSync(this.dbFile + '.wal').size : 0)
      );
    } catch {
      return 0;
    }
  }

  /** Current values of the locked settings, read back from DuckDB rather than echoed from config. */
  async settings(): Promise<Record<string, string>> {
    const r = await this.pool.use(10_000, undefined, (conn) =>
      conn.runAndReadAll(
        `SELECT name, value FROM duckdb_settings() WHERE name IN
         ('memory_limit','threads','enable_external_access','lock_configuration','autoload_known_extensions','autoinstall_known_extensions')`,
      ),
    );
    return Object.fromEntries(r.getRowsJS().map((row) => [String(row[0]), String(row[1])]));
  }

  /** Closes every connection and the instance; the export directory goes with it. */
  async close(): Promise<void> {
    await this.writerLock.run(async () => undefined);
    await this.exportLock.run(async () => undefined);
    for (const c of [...this.readers, this.exporter, this.writer]) {
      try {
        c.closeSync();
      } catch (err) {
        this.log.warn('closing connection failed', { err: errMessage(err) });
      }
    }
    this.instance.closeSync();
    fs.rmSync(this.exportDir, { recursive: true, force: true });
  }

  /**
   * Test hook: runs raw SQL on a locked query connection inside a READ ONLY transaction, skipping the
   * statement-type check, to show the connection itself is a barrier (defence in depth).
   */
  async rawOnLockedConnection(sql: string): Promise<unknown[][]> {
    return this.pool.use(10_000, undefined, async (conn) => {
      await conn.run('BEGIN TRANSACTION READ ONLY');
      try {
        return (await conn.runAndReadAll(sql)).getRowsJson() as unknown[][];
      } finally {
        await conn.run('ROLLBACK').catch(() => undefined);
      }
    });
  }
}

export interface EtlStatementResult {
  index: number;
  type: string;
  target?: EtlTarget;
  rowsChanged: number;
}

const FORBIDDEN_ETL_KEYWORDS = new Set([
  'ATTACH',
  'DETACH',
  'COPY',
  'INSTALL',
  'LOAD',
  'FORCE',
  'UPDATE_EXTENSIONS',
  'SET',
  'RESET',
  'PRAGMA',
  'CALL',
  'EXPORT',
  'IMPORT',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'ABORT',
  'END',
  'START',
  'CHECKPOINT',
  'VACUUM',
  'USE',
  'PREPARE',
  'EXECUTE',
  'DEALLOCATE',
]);

function uniqueTargets(results: EtlStatementResult[]): EtlTarget[] {
  const seen = new Map<string, EtlTarget>();
  for (const r of results) {
    const t = r.target;
    if (!t || !['table', 'view', 'insert', 'update', 'delete', 'merge', 'alter'].includes(t.objectKind))
      continue;
    seen.set(`${t.schema}.${t.name}`, t);
  }
  return [...seen.values()];
}

function stripTrailingSemicolons(sql: string): string {
  return sql.replace(/[\s;]+$/, '');
}

/** Reads at most `maxRows` rows as JSON-safe objects, numbers as numbers where exact. */
export function readRows(
  reader: DuckDBResultReader,
  maxRows: number,
): { columns: ColumnInfo[]; rows: Record<string, unknown>[] } {
  const names = reader.deduplicatedColumnNames();
  const types = reader.columnTypes();
  const columns = names.map((name, i) => ({ name, type: types[i]?.toString() ?? 'UNKNOWN' }));
  const numeric = types.map((t) => INTEGER_TYPES.has(t.typeId) || t.typeId === DuckDBTypeId.DECIMAL);
  const raw = reader.getRowsJson();
  const rows: Record<string, unknown>[] = [];
  for (let r = 0; r < raw.length && r < maxRows; r++) {
    const src = raw[r] ?? [];
    const obj: Record<string, unknown> = {};
    names.forEach((name, c) => {
      let v: unknown = src[c];
      if (numeric[c] && typeof v === 'string') {
        const n = Number(v);
        // Only when exact: a BIGINT beyond 2^53 stays a string rather than silently losing digits.
        if (Number.isFinite(n) && (types[c]?.typeId === DuckDBTypeId.DECIMAL || Number.isSafeInteger(n)))
          v = n;
      }
      obj[name] = v;
    });
    rows.push(obj);
  }
  return { columns, rows };
}
