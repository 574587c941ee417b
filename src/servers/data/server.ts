import os from 'node:os';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ToolError,
  registerTool,
  type IdempotencyStore,
  type ObjectStoreClient,
  type StoredObject,
  MCP_SERVER_OPTIONS,
} from '../kit';
import { runAnalytics, ANALYTICS_DOC } from './analytics';
import type { DataServerConfig } from './config';
import type { RateLimiter } from './connection-pool';
import type { DataEngine, SqlParams } from './duckdb-engine';
import {
  ANALYTICS_NAMES,
  analyticsQueryInput,
  analyticsQueryOutput,
  dataExportInput,
  dataExportOutput,
  runEtlInput,
  runEtlOutput,
  serverInfoInput,
  serverInfoOutput,
  sqlQueryInput,
  sqlQueryOutput,
  tableSchemaInput,
  tableSchemaOutput,
} from './schemas';

export const DATA_SERVER_NAME = 'data';
export const DATA_SERVER_VERSION = '0.1.0';
export const DATA_TOOLS = [
  'sql_query',
  'table_schema',
  'data_export',
  'analytics_query',
  'run_etl',
  'server_info',
] as const;

/** Backends created once per process and shared by every per-request McpServer. */
export interface DataServerDeps {
  config: DataServerConfig;
  engine: DataEngine;
  idempotency: IdempotencyStore;
  limiter: RateLimiter;
  /** Absent when MCP_STORAGE_URL is not configured: parquet/export outputs then fail with a clear error. */
  storage?: ObjectStoreClient;
  /** Process start facts, measured once. */
  startedAt: number;
}

function clampTimeout(cfg: DataServerConfig, requested?: number): number {
  return Math.min(requested ?? cfg.queryTimeoutMs, cfg.queryTimeoutMs);
}

function clampRows(cfg: DataServerConfig, requested?: number): number {
  return Math.min(requested ?? 1000, cfg.maxRowsHardCap);
}

function defaultKey(ext: string): string {
  return `exports/data/${new Date().toISOString().slice(0, 10)}/${randomUUID()}.${ext}`;
}

