import os from 'node:os';
import { z } from 'zod';
import { baseServerConfigSchema, loadBaseServerConfig } from '../kit';

/** Default port of the data server. */
export const DATA_DEFAULT_PORT = 8001;

/** Settings of the data server on top of the kit's base configuration; every one has a default. */
export const dataOptionsSchema = z.object({
  /** Rows of `customer_transactions` generated on first start. Env `MCP_DATA_SEED_ROWS`. */
  seedRows: z.coerce.number().int().min(100).max(50_000_000).default(1_200_000),
  /** PRNG seed of the generator; same seed and sizes give the same data. Env `MCP_DATA_SEED`. */
  seed: z.coerce.number().int().min(0).max(2_147_483_647).default(42),
  /** Customers to generate; 0 derives it from the row count (rows / 24). Env `MCP_DATA_SEED_CUSTOMERS`. */
  seedCustomers: z.coerce.number().int().min(0).max(10_000_000).default(0),
  /** Products to generate; 0 derives it from the row count (rows / 100, at most 2000). Env `MCP_DATA_SEED_PRODUCTS`. */
  seedProducts: z.coerce.number().int().min(0).max(1_000_000).default(0),
  /** DuckDB `memory_limit` for the whole instance. Env `MCP_DATA_MEMORY_LIMIT`. */
  memoryLimit: z
    .string()
    .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i, 'like 512MB or 2GB')
    .default('1GB'),
  /** DuckDB worker threads. Env `MCP_DATA_THREADS`. @default number of CPUs, at most 4 */
  threads: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(Math.min(4, Math.max(1, os.cpus().length))),
  /** Default and largest per-call timeout of a query, in ms. Env `MCP_DATA_QUERY_TIMEOUT_MS`. */
  queryTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Hard cap of rows a `sql_query`/`analytics_query` returns inline. Env `MCP_DATA_MAX_ROWS`. */
  maxRowsHardCap: z.coerce.number().int().min(1).max(100_000).default(10_000),
  /** Queries running at once (size of the read-only connection pool). Env `MCP_DATA_MAX_CONCURRENT`. */
  maxConcurrent: z.coerce.number().int().min(1).max(32).default(2),
  /** Tool calls accepted per minute across all clients; more get a `rate_limited` error. Env `MCP_DATA_RATE_LIMIT_PER_MINUTE`. */
  rateLimitPerMinute: z.coerce.number().int().min(1).max(1_000_000).default(600),
  /** Schemas `run_etl` may write to. Env `MCP_DATA_ETL_SCHEMAS` (comma-separated). */
  etlSchemas: z
    .array(z.string().regex(/^[a-z_][a-z0-9_]*$/))
    .min(1)
    .default(['etl', 'staging']),
  /** Storage server base URL for Parquet/CSV outputs. Env `MCP_STORAGE_URL`. */
  storageUrl: z.string().url().optional(),
  /** Service token for the storage server's object API. Env `MCP_SERVICE_TOKEN`. */
  serviceToken: z.string().optional(),
});

export const dataServerConfigSchema = baseServerConfigSchema.extend(dataOptionsSchema.shape);

/** Full, validated data server configuration. */
export type DataServerConfig = z.infer<typeof dataServerConfigSchema>;
/** What callers pass to `startDataServer`: the base config, data settings optional. */
export type DataServerConfigInput = z.input<typeof dataServerConfigSchema>;

/** Validates a configuration object, naming the offending field on failure. */
export function parseDataServerConfig(input: DataServerConfigInput): DataServerConfig {
  const parsed = dataServerConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid data server configuration: ${issues}`);
  }
  return parsed.data;
}

/** Reads the data server configuration from the environment (see this folder's README for names). */
export function loadDataServerConfig(env: NodeJS.ProcessEnv = process.env): DataServerConfig {
  const base = loadBaseServerConfig('data', DATA_DEFAULT_PORT, env);
  const blank = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);
  return parseDataServerConfig({
    ...base,
    seedRows: blank(env.MCP_DATA_SEED_ROWS),
    seed: blank(env.MCP_DATA_SEED),
    seedCustomers: blank(env.MCP_DATA_SEED_CUSTOMERS),
    seedProducts: blank(env.MCP_DATA_SEED_PRODUCTS),
    memoryLimit: blank(env.MCP_DATA_MEMORY_LIMIT),
    threads: blank(env.MCP_DATA_THREADS),
    queryTimeoutMs: blank(env.MCP_DATA_QUERY_TIMEOUT_MS),
    maxRowsHardCap: blank(env.MCP_DATA_MAX_ROWS),
    maxConcurrent: blank(env.MCP_DATA_MAX_CONCURRENT),
    rateLimitPerMinute: blank(env.MCP_DATA_RATE_LIMIT_PER_MINUTE),
    etlSchemas: blank(env.MCP_DATA_ETL_SCHEMAS)
      ?.split(',')
      .map((s) => s.trim().toLowerCase()),
    storageUrl: blank(env.MCP_STORAGE_URL),
    serviceToken: blank(env.MCP_SERVICE_TOKEN),
  } as DataServerConfigInput);
}
