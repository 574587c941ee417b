import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { devServerArgs, freePort, temporalCliPath } from '../../src/client/stack/temporal-dev-server';
import { waitFor } from '../../src/client/stack/processes';
import { bundleWorkflows } from '../../src/workers/orchestrator-worker';

/**
 * Starts ONE real Temporal dev server (the Temporal CLI, never an imitation) for the integration
 * suite, on free ports with a throw-away SQLite DB, and publishes its address through the environment.
 */
export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-it-'));
  const port = await freePort();
  const uiPort = await freePort();
  const bin = temporalCliPath();
  const log = fs.openSync(path.join(dir, 'temporal.log'), 'a');
  const child = spawn(bin, devServerArgs({ dbFile: path.join(dir, 'temporal.db'), port, uiPort }), { stdio: ['ignore', log, log], detached: true });
  const address = `127.0.0.1:${port}`;
  await waitFor(`Temporal dev server at ${address} (log ${dir}/temporal.log)`, async () => {
    const c = await Connection.connect({ address, connectTimeout: 1000 });
    try {
      await c.workflowService.getSystemInfo({});
      return true;
    } finally {
      await c.close();
    }
  }, 60_000, 250);
  process.env.TEMPORAL_ADDRESS = address;
  process.env.TEMPORAL_NAMESPACE = 'default';
  process.env.MCP_IT_TEMPORAL_UI_PORT = String(uiPort);
  process.env.MCP_IT_TEMPORAL_PID = String(child.pid);
  process.env.MCP_IT_DIR = dir;
  process.env.MCP_IT_TEMPORAL_BIN = bin;
  // Bundle the workflow code once for every test file (webpack takes seconds on a small machine).
  const { code } = await bundleWorkflows();
  const bundle = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundle, code);
  process.env.MCP_IT_WORKFLOW_BUNDLE = bundle;
}