/** Exports a SELECT to a temp file with DuckDB, uploads it to storage, deletes the file. */
async function exportToStorage(
  deps: DataServerDeps,
  args: {
    sql: string;
    params?: SqlParams;
    format: 'parquet' | 'csv';
    objectKey?: string;
    timeoutMs: number;
    signal: AbortSignal;
    idempotencyKey?: string;
    field: string;
  },
): Promise<{
  object: StoredObject;
  rows: number;
  bytes: number;
  columns: Array<{ name: string; type: string }>;
  elapsedMs: number;
}> {
  const started = performance.now();
  if (!deps.storage) {
    throw new ToolError(
      'no storage server configured: set MCP_STORAGE_URL (and MCP_SERVICE_TOKEN) for parquet/csv outputs',
      'storage_unavailable',
    );
  }
  const file = await deps.engine.copyToFile(
    args.sql,
    args.params,
    args.format,
    { timeoutMs: args.timeoutMs, signal: args.signal },
    args.field,
  );
  try {
    const bytes = await fs.promises.readFile(file.file);
    const key = args.objectKey ?? defaultKey(args.format);
    let object: StoredObject;
    try {
      object = await deps.storage.put(key, bytes, {
        idempotencyKey: args.idempotencyKey,
        metadata: {
          producer: 'data',
          format: args.format,
          rows: file.rows,
          columns: file.columns.map((c) => c.name),
        },
      });
    } catch (err) {
      throw new ToolError(
        `upload to storage failed: ${err instanceof Error ? err.message : String(err)}`,
        'storage_failed',
      );
    }
    return {
      object,
      rows: file.rows,
      bytes: file.bytes,
      columns: file.columns,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await fs.promises.rm(file.file, { force: true });
  }
}

/** Builds the data server's MCP server; called per request (stateless HTTP), backends come from `deps`. */
export function buildServer(deps: DataServerDeps): McpServer {
  const { config: cfg, engine } = deps;
  const server = new McpServer({ name: DATA_SERVER_NAME, version: DATA_SERVER_VERSION }, MCP_SERVER_OPTIONS);

  registerTool(
    server,
    'sql_query',
    {
      title: 'Run a read-only SQL query',
      description:
        'Runs ONE parameterized SELECT / WITH … SELECT on DuckDB over a read-only, locked connection (no file or network access, ' +
        'no writes, no SET/ATTACH/COPY/PRAGMA/CALL). Tables: customer_transactions(transaction_id, customer_id, product_id, category, ' +
        'quantity, amount, ts), customers(customer_id, segment, region, signup_date), products(product_id, category, name, price, ' +
        'popularity_rank), plus etl.* / staging.* built by run_etl. Returns up to max_rows rows inline, or with output="parquet" ' +
        'writes the full result to the storage server and returns its storage:// URI, row count and bytes.',
      inputSchema: sqlQueryInput,
      outputSchema: sqlQueryOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (args, ctx) => {
      deps.limiter.take();
      const timeoutMs = clampTimeout(cfg, args.timeout_ms);
      const params = args.params as SqlParams | undefined;
      if (args.output === 'parquet') {
        // Only the parquet path has an effect (a stored object), so only it is made idempotent; inline rows
        // are cheap to recompute and would bloat the idempotency log.
        const { result } = await deps.idempotency.once(
          ctx.idempotencyKey ? `sql_query:parquet:${ctx.idempotencyKey}` : undefined,
          async () => {
            const r = await exportToStorage(deps, {
              sql: args.sql,
              params,
              format: 'parquet',
              objectKey: args.object_key,
              timeoutMs,
              signal: ctx.signal,
              idempotencyKey: ctx.idempotencyKey,
              field: 'sql',
            });
            return {
              output: 'parquet' as const,
              columns: r.columns,
              row_count: r.rows,
              truncated: false,
              uri: r.object.uri,
              bytes: r.bytes,
              sha256: r.object.sha256,
              elapsed_ms: r.elapsedMs,
            };
          },
        );
        return result;
      }
      const r = await engine.query(args.sql, params, clampRows(cfg, args.max_rows), {
        timeoutMs,
        signal: ctx.signal,
      });
      return {
        output: 'rows' as const,
        columns: r.columns,
        rows: r.rows,
        row_count: r.rowCount,
        truncated: r.truncated,
        elapsed_ms: r.elapsedMs,
      };
    },
  );

  registerTool(
    server,
    'table_schema',
    {
      title: 'Describe a table',
      description:
        'Columns (name, DuckDB type, nullability, default) and the exact row count of a table or view, e.g. customer_transactions or etl.features.',
      inputSchema: tableSchemaInput,
      outputSchema: tableSchemaOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args, ctx) => {
      deps.limiter.take();
      const s = await engine.tableSchema(args.table, { timeoutMs: cfg.queryTimeoutMs, signal: ctx.signal });
      return { schema: s.schema, table: s.table, kind: s.kind, columns: s.columns, row_count: s.rowCount };
    },
  );

  registerTool(
    server,
    'data_export',
    {
      title: 'Export a table or query to storage',
      description:
        'Writes a whole table/view, or the result of one parameterized SELECT, as Parquet or CSV into the storage server ' +
        '(HTTP object API) and returns its storage:// URI, row count and size. Give exactly one of table or sql. ' +
        'Send _meta.idempotencyKey: a repeated call with the same key returns the first result without exporting again.',
      inputSchema: dataExportInput,
      outputSchema: dataExportOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      deps.limiter.take();
      if ((args.table === undefined) === (args.sql === undefined)) {
        throw new ToolError('give exactly one of table or sql', 'invalid_params');
      }
      if (args.table !== undefined && args.params !== undefined)
        throw new ToolError('params only apply with sql, not table', 'invalid_params');
      let sql = args.sql ?? '';
      if (args.table !== undefined) {
        const t = await engine.resolveTable(args.table);
        sql = `SELECT * FROM "${t.schema.replace(/"/g, '""')}"."${t.table.replace(/"/g, '""')}"`;
      }
      const r = await exportToStorage(deps, {
        sql,
        params: args.params as SqlParams | undefined,
        format: args.format,
        objectKey: args.object_key,
        timeoutMs: clampTimeout(cfg, args.timeout_ms),
        signal: ctx.signal,
        idempotencyKey: ctx.idempotencyKey,
        field: args.table !== undefined ? 'table' : 'sql',
      });
      return {
        uri: r.object.uri,
        key: r.object.key,
        version: r.object.version,
        sha256: r.object.sha256,
        format: args.format,
        rows: r.rows,
        bytes: r.bytes,
        columns: r.columns,
        elapsed_ms: r.elapsedMs,
      };
    },
  );

  registerTool(
    server,
    'analytics_query',
    {
      title: 'Run a named analysis',
      description: `Runs a named, parameterized analysis over customer_transactions on the read-only connection. ${ANALYTICS_DOC}`,
      inputSchema: analyticsQueryInput,
      outputSchema: analyticsQueryOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args, ctx) => {
      deps.limiter.take();
      const r = await runAnalytics(engine, args.name, args.params, clampRows(cfg, args.max_rows), {
        timeoutMs: clampTimeout(cfg, args.timeout_ms),
        signal: ctx.signal,
      });
      return {
        name: args.name,
        params: r.params,
        columns: r.result.columns,
        rows: r.result.rows,
        row_count: r.result.rowCount,
        truncated: r.result.truncated,
        elapsed_ms: r.result.elapsedMs,
      };
    },
  );

  registerTool(
    server,
    'run_etl',
    {
      title: 'Run an ETL transformation',
      description:
        `Runs a list of SQL statements in ONE transaction on the trusted writer connection: all commit or none do. ` +
        `Allowed: CREATE/INSERT/UPDATE/DELETE/DROP/ALTER/MERGE whose target is schema-qualified in ${cfg.etlSchemas.join(' or ')} ` +
        `(e.g. CREATE OR REPLACE TABLE etl.daily AS SELECT …), and SELECT. Refused: ATTACH, COPY, INSTALL/LOAD, SET, PRAGMA, CALL, ` +
        `EXPORT, transaction control, writes to any other schema. Send _meta.idempotencyKey so a retry does not run it twice.`,
      inputSchema: runEtlInput,
      outputSchema: runEtlOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      deps.limiter.take();
      const r = await engine.runEtl(args.statements, {
        timeoutMs: clampTimeout(cfg, args.timeout_ms),
        signal: ctx.signal,
      });
      return {
        committed: true,
        statements: r.statements.map((s) => ({
          index: s.index,
          type: s.type,
          target: s.target ? `${s.target.schema}.${s.target.name}` : undefined,
          rows_changed: s.rowsChanged,
        })),
        tables: r.tables,
        elapsed_ms: r.elapsedMs,
      };
    },
  );

  registerTool(
    server,
    'server_info',
    {
      title: 'Data server facts',
      description:
        'Version, DuckDB version, tools, capabilities, enforced limits, tables with exact row counts, database file size, seed parameters and load, measured now.',
      inputSchema: serverInfoInput,
      outputSchema: serverInfoOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (_args, ctx) => {
      const tables = (await engine.listTables()).slice(0, 100);
      const baseTables = tables.filter((t) => t.kind === 'table');
      const counts = await engine.countRows(baseTables, {
        timeoutMs: cfg.queryTimeoutMs,
        signal: ctx.signal,
      });
      const settings = await engine.settings();
      let diskFreeBytes: number | null = null;
      try {
        const s = await fs.promises.statfs(cfg.dataDir);
        diskFreeBytes = s.bavail * s.bsize;
      } catch {
        diskFreeBytes = null;
      }
      return {
        server: DATA_SERVER_NAME,
        version: DATA_SERVER_VERSION,
        duckdb_version: engine.duckdbVersion,
        tools: [...DATA_TOOLS],
        capabilities: {
          read: true,
          write: true,
          transaction: true,
          engine: 'duckdb',
          outputs: ['rows', 'parquet', 'csv'],
          storage: deps.storage ? 'configured' : 'not configured (MCP_STORAGE_URL unset)',
          analytics: [...ANALYTICS_NAMES],
          etlSchemas: cfg.etlSchemas,
          gpu: false,
          sqlSandbox: {
            queryConnection:
              'read-only transaction, SELECT only (DuckDB parser), external access disabled, configuration locked',
            settings,
          },
        },
        limits: {
          rateLimitPerMinute: cfg.rateLimitPerMinute,
          maxConcurrent: cfg.maxConcurrent,
          queryTimeoutMs: cfg.queryTimeoutMs,
          maxRowsDefault: Math.min(1000, cfg.maxRowsHardCap),
          maxRowsHardCap: cfg.maxRowsHardCap,
          memoryLimit: settings.memory_limit ?? cfg.memoryLimit,
          threads: Number(settings.threads ?? cfg.threads),
          maxEtlStatements: 50,
          maxSqlChars: 100_000,
        },
        measured: {
          at: new Date().toISOString(),
          dbFileBytes: engine.fileBytes(),
          diskFreeBytes,
          cpuCount: os.cpus().length,
          loadAverage1m: os.loadavg()[0] ?? null,
          totalMemoryBytes: os.totalmem(),
          freeMemoryBytes: os.freemem(),
          queriesRunning: engine.load.running,
          queriesQueued: engine.load.queued,
          callsLastMinute: deps.limiter.used(),
          idempotencyKeys: deps.idempotency.size,
          uptimeS: Math.round((Date.now() - deps.startedAt) / 1000),
          gpu: 'none (CPU-only machine)',
        },
        tables: tables.map((t) => {
          const name = t.schema === 'main' ? t.name : `${t.schema}.${t.name}`;
          return { name, kind: t.kind, row_count: t.kind === 'table' ? (counts[name] ?? null) : null };
        }),
        seed: { ...engine.seedInfo, seededThisStart: engine.seededNow },
      };
    },
  );

  return server;
}
