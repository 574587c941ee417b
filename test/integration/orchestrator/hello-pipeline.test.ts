import fs from 'node:fs';
import path from 'node:path';
import { startTestStack, type TestStack } from '../../harness/test-stack';
import { temporal } from '@temporalio/proto';
import { activityEvents } from './helpers';
import type { RunReport } from '../../../src/shared/run-types';
import { connectMcp, callOk } from '../../harness/mcp-client';

jest.setTimeout(180_000);

describe('hello pipeline on a real Temporal dev server', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data', 'storage'] });
  });
  afterAll(async () => stack?.close());

  it('when the hello DAG runs, then every step completes once on its group task queue and results travel by reference', async () => {
    const yaml = fs.readFileSync(path.join(__dirname, '../../../pipelines/hello.yaml'), 'utf8');
    const plan = stack.plan(yaml, { since: '2025-01-01' });
    const handle = await stack.start(plan, 'hello-it');
    const report = (await handle.result()) as RunReport;

    expect(report.status).toBe('completed');
    expect(Object.values(report.steps).map((s) => s.status)).toEqual(Array(6).fill('done'));
    const extract = report.results.extract as { uri: string; row_count: number; bytes: number };
    expect(extract.uri).toBe('storage://hello/hello-it/transactions.parquet');
    expect(extract.row_count).toBeGreaterThan(0);
    // The storage server holds the Parquet bytes; the workflow only saw the reference.
    expect(report.steps.extract!.resultBytes).toBeLessThan(2000);
    const listed = report.results.inventory as { items: Array<{ key: string }> };
    expect(listed.items.map((i) => i.key).sort()).toEqual(['hello/hello-it/revenue_by_category.parquet', 'hello/hello-it/transactions.parquet']);

    // As soon as ready: the three branches after `schema` started together, before any of them ended.
    const s = report.steps;
    const branchStarts = ['extract', 'revenue_by_category', 'top_customers'].map((id) => s[id]!.startedAt!);
    const firstBranchEnd = Math.min(...['extract', 'revenue_by_category', 'top_customers'].map((id) => s[id]!.endedAt!));
    expect(Math.max(...branchStarts)).toBeLessThanOrEqual(firstBranchEnd);

    // History: one scheduled and one completed activity per step, each on its group's task queue, with a server/tool summary.
    const { scheduled, completed } = await activityEvents(handle);
    expect(scheduled).toHaveLength(6);
    expect(completed).toHaveLength(6);
    const queues = scheduled.map((e) => e.activityTaskScheduledEventAttributes!.taskQueue!.name);
    expect(queues.filter((q) => q === `${stack.prefix}mcp-data`)).toHaveLength(4);
    expect(queues.filter((q) => q === `${stack.prefix}mcp-storage`)).toHaveLength(2);
    const summaries = await Promise.all(
      scheduled.map(async (e) => {
        const payload = e.userMetadata?.summary;
        return payload ? String(stack.client.options.loadedDataConverter.payloadConverter.fromPayload(payload)) : '';
      }),
    );
    expect(summaries).toContain('data/table_schema — columns and row count of the source table');
    expect(summaries.filter((x) => x.startsWith('storage/'))).toHaveLength(2);

    // The replay test replays this history; refresh it with RECORD_HISTORY=1.
    if (process.env.RECORD_HISTORY) {
      const { history } = await activityEvents(handle);
      fs.writeFileSync(path.join(__dirname, '../../fixtures/histories/hello.json'), JSON.stringify(temporal.api.history.v1.History.fromObject(history).toJSON()));
    }
  });

  it('when a step runs SQL the server rejects, then it fails at once without retries and the run reports it', async () => {
    const plan = stack.plan(`
name: bad-sql
steps:
  ok: { server: data, tool: table_schema, args: { table: customer_transactions } }
  broken:
    server: data
    tool: sql_query
    needs: [ok]
    args: { sql: "SELEC nothing FROM nowhere" }
    retry: { maximumAttempts: 5, initialInterval: 100ms }
`);
    const handle = await stack.start(plan);
    await expect(handle.result()).rejects.toThrow(/Workflow execution failed/);
    const { started, failed } = await activityEvents(handle);
    expect(failed).toHaveLength(1);
    // Two activities started in all: `ok`, and `broken` exactly once (attempt 1, no retry storm).
    expect(started).toHaveLength(2);
    expect(started[1]!.activityTaskStartedEventAttributes!.attempt).toBe(1);
    const failure = failed[0]!.activityTaskFailedEventAttributes!.failure!;
    expect(failure.applicationFailureInfo?.type).toBe('McpToolError');
    expect(failure.applicationFailureInfo?.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/data\/sql_query: .*(syntax|SELEC)/i);

    const desc = await handle.describe();
    expect(desc.status.name).toBe('FAILED');
  });

  it('when the workflow is queried, then the data server still answers MCP directly (servers are products of their own)', async () => {
    const client = await connectMcp(stack.urls.data!);
    try {
      const schema = await callOk<{ columns: unknown[] }>(client, 'table_schema', { table: 'customer_transactions' });
      expect(schema.columns.length).toBeGreaterThan(3);
    } finally {
      await client.close();
    }
  });
});
