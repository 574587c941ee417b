import { startTestStack, type TestStack } from '../../harness/test-stack';
import { activityEvents, SLOW_SQL, waitForProgress } from './helpers';
import { connectMcp, callOk } from '../../harness/mcp-client';

jest.setTimeout(240_000);

describe('durability: a group worker dies mid-step', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data', 'storage'] });
  });
  afterAll(async () => stack?.close());

  it('when the data worker is SIGKILLed during a tool call and restarted, then the run completes and every step completed once', async () => {
    const plan = stack.plan(`
name: kill-worker
defaults:
  timeouts: { startToClose: 2m, heartbeat: 4s }
  retry: { initialInterval: 200ms }
steps:
  export_before:
    server: data
    tool: sql_query
    args: { sql: "SELECT 1 AS x", output: parquet, object_key: "durability/\${workflow.id}/before.parquet" }
  slow:
    server: data
    tool: sql_query
    needs: [export_before]
    args: { sql: "${SLOW_SQL}", timeout_ms: 120000 }
  export_after:
    server: data
    tool: sql_query
    needs: [slow]
    args: { sql: "SELECT 2 AS x", output: parquet, object_key: "durability/\${workflow.id}/after.parquet" }
  list:
    server: storage
    tool: list_files
    needs: [export_after]
    args: { prefix: "durability/\${workflow.id}/" }
`);
    const handle = await stack.start(plan, 'kill-worker-it');
    await waitForProgress(handle, (p) => p.steps.slow!.status === 'running');
    // Let the activity reach the worker and the MCP call reach the server, then kill the worker hard.
    await new Promise((r) => setTimeout(r, 1000));
    await stack.killWorker('data', 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    await stack.startWorker('data');

    const report = await handle.result();
    expect(report.status).toBe('completed');
    const { scheduled, completed, started } = await activityEvents(handle);
    expect(scheduled).toHaveLength(4);
    // Each scheduled activity completed exactly once.
    const completedIds = completed.map((e) => String(e.activityTaskCompletedEventAttributes!.scheduledEventId));
    expect(new Set(completedIds).size).toBe(4);
    expect(completedIds).toHaveLength(4);
    // The killed call was retried on the new worker (attempt 2 or later).
    expect(report.steps.slow!.attempts).toBeGreaterThanOrEqual(2);
    expect(started.length).toBe(4);

    // Side effects happened once: one version of each exported object.
    const client = await connectMcp(stack.urls.storage!);
    try {
      const listed = await callOk<{ items: Array<{ key: string; versions: number }> }>(client, 'list_files', { prefix: 'durability/kill-worker-it/' });
      expect(listed.items.map((i) => [i.key, i.versions])).toEqual([
        ['durability/kill-worker-it/after.parquet', 1],
        ['durability/kill-worker-it/before.parquet', 1],
      ]);
    } finally {
      await client.close();
    }
  });
});
