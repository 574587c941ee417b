import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { callOk, callTool, errorText } from '../../../harness/mcp-client';
import { startDataStack, type DataStack } from './start-stack';

jest.setTimeout(60_000);

/**
 * RELIABILITY.md item 19: every attack is refused through the tool (statement-type check) AND on the locked,
 * read-only connection alone (the real barrier). Figures are printed: attacks tried / refused.
 */
describe('SQL security (item 19)', () => {
  let stack: DataStack;
  const canary = path.join(os.tmpdir(), `data-sec-canary-${process.pid}`);
  const tally = { tried: 0, refused: 0 };

  beforeAll(async () => {
    stack = await startDataStack({ seedRows: 2000 });
    fs.rmSync(canary, { recursive: true, force: true });
  });
  afterAll(async () => {
     
    console.log(`item 19 SQL attacks: tried ${tally.tried}, refused ${tally.refused}`);
    fs.rmSync(canary, { recursive: true, force: true });
    await stack?.close();
  });

  const attacks = (dataDir: string): Array<[string, string]> => [
    ['read a local file with read_csv', "SELECT * FROM read_csv('/etc/passwd')"],
    ['read a local file with read_csv_auto', "SELECT * FROM read_csv_auto('/etc/passwd')"],
    ['read a local file with read_text', "SELECT * FROM read_text('/etc/passwd')"],
    ['read a local file with read_parquet', `SELECT * FROM read_parquet('${dataDir}/data.duckdb')`],
    ['read a local file by replacement scan', "SELECT * FROM '/etc/passwd'"],
    ['list files with glob', "SELECT * FROM glob('/etc/*')"],
    [
      'fetch the cloud metadata endpoint',
      "SELECT * FROM read_json('http://169.254.169.254/latest/meta-data/')",
    ],
    ['COPY a table out to a file', `COPY customers TO '${canary}.csv'`],
    ['COPY a query out to the data dir', `COPY (SELECT * FROM customers) TO '${dataDir}/leak.csv'`],
    ['EXPORT DATABASE', `EXPORT DATABASE '${canary}'`],
    ['ATTACH another database file', `ATTACH '${canary}.db' AS evil`],
    ['ATTACH an in-memory database', "ATTACH ':memory:' AS evil"],
    ['INSTALL an extension', 'INSTALL httpfs'],
    ['LOAD an extension', 'LOAD httpfs'],
    ['SET enable_external_access after lock', 'SET enable_external_access = true'],
    ['SET lock_configuration off', 'SET lock_configuration = false'],
    ['SET memory_limit higher', "SET memory_limit = '64GB'"],
    ['RESET a locked option', 'RESET threads'],
    ['stacked DROP after a SELECT', 'SELECT 1; DROP TABLE customers'],
    ['stacked DELETE after a SELECT', 'SELECT 1; DELETE FROM customer_transactions'],
    ['PRAGMA', 'PRAGMA database_size'],
    ['CALL', 'CALL pragma_version()'],
    ['CHECKPOINT', 'CHECKPOINT'],
    ['INSERT', "INSERT INTO customers VALUES (999999, 1, 'north', DATE '2024-01-01')"],
    ['UPDATE', 'UPDATE customers SET segment = 0'],
    ['DELETE', 'DELETE FROM customer_transactions'],
    ['CREATE TABLE', 'CREATE TABLE evil AS SELECT 1'],
    ['DROP TABLE', 'DROP TABLE customers'],
    ['ALTER TABLE', 'ALTER TABLE customers ADD COLUMN evil INTEGER'],
    ['write through query()', "SELECT * FROM query('DROP TABLE customers')"],
    ['transaction control', 'COMMIT'],
    ['DETACH the database', 'DETACH data'],
  ];

  it('when each attack goes through sql_query, then every one is refused and the data is intact', async () => {
    const dataDir = stack.data.config.dataDir;
    const before = await callOk<{ row_count: number }>(stack.client, 'table_schema', {
      table: 'customer_transactions',
    });
    const notRefused: string[] = [];
    for (const [label, sql] of attacks(dataDir)) {
      tally.tried++;
      const r = await callTool(stack.client, 'sql_query', { sql });
      if (r.isError) tally.refused++;
      else notRefused.push(`${label}: ${JSON.stringify(r.structuredContent).slice(0, 200)}`);
    }
    expect(notRefused).toEqual([]);
    const after = await callOk<{ row_count: number }>(stack.client, 'table_schema', {
      table: 'customer_transactions',
    });
    expect(after.row_count).toBe(before.row_count);
    const customers = await callOk<{ row_count: number; columns: unknown[] }>(stack.client, 'table_schema', {
      table: 'customers',
    });
    expect(customers.columns).toHaveLength(4);
    expect(fs.existsSync(`${canary}.csv`)).toBe(false);
    expect(fs.existsSync(`${canary}.db`)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'leak.csv'))).toBe(false);
  });

  it('when refused, then the message says why (statement type or permission)', async () => {
    const drop = await callTool(stack.client, 'sql_query', { sql: 'DROP TABLE customers' });
    expect(errorText(drop)).toMatch(/DROP statement; only SELECT/);
    const stacked = await callTool(stack.client, 'sql_query', { sql: 'SELECT 1; DROP TABLE customers' });
    expect(errorText(stacked)).toMatch(/2 statements/);
    const file = await callTool(stack.client, 'sql_query', { sql: "SELECT * FROM read_csv('/etc/passwd')" });
    expect(errorText(file)).toMatch(/Permission Error/);
  });

  it('when the statement check is skipped, then the locked read-only connection itself refuses each attack', async () => {
    const barrier: Array<[string, string]> = [
      ['read_csv', "SELECT * FROM read_csv('/etc/passwd')"],
      ['read_text', "SELECT * FROM read_text('/etc/passwd')"],
      ['COPY TO outside the export dir', `COPY customers TO '${canary}.csv'`],
      ['ATTACH outside the export dir', `ATTACH '${canary}.db' AS evil`],
      ['INSTALL', 'INSTALL httpfs'],
      ['LOAD', 'LOAD httpfs'],
      ['SET enable_external_access', 'SET enable_external_access = true'],
      ['SET lock_configuration', 'SET lock_configuration = false'],
      ['SET memory_limit', "SET memory_limit = '64GB'"],
      ['SET threads', 'SET threads = 64'],
      ['stacked DROP', 'SELECT 1; DROP TABLE customers'],
      ['INSERT', "INSERT INTO customers VALUES (999999, 1, 'north', DATE '2024-01-01')"],
      ['UPDATE', 'UPDATE customers SET segment = 0'],
      ['DELETE', 'DELETE FROM customer_transactions'],
      ['CREATE TABLE', 'CREATE TABLE evil AS SELECT 1'],
      ['DROP TABLE', 'DROP TABLE customers'],
    ];
    const passed: string[] = [];
    for (const [label, sql] of barrier) {
      tally.tried++;
      try {
        await stack.data.engine.rawOnLockedConnection(sql);
        passed.push(label);
      } catch {
        tally.refused++;
      }
    }
    expect(passed).toEqual([]);
    const n = await callOk<{ row_count: number }>(stack.client, 'table_schema', { table: 'customers' });
    expect(n.row_count).toBeGreaterThan(0);
    expect(fs.existsSync(`${canary}.csv`)).toBe(false);
  });

  it('when run_etl is given forbidden statements or targets, then each is refused and nothing changes', async () => {
    const forbidden: Array<[string, string[]]> = [
      ['ATTACH', [`ATTACH '${canary}.db' AS evil`]],
      ['COPY', [`COPY customers TO '${canary}.csv'`]],
      ['INSTALL', ['INSTALL httpfs']],
      ['LOAD', ['LOAD httpfs']],
      ['SET', ["SET memory_limit = '64GB'"]],
      ['PRAGMA', ['PRAGMA database_size']],
      ['CALL', ['CALL pragma_version()']],
      ['transaction control', ['COMMIT']],
      ['comment-hidden COPY', [`/* etl */ -- step\n COPY customers TO '${canary}.csv'`]],
      ['DROP a main table', ['DROP TABLE customers']],
      ['DROP a qualified main table', ['DROP TABLE main.customers']],
      ['INSERT into a main table', ["INSERT INTO customers VALUES (999999, 1, 'north', DATE '2024-01-01')"]],
      ['UPDATE a main table', ['UPDATE main.customers SET segment = 0']],
      ['DELETE from a main table', ['DELETE FROM main.customer_transactions']],
      ['CREATE in main', ['CREATE TABLE main.evil AS SELECT 1']],
      ['CREATE a new schema', ['CREATE SCHEMA evil']],
      ['DROP the main schema', ['DROP SCHEMA main CASCADE']],
      [
        'move a table out of etl',
        ['CREATE TABLE etl.mover AS SELECT 1 AS x', 'ALTER TABLE etl.mover SET SCHEMA main'],
      ],
      ['CTE-led write', ['WITH x AS (SELECT 1) INSERT INTO customers SELECT * FROM customers LIMIT 0']],
      ['stacked statements in one item', ['CREATE TABLE etl.ok AS SELECT 1; DROP TABLE customers']],
      ['file read in a CTAS', ["CREATE TABLE etl.passwd AS SELECT * FROM read_csv('/etc/passwd')"]],
      ['write after a good statement', ['CREATE TABLE etl.first AS SELECT 1 AS x', 'DELETE FROM customers']],
    ];
    const before = await callOk<{ row_count: number }>(stack.client, 'table_schema', { table: 'customers' });
    const notRefused: string[] = [];
    for (const [label, statements] of forbidden) {
      tally.tried++;
      const r = await callTool(stack.client, 'run_etl', { statements });
      if (r.isError) tally.refused++;
      else notRefused.push(label);
    }
    expect(notRefused).toEqual([]);
    const after = await callOk<{ row_count: number }>(stack.client, 'table_schema', { table: 'customers' });
    expect(after.row_count).toBe(before.row_count);
    for (const t of ['etl.first', 'etl.mover', 'etl.ok', 'main.evil']) {
      const r = await callTool(stack.client, 'table_schema', { table: t });
      expect(r.isError).toBe(true);
    }
    expect(fs.existsSync(`${canary}.csv`)).toBe(false);
  });
});
