import { WorkflowFailedError } from '@temporalio/client';
import { startTestStack, type TestStack } from '../../harness/test-stack';
import type { RunReport } from '../../../src/shared/run-types';
import { waitForProgress } from './helpers';

jest.setTimeout(180_000);

/** A wait step ends on a matching signal or on a status check, whichever comes first. */
describe('wait steps: signal with status polling as the fallback', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data', 'storage'] });
  });
  afterAll(async () => stack?.close());

  const spec = (status: string, extra = '') => `
name: wait-demo
steps:
  start: { server: data, tool: sql_query, args: { sql: "SELECT 'job-7' AS job_id" } }
  wait_done:
    wait:
      signal: trainingCompleted
      match: { body.data.job_id: "\${steps.start.result.rows.0.job_id}" }
      timeout: 60s
      poll:
        server: data
        tool: sql_query
        args: { sql: "SELECT '${status}' AS status, '\${steps.start.result.rows.0.job_id}' AS job_id" }
        every: 2s
        until: { path: rows.0.status, in: [succeeded, failed] }
      failWhen: { path: rows.0.status, in: [failed] }
${extra}
  after: { server: data, tool: sql_query, needs: [wait_done], args: { sql: "SELECT 1 AS ok" } }
`;

  it('when the matching signal arrives, then the wait ends at once through the signal; a non-matching one is ignored', async () => {
    const handle = await stack.start(stack.plan(spec('running')), 'wait-signal-it');
    await waitForProgress(handle, (p) => p.steps.wait_done!.status === 'running');
    await handle.signal('trainingCompleted', { body: { data: { job_id: 'someone-else' } } });
    await new Promise((r) => setTimeout(r, 2500));
    expect((await handle.query<{ steps: Record<string, { status: string }> }>('progress')).steps.wait_done!.status).toBe('running');
    await handle.signal('trainingCompleted', { body: { data: { job_id: 'job-7', status: 'succeeded' } } });
    const report = (await handle.result()) as RunReport;
    const outcome = report.results.wait_done as { via: string; polls: number; signal: unknown };
    expect(outcome.via).toBe('signal');
    expect(outcome.signal).toEqual({ body: { data: { job_id: 'job-7', status: 'succeeded' } } });
    expect(outcome.polls).toBeGreaterThanOrEqual(2); // status checks while waiting + the final one
    expect(report.steps.after!.status).toBe('done');
  });

  it('when the signal never comes, then a status check ends the wait (a lost webhook does not hang the run)', async () => {
    const report = await stack.run(stack.plan(spec('succeeded')), 'wait-poll-it');
    const outcome = report.results.wait_done as { via: string; result: { rows: Array<{ status: string }> } };
    expect(outcome.via).toBe('poll');
    expect(outcome.result.rows[0]!.status).toBe('succeeded');
    expect(report.status).toBe('completed');
  });

  it('when the final status says failed, then the step fails with that reason', async () => {
    const err = await stack.run(stack.plan(spec('failed')), 'wait-failed-it').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toContain("step 'wait_done' failed (McpToolError): waited for 'trainingCompleted': rows.0.status is \"failed\"");
  });

  it('when nothing arrives before the timeout, then the step fails with WaitTimedOut', async () => {
    const plan = stack.plan(`
name: wait-timeout
steps:
  w: { wait: { signal: neverComes, timeout: 2s } }
`);
    const err = await stack.run(plan, 'wait-timeout-it').catch((e: unknown) => e);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/\(WaitTimedOut\): no 'neverComes' signal within 2 s/);
  });
});
