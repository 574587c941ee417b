/**
 * The orchestrator (workflow) worker as its own process for the chaos suite, so it can be SIGKILLed
 * like any worker. Same as `src/workers/main.ts --group orchestrator`, but loads the prebuilt workflow
 * bundle named by MCP_CHAOS_WORKFLOW_BUNDLE (bundling in every restarted process costs seconds).
 */
import fs from 'node:fs';
import { NativeConnection } from '@temporalio/worker';
import { createOrchestratorWorker } from '../../src/workers/orchestrator-worker';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const bundle = process.env.MCP_CHAOS_WORKFLOW_BUNDLE;
  if (!address || !bundle) throw new Error('TEMPORAL_ADDRESS and MCP_CHAOS_WORKFLOW_BUNDLE must be set');
  const connection = await NativeConnection.connect({ address });
  try {
    const worker = await createOrchestratorWorker({
      connection,
      namespace: 'default',
      taskQueuePrefix: process.env.MCP_TASK_QUEUE_PREFIX,
      workflowBundle: { code: fs.readFileSync(bundle, 'utf8') },
      shutdownGraceTime: '2s',
    });
    process.stderr.write('chaos orchestrator worker ready\n');
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`orchestrator worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
