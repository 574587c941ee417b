import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { workflowInterceptorsPath, workflowsPath } from '../../../src/workers/orchestrator-worker';
import { workflowTracingSinks } from '../../../src/observability/tracing/temporal';

jest.setTimeout(120_000);

/**
 * Turning tracing on must not break runs already in flight: histories recorded without the
 * OpenTelemetry workflow interceptors replay deterministically with them.
 */
describe('workflow replay with the tracing interceptors', () => {
  const dir = path.join(__dirname, '../../fixtures/histories');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

  it.each(files)('when %s is replayed with the interceptors bundled, then it is deterministic', async (file) => {
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    await expect(
      Worker.runReplayHistory(
        { workflowsPath, interceptors: { workflowModules: [workflowInterceptorsPath] }, sinks: workflowTracingSinks(undefined) },
        history,
      ),
    ).resolves.toBeUndefined();
  });
});
