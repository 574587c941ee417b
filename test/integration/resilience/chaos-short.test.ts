import crypto from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { orchestratorQueue, PIPELINE_WORKFLOW } from '../../../src/shared/constants';
import { planPipeline } from '../../../src/shared/plan';
import type { RunReport } from '../../../src/shared/run-types';
import { parsePipelineSpec } from '../../../src/shared/spec-parse';
import { createGroupWorker } from '../../../src/workers/group-worker';
import { testOrchestratorWorker } from '../../harness/test-stack';
import { registryFor, startTestServer } from './fixture';

jest.setTimeout(180_000);

/**
 * The short chaos run inside `make test` (the long one is `npm run chaos`): tool calls through the real
 * orchestrator on the real Temporal dev server while the server answers 5 % of them with HTTP 503.
 */
describe('chaos (short): 5 % transient faults', () => {
  it('when 300 tool calls meet 5 % injected 503s, then every run completes and every call succeeds after retries', async () => {
    const address = process.env.TEMPORAL_ADDRESS!;
    const server = await startTestServer('chaos', { faults: { failRate: 0.05, latencyMs: 0, hangRate: 0 } });
    const registry = registryFor([{ url: server.server.mcpUrl }], { rate_limit_per_minute: 0 });
    const prefix = `chaos${crypto.randomBytes(3).toString('hex')}-`;
    const native = await NativeConnection.connect({ address });
    const connection = await Connection.connect({ address });
    const { worker, pool } = await createGroupWorker({ connection: native, namespace: 'default', group: 't', registry, taskQueuePrefix: prefix, maxConcurrentActivities: 100 });
    const orchestrator = await testOrchestratorWorker(native, prefix);
    const running = [worker.run(), orchestrator.run()];
    try {
      const client = new Client({ connection });
      const width = 100;
      const spec = `name: chaos\ndefaults: { retry: { maximumAttempts: 10, initialInterval: 100ms, maximumInterval: 2s } }\nsteps:\n${Array.from({ length: width }, (_, i) => `  s${i}: { server: t, tool: echo, args: { n: ${i} } }`).join('\n')}\n`;
      const plan = planPipeline(parsePipelineSpec(spec));
      const reports = await Promise.all(
        [0, 1, 2].map(async (r) => {
          const h = await client.workflow.start(PIPELINE_WORKFLOW, { taskQueue: orchestratorQueue(prefix), workflowId: `chaos-short-${r}-${prefix}`, args: [{ plan, taskQueuePrefix: prefix }] });
          return (await h.result()) as RunReport;
        }),
      );
      const steps = reports.flatMap((r) => Object.values(r.steps));
      const succeeded = steps.filter((s) => s.status === 'done').length;
      const retried = steps.reduce((a, s) => a + Math.max(0, (s.attempts ?? 1) - 1), 0);
      const injected = server.server.faults!.counters.failed;
      process.stderr.write(`chaos (short): runs 3, tool calls ${steps.length}, faults injected ${injected}, runs completed ${reports.filter((r) => r.status === 'completed').length}, calls succeeded ${succeeded}, retries ${retried}\n`);
      expect(reports.every((r) => r.status === 'completed')).toBe(true);
      expect(succeeded).toBe(3 * width);
      // Every injected fault cost exactly one retry: none was lost, none spread to other calls.
      expect(retried).toBe(injected);
      // The server ran each call's tool once it got through: one successful echo per step.
      expect(server.log.calls.echo).toBe(3 * width);
    } finally {
      worker.shutdown();
      orchestrator.shutdown();
      await Promise.allSettled(running);
      await pool.close();
      await native.close();
      await connection.close();
      await server.close();
    }
  });
});
