import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { RunProgress } from '../../../src/shared/run-types';

export const EventType = temporal.api.enums.v1.EventType;

/** Activity events of a run, read from its real Temporal history. */
export async function activityEvents(handle: WorkflowHandle) {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  const started = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
  const completed = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  const failed = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED);
  return { history, events, scheduled, started, completed, failed };
}

export async function progressOf(handle: WorkflowHandle): Promise<RunProgress> {
  return handle.query<RunProgress>('progress');
}

/** Polls the progress query until `pred` holds. */
export async function waitForProgress(handle: WorkflowHandle, pred: (p: RunProgress) => boolean, timeoutMs = 60_000): Promise<RunProgress> {
  const deadline = Date.now() + timeoutMs;
  let last: RunProgress | undefined;
  while (Date.now() < deadline) {
    try {
      last = await progressOf(handle);
      if (pred(last)) return last;
    } catch {
      // the first workflow task may not have run yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`progress condition not met in ${timeoutMs} ms; last: ${JSON.stringify(last && Object.values(last.steps).map((s) => [s.id, s.status]))}`);
}

/** A query slow enough to kill a worker in the middle of it (seconds of DuckDB work, no I/O). */
export const SLOW_SQL = 'SELECT sum(hash(i) % 7) AS h FROM range(0, 120000000) t(i)';

const execFileP = promisify(execFile);
const ROOT = path.join(__dirname, '../../..');

/** Runs the real CLI (from source) as a user would and returns its exit code and output. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/client/cli.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
