import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { PIPELINE_WORKFLOW, orchestratorQueue } from '../../../src/shared/constants';
import { startTestStack, type TestStack } from '../../harness/test-stack';
import { activityEvents, progressOf, SLOW_SQL, waitForProgress } from './helpers';
import { connectMcp, callOk } from '../../harness/mcp-client';

jest.setTimeout(240_000);

const chain = `
name: chain
steps:
  first: { server: data, tool: sql_query, args: { sql: "${SLOW_SQL}", timeout_ms: 120000 } }
  second: { server: data, tool: table_schema, args: { table: customer_transactions }, needs: [first] }
  third: { server: storage, tool: list_files, args: { prefix: "nothing/" }, needs: [second] }
`;

describe('operator control: pause, resume, cancel', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data', 'storage'] });
  });
  afterAll(async () => stack?.close());

  it('when a run is paused, then no new step starts until it is resumed, and then it completes', async () => {
    const plan = stack.plan(chain);
    const handle = await stack.start(plan, 'pause-it');
    await waitForProgress(handle, (p) => p.steps.first!.status === 'running');
    await handle.signal('pause');
    await waitForProgress(handle, (p) => p.steps.first!.status === 'done');
    // Paused: `second` is ready but must not start.
    await new Promise((r) => setTimeout(r, 2500));
    const paused = await progressOf(handle);
    expect(paused.status).toBe('paused');
    expect(paused.steps.second!.status).toBe('waiting');
    expect((await activityEvents(handle)).scheduled).toHaveLength(1);

    await handle.signal('resume');
    const report = await handle.result();
    expect(report.status).toBe('completed');
    expect((await activityEvents(handle)).scheduled).toHaveLength(3);
  });

  it('when a run starts paused (signal with start), then nothing is scheduled until resume', async () => {
    const plan = stack.plan(`
name: starts-paused
steps:
  only: { server: data, tool: table_schema, args: { table: customer_transactions } }
`);
    const handle = await stack.client.workflow.signalWithStart(PIPELINE_WORKFLOW, {
      taskQueue: orchestratorQueue(stack.prefix),
      workflowId: 'starts-paused-it',
      args: [{ plan, taskQueuePrefix: stack.prefix }],
      signal: 'pause',
      signalArgs: [],
    });
    await new Promise((r) => setTimeout(r, 2000));
    expect((await progressOf(handle)).steps.only!.status).toBe('waiting');
    expect((await activityEvents(handle)).scheduled).toHaveLength(0);
    await handle.signal('resume');
    expect((await handle.result()).status).toBe('completed');
  });

  it('when a run is cancelled mid-step, then it ends cancelled and completed steps are compensated', async () => {
    const plan = stack.plan(`
name: cancel-me
steps:
  keep:
    server: data
    tool: sql_query
    args: { sql: "SELECT 42 AS answer", output: parquet, object_key: "cancel/\${workflow.id}/keep.parquet" }
    compensate: { server: storage, tool: delete_file, args: { key: "\${steps.keep.result.uri}" } }
  slow: { server: data, tool: sql_query, needs: [keep], args: { sql: "${SLOW_SQL}", timeout_ms: 120000 }, timeouts: { heartbeat: 10s } }
  never: { server: storage, tool: list_files, needs: [slow], args: { prefix: "x/" } }
`);
    const handle = await stack.start(plan, 'cancel-it');
    await waitForProgress(handle, (p) => p.steps.slow!.status === 'running');
    await handle.cancel();
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');

    const p = await progressOf(handle);
    expect(p.status).toBe('cancelled');
    expect(p.steps.keep!.status).toBe('compensated');
    expect(p.steps.slow!.status).toBe('cancelled');
    expect(p.steps.never!.status).toBe('skipped');
    const client = await connectMcp(stack.urls.storage!);
    try {
      const listed = await callOk<{ items: unknown[] }>(client, 'list_files', { prefix: 'cancel/cancel-it/' });
      expect(listed.items).toHaveLength(0);
    } finally {
      await client.close();
    }
  });
});
