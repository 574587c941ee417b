import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { workflowsPath } from '../../../src/workers/orchestrator-worker';

jest.setTimeout(120_000);

/**
 * Replays recorded histories against today's workflow code. A change that would make a running
 * workflow take a different path (non-determinism) fails here, before it can break runs in production.
 * Histories are recorded by the hello-pipeline integration test with RECORD_HISTORY=1.
 */
describe('workflow replay', () => {
  const dir = path.join(__dirname, '../../fixtures/histories');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('when recorded histories exist, then there is at least one', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('when %s is replayed with the current workflow code, then it is deterministic', async (file) => {
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    await expect(Worker.runReplayHistory({ workflowsPath, replayName: file }, history)).resolves.toBeUndefined();
  });
});
