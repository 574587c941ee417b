import { z } from 'zod';

/** A scalar SQL parameter value. */
export const sqlParamSchema = z
  .union([z.string(), z.number(), z.boolean(), z.null()])
  .describe(
    'A parameter value: string, number, boolean or null (DuckDB casts it to the parameter type, e.g. a date string)',
  );

export const sqlParamsSchema = z
  .union([z.array(sqlParamSchema), z.record(z.string(), sqlParamSchema)])
  .describe('Parameters: an array for positional $1, $2 … (or ?), or an object for named $name placeholders');

const columnSchema = z
  .object({
    name: z.string().describe('Column name (deduplicated: a repeated name gets a :n suffix)'),
    type: z.string().describe('DuckDB type, e.g. BIGINT, DECIMAL(12,2), TIMESTAMP'),
  })
  .describe('A result column');

const rowsSchema = z
  .array(
    z
      .record(z.string(), z.unknown())
      .describe(
        'One row: column name → value (numbers as numbers when exact, dates and big integers as strings)',
      ),
  )
  .describe('Result rows, at most max_rows');

const objectKeySchema = z
  .string()
  .min(1)
  .max(512)
  .regex(
    /^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._\-/]+$/,
    'a relative key of letters, digits, . _ - / without . or .. segments',
  )
  .describe(
    'Storage object key to write (relative, e.g. datasets/extract.parquet); default exports/data/<date>/<uuid>.<ext>',
  );

// ---- sql_query ----
export const sqlQueryInput = {
  sql: z
    .string()
    .min(1)
    .describe('One SELECT (or WITH … SELECT) statement; use $1/$name placeholders for values'),
  params: sqlParamsSchema.optional(),
  max_rows: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Most rows returned inline (default 1000; capped by the server hard limit)'),
  timeout_ms: z
    .number()
    .int()
    .min(100)
    .optional()
    .describe('Interrupt the query after this many ms (default and max set by the server)'),
  output: z
    .enum(['rows', 'parquet'])
    .default('rows')
    .describe(
      '"rows": rows inline; "parquet": the whole result is written as Parquet into the storage server and a URI returned',
    ),
  object_key: objectKeySchema.optional(),
};
export const sqlQueryOutput = {
  output: z.enum(['rows', 'parquet']).describe('Which output was produced'),
  columns: z.array(columnSchema).describe('Result columns in order'),
  rows: rowsSchema.optional().describe('Rows (output "rows" only)'),
  row_count: z.number().int().describe('Rows returned inline ("rows") or written ("parquet")'),
  truncated: z
    .boolean()
    .describe('True when the result had more than max_rows rows ("rows" only; parquet is never truncated)'),
  uri: z.string().optional().describe('storage://<key> of the Parquet object (output "parquet")'),
  bytes: z.number().int().optional().describe('Size of the Parquet object in bytes (output "parquet")'),
  sha256: z.string().optional().describe('SHA-256 of the Parquet object as stored (output "parquet")'),
  elapsed_ms: z.number().describe('Time spent in DuckDB, ms'),
};

// ---- table_schema ----
export const tableSchemaInput = {
  table: z
    .string()
    .min(1)
    .max(256)
    .describe('Table or view name, optionally schema-qualified (e.g. customer_transactions, etl.features)'),
};
export const tableSchemaOutput = {
  schema: z.string().describe('Schema the table lives in'),
  table: z.string().describe('Table name'),
  kind: z.enum(['table', 'view']).describe('Table or view'),
  columns: z
    .array(
      z.object({
        name: z.string().describe('Column name'),
        type: z.string().describe('DuckDB type'),
        nullable: z.boolean().describe('Whether NULLs are allowed'),
        default: z.string().nullable().describe('Default expression, if any'),
      }),
    )
    .describe('Columns in table order'),
  row_count: z.number().int().describe('Exact row count, counted now'),
};

