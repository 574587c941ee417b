import fs from 'node:fs';
import path from 'node:path';
import { PACK_PLAN_STEPS } from '../../../src/shared/plan';
import type { RunReport } from '../../../src/shared/run-types';
import { startTestStack, type TestStack } from '../../harness/test-stack';
import { cli, EventType } from './helpers';

jest.setTimeout(180_000);

/**
 * `mcp-orch run` with a plan larger than a workflow input may carry as is: a 10,000-step Plan is
 * 3.4 MB, over Temporal's 2 MB payload limit, so the CLI sends it packed. Here just past the packing
 * threshold, to keep the test short; the unit tests check the sizes at 10,000 steps.
 */
describe('mcp-orch run: a large pipeline', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data'] });
  });
  afterAll(async () => stack?.close());

  it('when the plan is past the packing threshold, then the CLI starts it packed and it completes', async () => {
    const n = PACK_PLAN_STEPS + 10;
    const lines = Array.from({ length: n }, (_, i) => `  s${i}: { server: data, tool: server_info${i >= 10 ? `, needs: [s${i % 10}]` : ''} }`);
    const file = path.join(stack.dir, 'large.yaml');
    fs.writeFileSync(file, `name: large\nsteps:\n${lines.join('\n')}\n`);
    const env: NodeJS.ProcessEnv = {
      MCP_TASK_QUEUE_PREFIX: stack.prefix,
      MCP_AUTH: 'jwt',
      MCP_AUTH_ISSUER: stack.issuer,
      MCP_CLIENT_CREDENTIALS_FILE: stack.credentialsFile,
      MCP_DATA_ENDPOINTS: stack.serverUrls.data,
    };
    const r = await cli(['run', file, '--detach', '--json'], env);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const { workflowId } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { workflowId: string };
    const handle = stack.client.workflow.getHandle(workflowId);
    const report = (await handle.result()) as RunReport;
    expect(report.status).toBe('completed');
    expect(report.completionOrder).toHaveLength(n);

    const history = await handle.fetchHistory();
    const started = history.events!.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)!;
    const payload = started.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    const input = JSON.parse(Buffer.from(payload.data!).toString('utf8')) as { plan: { packed?: number } };
    expect(input.plan.packed).toBe(1);
  });
});
