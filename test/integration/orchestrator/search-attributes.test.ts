import crypto from 'node:crypto';
import { PIPELINE_WORKFLOW, orchestratorQueue } from '../../../src/shared/constants';
import { runSearchAttributes } from '../../../src/client/search-attributes';
import { SEARCH_ATTRIBUTES } from '../../../src/shared/search-attributes';
import type { Plan } from '../../../src/shared/plan';
import { startTestStack, type TestStack } from '../../harness/test-stack';

jest.setTimeout(120_000);

const PIPELINE = (name: string, sql: string) => `
name: ${name}
steps:
  only:
    server: data
    tool: sql_query
    args: { sql: "${sql}" }
    retry: { maximumAttempts: 1 }
`;

/** Visibility is eventually consistent: poll the list query until it sees the run. */
async function listIds(stack: TestStack, query: string, want: string): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  let ids: string[] = [];
  while (Date.now() < deadline) {
    ids = [];
    for await (const w of stack.client.workflow.list({ query })) ids.push(w.workflowId);
    if (ids.includes(want)) return ids;
    await new Promise((r) => setTimeout(r, 300));
  }
  return ids;
}

describe('search attributes in Temporal visibility', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data'] });
  });
  afterAll(async () => stack?.close());

  async function run(plan: Plan): Promise<string> {
    const workflowId = `${plan.name}-${crypto.randomBytes(4).toString('hex')}`;
    const attrs = await runSearchAttributes(stack.client, 'default', plan.name);
    expect(attrs).toBeDefined(); // the stack's dev server registers them at start
    const handle = await stack.client.workflow.start(PIPELINE_WORKFLOW, {
      taskQueue: orchestratorQueue(stack.prefix),
      workflowId,
      args: [{ plan, taskQueuePrefix: stack.prefix }],
      typedSearchAttributes: attrs,
    });
    await handle.result().catch(() => undefined);
    return workflowId;
  }

  it('when runs end, then Web UI queries find them by pipeline name and outcome', async () => {
    const name = `sa${crypto.randomBytes(3).toString('hex')}`;
    const ok = await run(stack.plan(PIPELINE(name, 'SELECT 1 AS one')));
    const bad = await run(stack.plan(PIPELINE(name, 'SELECT * FROM no_such_table')));

    expect(await listIds(stack, `McpPipeline = '${name}' AND McpOutcome = 'completed'`, ok)).toEqual([ok]);
    expect(await listIds(stack, `McpPipeline = '${name}' AND McpOutcome = 'failed'`, bad)).toEqual([bad]);
    const desc = await stack.client.workflow.getHandle(ok).describe();
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.pipeline)).toBe(name);
  });

  it('when a run starts without our attributes, then it still completes and records no outcome', async () => {
    const plan = stack.plan(PIPELINE(`plain${crypto.randomBytes(3).toString('hex')}`, 'SELECT 1 AS one'));
    const handle = await stack.start(plan);
    await expect(handle.result()).resolves.toMatchObject({ status: 'completed' });
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(SEARCH_ATTRIBUTES.outcome)).toBeUndefined();
  });
});
