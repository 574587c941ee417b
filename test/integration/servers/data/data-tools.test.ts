import { callOk, callTool, errorText } from '../../../harness/mcp-client';
import { inspectFile, startDataStack, type DataStack } from './start-stack';

jest.setTimeout(60_000);

type Rows = {
  rows: Array<Record<string, unknown>>;
  row_count: number;
  truncated: boolean;
  columns: Array<{ name: string; type: string }>;
};

describe('data server tools over real HTTP', () => {
  let stack: DataStack;

  beforeAll(async () => {
    stack = await startDataStack({ withStorage: true });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('when the client lists tools, then all six data tools are there with input and output schemas', async () => {
    const { tools } = await stack.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'analytics_query',
      'data_export',
      'run_etl',
      'server_info',
      'sql_query',
      'table_schema',
    ]);
    for (const t of tools) {
      expect(t.outputSchema).toBeDefined();
      expect(t.annotations).toBeDefined();
    }
  });

  describe('sql_query', () => {
    it('when a parameterized SELECT runs, then rows come back typed and capped by max_rows', async () => {
      const r = await callOk<Rows>(stack.client, 'sql_query', {
        sql: 'SELECT category, count(*) AS n, sum(amount) AS revenue FROM customer_transactions WHERE ts >= $1 AND quantity >= $2 GROUP BY 1 ORDER BY n DESC',
        params: ['2025-01-01', 1],
        max_rows: 3,
      });
      expect(r.row_count).toBe(3);
      expect(r.truncated).toBe(true);
      expect(r.columns.map((c) => c.name)).toEqual(['category', 'n', 'revenue']);
      expect(typeof r.rows[0]?.n).toBe('number');
      expect(typeof r.rows[0]?.revenue).toBe('number');
    });

    it('when named parameters are used, then they bind by name', async () => {
      const r = await callOk<Rows>(stack.client, 'sql_query', {
        sql: 'SELECT count(*) AS n FROM customers WHERE segment = $seg AND region = $region',
        params: { seg: 0, region: 'north' },
      });
      expect(r.rows[0]?.n).toBeGreaterThan(0);
    });

    it('when max_rows exceeds the hard cap, then at most the cap is returned', async () => {
      const r = await callOk<Rows>(stack.client, 'sql_query', {
        sql: 'SELECT * FROM customer_transactions',
        max_rows: 1_000_000,
      });
      expect(r.row_count).toBe(stack.data.config.maxRowsHardCap);
      expect(r.truncated).toBe(true);
    });

    it("when the SQL has a syntax error, then isError carries DuckDB's message and the position", async () => {
      const r = await callTool(stack.client, 'sql_query', {
        sql: 'SELECT category,\n  count(* FROM customer_transactions',
      });
      expect(r.isError).toBe(true);
      const text = errorText(r);
      expect(text).toMatch(/Parser Error: syntax error/);
      expect(text).toMatch(/position \d+: line 2, column \d+/);
    });

    it('when the table does not exist, then isError names it', async () => {
      const r = await callTool(stack.client, 'sql_query', { sql: 'SELECT * FROM no_such_table' });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/Table with name no_such_table does not exist/);
    });

    it('when params do not match the placeholders, then isError says how many are expected', async () => {
      const r = await callTool(stack.client, 'sql_query', {
        sql: 'SELECT * FROM customers WHERE customer_id = $1',
        params: [],
      });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/1 parameter\(s\) but params has 0/);
      const named = await callTool(stack.client, 'sql_query', {
        sql: 'SELECT * FROM customers WHERE customer_id = $id',
        params: { nope: 1 },
      });
      expect(named.isError).toBe(true);
      expect(errorText(named)).toMatch(/params\.nope/);
    });

    it('when arguments break the input schema, then the call is an error', async () => {
      const r = await callTool(stack.client, 'sql_query', { sql: 'SELECT 1', max_rows: -5 });
      expect(r.isError).toBe(true);
    });

    it('when a query runs past timeout_ms, then it is interrupted and reported as a timeout', async () => {
      const started = Date.now();
      const r = await callTool(stack.client, 'sql_query', {
        sql: 'SELECT sum(a.range * b.range) FROM range(200000) a, range(200000) b',
        timeout_ms: 300,
      });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/timeout_ms=300/);
      expect(Date.now() - started).toBeLessThan(10_000);
      // The connection is usable again afterwards.
      const ok = await callOk<Rows>(stack.client, 'sql_query', { sql: 'SELECT 42 AS x' });
      expect(ok.rows[0]?.x).toBe(42);
    });

    it('when output is parquet, then the full result lands in the storage server and a URI comes back', async () => {
      const r = await callOk<{
        uri: string;
        row_count: number;
        bytes: number;
        columns: unknown[];
        rows?: unknown;
      }>(stack.client, 'sql_query', {
        sql: 'SELECT * FROM customer_transactions WHERE category = $1',
        params: ['books'],
        output: 'parquet',
      });
      expect(r.uri).toMatch(/^storage:\/\/exports\/data\/.+\.parquet$/);
      expect(r.rows).toBeUndefined();
      const expected = await callOk<Rows>(stack.client, 'sql_query', {
        sql: "SELECT count(*) AS n FROM customer_transactions WHERE category = 'books'",
      });
      expect(r.row_count).toBe(expected.rows[0]?.n);
      const obj = await stack.objects!.get(r.uri);
      expect(obj.bytes.length).toBe(r.bytes);
      const back = await inspectFile(obj.bytes, 'parquet');
      expect(back.rows).toBe(r.row_count);
      expect(back.columns).toEqual([
        'transaction_id',
        'customer_id',
        'product_id',
        'category',
        'quantity',
        'amount',
        'ts',
      ]);
    });
  });

  describe('concurrency', () => {
    it('when several clients query at once, then each gets its own answer and the pool queues the rest', async () => {
      const segments = [0, 1, 2, 3, 4, 5];
      const results = await Promise.all(
        segments.map((seg) =>
          callOk<Rows>(stack.client, 'sql_query', {
            sql: 'SELECT $seg::INTEGER AS seg, count(*) AS n FROM customers WHERE segment = $seg',
            params: { seg },
          }),
        ),
      );
      results.forEach((r, i) => expect(r.rows[0]?.seg).toBe(segments[i]));
      const direct = await callOk<Rows>(stack.client, 'sql_query', {
        sql: 'SELECT segment, count(*) AS n FROM customers GROUP BY 1 ORDER BY 1',
      });
      results.forEach((r, i) => expect(r.rows[0]?.n).toBe(direct.rows[i]?.n));
    });
  });

  describe('table_schema', () => {
    it('when asked for customer_transactions, then columns, types and the exact row count come back', async () => {
      const r = await callOk<{
        columns: Array<{ name: string; type: string }>;
        row_count: number;
        schema: string;
      }>(stack.client, 'table_schema', {
        table: 'customer_transactions',
      });
      expect(r.schema).toBe('main');
      expect(r.row_count).toBe(20_000);
      expect(r.columns).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'transaction_id', type: 'BIGINT' }),
          expect.objectContaining({ name: 'amount', type: 'DECIMAL(12,2)' }),
          expect.objectContaining({ name: 'ts', type: 'TIMESTAMP' }),
        ]),
      );
    });

    it('when the table is unknown, then isError lists the known tables', async () => {
      const r = await callTool(stack.client, 'table_schema', { table: 'nope' });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/unknown table "nope".*customer_transactions/);
    });
  });

  describe('analytics_query', () => {
    it('when top_products runs with params, then it ranks products by the chosen measure', async () => {
      const r = await callOk<Rows & { params: Record<string, unknown> }>(stack.client, 'analytics_query', {
        name: 'top_products',
        params: {
          by: 'units',
          limit: 5,
          category: 'books',
          start_date: '2024-06-01',
          end_date: '2025-06-30',
        },
      });
      expect(r.row_count).toBe(5);
      expect(r.params).toMatchObject({ by: 'units', limit: 5 });
      const units = r.rows.map((x) => Number(x.units));
      expect([...units].sort((a, b) => b - a)).toEqual(units);
      expect(r.rows.every((x) => x.category === 'books')).toBe(true);
    });

    it('when revenue_by_day covers a month, then there is one row per day summing to the SQL total', async () => {
      const r = await callOk<Rows>(stack.client, 'analytics_query', {
        name: 'revenue_by_day',
        params: { start_date: '2025-03-01', end_date: '2025-03-31' },
      });
      expect(r.row_count).toBe(31);
      const total = r.rows.reduce((s, x) => s + Number(x.revenue), 0);
      const direct = await callOk<Rows>(stack.client, 'sql_query', {
        sql: "SELECT sum(amount) AS s FROM customer_transactions WHERE ts >= DATE '2025-03-01' AND ts < DATE '2025-04-01'",
      });
      expect(total).toBeCloseTo(Number(direct.rows[0]?.s), 2);
    });

    it("when segment_preferences runs, then each segment's top category is over-represented (planted structure)", async () => {
      const r = await callOk<Rows>(stack.client, 'analytics_query', {
        name: 'segment_preferences',
        params: { top_k: 1 },
      });
      expect(r.row_count).toBe(8);
      for (const row of r.rows) expect(Number(row.lift)).toBeGreaterThan(1.5);
    });

    it('when customer_cohorts, category_mix, revenue_by_month and customer_summary run, then each returns rows', async () => {
      for (const [name, params] of [
        ['customer_cohorts', { max_months: 3 }],
        ['category_mix', { segment: 2 }],
        ['revenue_by_month', {}],
        ['customer_summary', { customer_id: 1 }],
      ] as const) {
        const r = await callOk<Rows>(stack.client, 'analytics_query', { name, params });
        expect(r.row_count).toBeGreaterThan(0);
      }
    });

    it('when params are wrong, then isError names the offending parameter', async () => {
      const bad = await callTool(stack.client, 'analytics_query', {
        name: 'top_products',
        params: { limit: 1000, colour: 'red' },
      });
      expect(bad.isError).toBe(true);
      expect(errorText(bad)).toMatch(/params\.limit/);
      expect(errorText(bad)).toMatch(/colour/);
      const dates = await callTool(stack.client, 'analytics_query', {
        name: 'revenue_by_day',
        params: { start_date: '2025-02-30' },
      });
      expect(dates.isError).toBe(true);
      expect(errorText(dates)).toMatch(/params\.start_date/);
      const order = await callTool(stack.client, 'analytics_query', {
        name: 'revenue_by_day',
        params: { start_date: '2025-05-01', end_date: '2025-04-01' },
      });
      expect(errorText(order)).toMatch(/start_date must not be after end_date/);
      const unknown = await callTool(stack.client, 'analytics_query', {
        name: 'not_an_analysis',
        params: {},
      });
      expect(unknown.isError).toBe(true);
    });
  });

  describe('run_etl', () => {
    it('when statements build an etl table, then it commits and sql_query can read it', async () => {
      const r = await callOk<{
        committed: boolean;
        statements: Array<{ type: string; target?: string }>;
        tables: Record<string, number>;
      }>(stack.client, 'run_etl', {
        statements: [
          'CREATE OR REPLACE TABLE etl.daily_revenue AS SELECT CAST(ts AS DATE) AS day, sum(amount) AS revenue FROM customer_transactions GROUP BY 1',
          "DELETE FROM etl.daily_revenue WHERE day < DATE '2025-01-01'",
          'CREATE OR REPLACE VIEW staging.daily_revenue_v AS SELECT * FROM etl.daily_revenue',
        ],
      });
      expect(r.committed).toBe(true);
      expect(r.statements.map((s) => s.type)).toEqual(['CREATE', 'DELETE', 'CREATE']);
      expect(r.tables['etl.daily_revenue']).toBe(365);
      const q = await callOk<Rows>(stack.client, 'sql_query', {
        sql: 'SELECT count(*) AS n FROM staging.daily_revenue_v',
      });
      expect(q.rows[0]?.n).toBe(365);
      const schema = await callOk<{ row_count: number }>(stack.client, 'table_schema', {
        table: 'etl.daily_revenue',
      });
      expect(schema.row_count).toBe(365);
    });

    it('when a later statement fails, then nothing of the transaction is kept', async () => {
      const r = await callTool(stack.client, 'run_etl', {
        statements: [
          'CREATE TABLE etl.half_done AS SELECT 1 AS x',
          'INSERT INTO etl.half_done SELECT * FROM missing_table',
        ],
      });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/statements\[1\].*missing_table/s);
      const t = await callTool(stack.client, 'table_schema', { table: 'etl.half_done' });
      expect(t.isError).toBe(true);
    });

    it('when called twice with the same idempotency key, then the effect happens once', async () => {
      await callOk(stack.client, 'run_etl', {
        statements: ['CREATE TABLE IF NOT EXISTS etl.ticks (n INTEGER)'],
      });
      const meta = { idempotencyKey: 'wf-1:step-etl' };
      const first = await callTool(
        stack.client,
        'run_etl',
        { statements: ['INSERT INTO etl.ticks VALUES (1)'] },
        meta,
      );
      const second = await callTool(
        stack.client,
        'run_etl',
        { statements: ['INSERT INTO etl.ticks VALUES (1)'] },
        meta,
      );
      expect(first.isError).toBeFalsy();
      expect(second.isError).toBeFalsy();
      expect(second._meta?.replayed).toBe(true);
      expect(second.structuredContent).toEqual(first.structuredContent);
      const n = await callOk<Rows>(stack.client, 'sql_query', { sql: 'SELECT count(*) AS n FROM etl.ticks' });
      expect(n.rows[0]?.n).toBe(1);
      await callOk(
        stack.client,
        'run_etl',
        { statements: ['INSERT INTO etl.ticks VALUES (2)'] },
        { idempotencyKey: 'wf-1:step-etl-2' },
      );
      const m = await callOk<Rows>(stack.client, 'sql_query', { sql: 'SELECT count(*) AS n FROM etl.ticks' });
      expect(m.rows[0]?.n).toBe(2);
    });
  });

  describe('data_export', () => {
    it('when a table is exported as CSV, then storage holds every row with a header', async () => {
      const r = await callOk<{ uri: string; rows: number; bytes: number; format: string }>(
        stack.client,
        'data_export',
        { table: 'products', format: 'csv' },
      );
      const products = await callOk<{ row_count: number }>(stack.client, 'table_schema', {
        table: 'products',
      });
      expect(r.rows).toBe(products.row_count);
      const obj = await stack.objects!.get(r.uri);
      const back = await inspectFile(obj.bytes, 'csv');
      expect(back.rows).toBe(r.rows);
      expect(back.columns).toContain('product_id');
    });

    it('when a parameterized query is exported to a chosen key, then the object is at that key', async () => {
      const r = await callOk<{ uri: string; rows: number; key: string }>(stack.client, 'data_export', {
        sql: 'SELECT customer_id, sum(amount) AS revenue FROM customer_transactions WHERE category = $cat GROUP BY 1',
        params: { cat: 'music' },
        object_key: 'datasets/music-revenue.parquet',
      });
      expect(r.uri).toBe('storage://datasets/music-revenue.parquet');
      expect(r.rows).toBeGreaterThan(0);
    });

    it('when exported twice with the same idempotency key, then one object version is written', async () => {
      const meta = { idempotencyKey: 'wf-2:step-export' };
      const args = { sql: 'SELECT * FROM customers', object_key: 'datasets/customers-once.parquet' };
      const first = await callTool(stack.client, 'data_export', args, meta);
      const second = await callTool(stack.client, 'data_export', args, meta);
      expect(first.isError).toBeFalsy();
      expect(second._meta?.replayed).toBe(true);
      expect(second.structuredContent).toEqual(first.structuredContent);
      const obj = await stack.objects!.get('datasets/customers-once.parquet');
      expect(obj.version).toBe(1);
      // A new key is a new effect: version 2.
      const third = await callOk<{ version: number }>(stack.client, 'data_export', args, {
        idempotencyKey: 'wf-3:step-export',
      });
      expect(third.version).toBe(2);
    });

    it('when both or neither of table and sql are given, or the table is unknown, then isError says so', async () => {
      const both = await callTool(stack.client, 'data_export', { table: 'products', sql: 'SELECT 1' });
      expect(errorText(both)).toMatch(/exactly one of table or sql/);
      const neither = await callTool(stack.client, 'data_export', {});
      expect(neither.isError).toBe(true);
      const unknown = await callTool(stack.client, 'data_export', { table: 'nope' });
      expect(errorText(unknown)).toMatch(/unknown table "nope"/);
      const badKey = await callTool(stack.client, 'data_export', {
        table: 'products',
        object_key: '../escape.parquet',
      });
      expect(badKey.isError).toBe(true);
      const write = await callTool(stack.client, 'data_export', { sql: 'DELETE FROM customers' });
      expect(errorText(write)).toMatch(/DELETE statement/);
    });
  });

  describe('server_info', () => {
    it('when called, then it reports versions, limits, measured facts and exact table counts', async () => {
      const r = await callOk<{
        duckdb_version: string;
        tools: string[];
        limits: Record<string, unknown>;
        measured: Record<string, unknown>;
        tables: Array<{ name: string; row_count: number | null }>;
        seed: Record<string, unknown>;
        capabilities: { sqlSandbox: { settings: Record<string, string> } };
      }>(stack.client, 'server_info', {});
      expect(r.duckdb_version).toMatch(/^v\d+\.\d+/);
      expect(r.tools).toHaveLength(6);
      expect(r.limits).toMatchObject({ maxConcurrent: 2, maxRowsHardCap: 10_000, rateLimitPerMinute: 600 });
      expect(Number(r.measured.dbFileBytes)).toBeGreaterThan(0);
      expect(r.tables.find((t) => t.name === 'customer_transactions')?.row_count).toBe(20_000);
      expect(r.seed).toMatchObject({ seed: 42, rows: 20_000, segments: 8 });
      expect(r.capabilities.sqlSandbox.settings).toMatchObject({
        enable_external_access: 'false',
        lock_configuration: 'true',
      });
    });
  });
});

describe('data server without a storage server', () => {
  let stack: DataStack;
  beforeAll(async () => {
    stack = await startDataStack({ seedRows: 1000, extra: { rateLimitPerMinute: 5 } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('when parquet output is asked for, then isError says to configure MCP_STORAGE_URL', async () => {
    const r = await callTool(stack.client, 'sql_query', { sql: 'SELECT 1', output: 'parquet' });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toMatch(/MCP_STORAGE_URL/);
  });

  it('when more calls than the per-minute limit arrive, then the extra ones are refused with rate_limited', async () => {
    const results = [];
    for (let i = 0; i < 6; i++)
      results.push(await callTool(stack.client, 'sql_query', { sql: 'SELECT 1 AS x' }));
    // One call was spent by the previous test.
    expect(results.filter((r) => r.isError).length).toBeGreaterThanOrEqual(2);
    expect(errorText(results[results.length - 1]!)).toMatch(/rate limit of 5 calls per minute/);
    expect(results[results.length - 1]!._meta?.code).toBe('rate_limited');
  });
});
