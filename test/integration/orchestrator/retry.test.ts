import { type Client } from '@temporalio/client';
import { prepareRetry } from '../../../src/client/retry';
import { PIPELINE_WORKFLOW, orchestratorQueue } from '../../../src/shared/constants';
import type { RunReport } from '../../../src/shared/run-types';
import { callOk, connectMcp } from '../../harness/mcp-client';
import { startTestStack, type TestStack } from '../../harness/test-stack';

jest.setTimeout(180_000);

describe('mcp-orch retry: a failed run continues from the failed step', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data', 'storage'] });
  });
  afterAll(async () => stack?.close());

  it('when a step failed and its cause is fixed, then the retry completes without re-running the completed steps', async () => {
    const plan = stack.plan(`
name: retry-me
onFailure: keep
steps:
  export: { server: data, tool: sql_query, args: { sql: "SELECT 42 AS answer", output: parquet, object_key: "retry/export.parquet" } }
  gate: { server: data, tool: sql_query, needs: [export], args: { sql: "SELECT count(*) AS n FROM etl.retry_gate" } }
  list: { server: storage, tool: list_files, needs: [gate], args: { prefix: "retry/" } }
`);
    const first = await stack.start(plan, 'retry-it');
    await expect(first.result()).rejects.toThrow();

    // Fix the cause: the table the failed step reads now exists.
    const data = await connectMcp(stack.urls.data!);
    const storage = await connectMcp(stack.urls.storage!);
    try {
      await callOk(data, 'run_etl', { statements: ['CREATE SCHEMA IF NOT EXISTS etl', 'CREATE TABLE etl.retry_gate AS SELECT 1 AS x'] });

      const prepared = await prepareRetry(stack.client as Client, 'retry-it');
      expect(prepared.reused).toEqual(['export']);
      expect(prepared.status).toBe('FAILED');
      const handle = await stack.client.workflow.start(PIPELINE_WORKFLOW, {
        taskQueue: orchestratorQueue(stack.prefix),
        workflowId: 'retry-it-retry',
        args: [prepared.input],
      });
      const report = (await handle.result()) as RunReport;
      expect(report.status).toBe('completed');
      expect(report.steps.export!.reusedFrom).toBe('retry-it');
      expect(report.steps.gate!.status).toBe('done');

      // The storage server's own record: the export was written once, by the first run only.
      const listed = await callOk<{ items: Array<{ key: string; versions: number }> }>(storage, 'list_files', { prefix: 'retry/' });
      expect(listed.items).toEqual([expect.objectContaining({ key: 'retry/export.parquet', versions: 1 })]);
    } finally {
      await data.close();
      await storage.close();
    }
  });
});