// ---- data_export ----
export const dataExportInput = {
  table: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe('Table or view to export whole (give table or sql, not both)'),
  sql: z
    .string()
    .min(1)
    .optional()
    .describe('A SELECT whose result is exported (give table or sql, not both)'),
  params: sqlParamsSchema.optional(),
  format: z.enum(['parquet', 'csv']).default('parquet').describe('File format written to storage'),
  object_key: objectKeySchema.optional(),
  timeout_ms: z.number().int().min(100).optional().describe('Interrupt the export after this many ms'),
};
export const dataExportOutput = {
  uri: z.string().describe('storage://<key> of the exported object'),
  key: z.string().describe('Storage object key'),
  version: z.number().int().describe('Object version assigned by the storage server'),
  sha256: z.string().describe('SHA-256 of the stored bytes'),
  format: z.enum(['parquet', 'csv']).describe('File format'),
  rows: z.number().int().describe('Rows exported'),
  bytes: z.number().int().describe('Size of the exported file in bytes'),
  columns: z.array(columnSchema).describe('Exported columns'),
  elapsed_ms: z.number().describe('Time for query, file write and upload, ms'),
};

// ---- analytics_query ----
export const ANALYTICS_NAMES = [
  'revenue_by_day',
  'revenue_by_month',
  'top_products',
  'customer_cohorts',
  'category_mix',
  'segment_preferences',
  'customer_summary',
] as const;
export type AnalyticsName = (typeof ANALYTICS_NAMES)[number];

export const analyticsQueryInput = {
  name: z.enum(ANALYTICS_NAMES).describe('Which named analysis to run'),
  params: z
    .record(z.string(), z.unknown())
    .default({})
    .describe('Parameters of the analysis (see the tool description; unknown keys are refused)'),
  max_rows: z.number().int().min(1).optional().describe('Most rows returned (default 1000)'),
  timeout_ms: z.number().int().min(100).optional().describe('Interrupt after this many ms'),
};
export const analyticsQueryOutput = {
  name: z.string().describe('The analysis run'),
  params: z.record(z.string(), z.unknown()).describe('Parameters after defaults were applied'),
  columns: z.array(columnSchema).describe('Result columns'),
  rows: rowsSchema,
  row_count: z.number().int().describe('Rows returned'),
  truncated: z.boolean().describe('True when more rows existed than max_rows'),
  elapsed_ms: z.number().describe('Time spent in DuckDB, ms'),
};

// ---- run_etl ----
export const runEtlInput = {
  statements: z
    .array(z.string().min(1))
    .min(1)
    .max(50)
    .describe(
      'SQL statements run in order in ONE transaction (all or nothing). Each is one CREATE/INSERT/UPDATE/DELETE/DROP/ALTER/MERGE/SELECT; writes must target an allowed schema (etl.*, staging.*)',
    ),
  timeout_ms: z.number().int().min(100).optional().describe('Interrupt and roll back after this many ms'),
};
export const runEtlOutput = {
  committed: z.boolean().describe('True: every statement ran and the transaction committed'),
  statements: z
    .array(
      z.object({
        index: z.number().int().describe('Position in the input list'),
        type: z.string().describe('Statement type as DuckDB parsed it'),
        target: z.string().optional().describe('Schema-qualified object written'),
        rows_changed: z.number().int().describe('Rows inserted/updated/deleted (0 for DDL)'),
      }),
    )
    .describe('Per-statement results'),
  tables: z.record(z.string(), z.number().int()).describe('Row counts of written tables after commit'),
  elapsed_ms: z.number().describe('Time for the whole transaction, ms'),
};

// ---- server_info ----
export const serverInfoInput = {};
export const serverInfoOutput = {
  server: z.string().describe('Server name'),
  version: z.string().describe('Server version'),
  duckdb_version: z.string().describe('DuckDB library version, read from DuckDB'),
  tools: z.array(z.string()).describe('Tool names'),
  capabilities: z.record(z.string(), z.unknown()).describe('Facts about what the server can do'),
  limits: z.record(z.string(), z.unknown()).describe('Limits enforced by the server'),
  measured: z.record(z.string(), z.unknown()).describe('Facts measured on this machine now or at start'),
  tables: z
    .array(
      z.object({
        name: z.string().describe('Schema-qualified name (main schema unqualified)'),
        kind: z.enum(['table', 'view']).describe('Table or view'),
        row_count: z.number().int().nullable().describe('Exact row count counted now (null for views)'),
      }),
    )
    .describe('Tables and views, capped at 100'),
  seed: z
    .record(z.string(), z.unknown())
    .describe('Parameters and timing of the generator run that created the data'),
};
