import fs from 'node:fs';
import path from 'node:path';
import { startTestStack, type TestStack } from '../../harness/test-stack';
import type { RunReport } from '../../../src/shared/run-types';

/**
 * Workers authenticate with their own group clients, and the tokens stay in the pool's fetch headers:
 * a full run with auth on leaves no JWT and no client secret in the workflow history.
 * Needs the Temporal dev server of the integration project's global setup.
 */

jest.setTimeout(180_000);

const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/;

describe('auth in the orchestrated stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data', 'storage'], seedRows: 2000 });
  });
  afterAll(async () => stack?.close());

  it('when the servers require JWTs, then a request without one is refused with 401', async () => {
    for (const url of Object.values(stack.serverUrls)) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
    }
  });

  it('when a pipeline runs across data and storage, then workers authenticate and the history holds no token or secret', async () => {
    const plan = stack.plan(`
name: auth-run
steps:
  schema: { server: data, tool: table_schema, args: { table: customer_transactions } }
  extract:
    server: data
    tool: sql_query
    needs: [schema]
    args:
      sql: SELECT customer_id, amount FROM customer_transactions LIMIT 50
      output: parquet
      object_key: auth/\${workflow.id}/rows.parquet
  inventory: { server: storage, tool: list_files, needs: [extract], args: { prefix: "auth/" } }
`);
    const handle = await stack.start(plan);
    const report = (await handle.result()) as RunReport;
    expect(report.status).toBe('completed');
    expect(Object.values(report.steps).map((s) => s.status)).toEqual(['done', 'done', 'done']);

    const history = JSON.stringify(await handle.fetchHistory());
    const secrets = (
      JSON.parse(fs.readFileSync(stack.credentialsFile, 'utf8')) as { clients: { clientSecret: string }[] }
    ).clients.map((c) => c.clientSecret);
    expect(history).not.toMatch(JWT_SHAPE);
    expect(history.toLowerCase()).not.toContain('bearer');
    for (const s of secrets) expect(history).not.toContain(s);
    // The workers' logs name their group and never print a token either.
    for (const g of ['data', 'storage']) {
      const log = fs.readFileSync(path.join(stack.dir, `worker-${g}.log`), 'utf8');
      expect(log).not.toMatch(JWT_SHAPE);
    }
    console.log(`history of ${history.length} bytes checked: 0 tokens, 0 of ${secrets.length} client secrets`);
  });
});
