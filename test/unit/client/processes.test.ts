import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { logTail, ProcessExitedError, waitFor } from '../../../src/client/stack/processes';

describe('waiting on stack processes', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'processes-test-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('when the awaited process has exited, then waitFor gives up at once and the error carries the end of its log', async () => {
    const log = path.join(dir, 'server-storage.log');
    fs.writeFileSync(log, `${'{"msg":"starting"}\n'.repeat(40)}{"level":"error","err":"listen EADDRINUSE: address already in use 127.0.0.1:41127","msg":"failed to start"}\n`);
    const started = Date.now();
    let calls = 0;
    const err = (await waitFor('storage server', async () => {
      calls++;
      throw new ProcessExitedError('the storage server', log);
    }, 60_000, 10).catch((e: unknown) => e)) as Error;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(calls).toBe(1);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain('gave up waiting for storage server');
    expect(err.message).toContain(`the storage server exited; see ${log}`);
    expect(err.message).toContain('EADDRINUSE');
    // Only the tail: 12 lines, not the 41 of the file.
    expect(err.message.split('\n').filter((l) => l.includes('"starting"'))).toHaveLength(11);
  });

  it('when checks fail with other errors, then waitFor keeps polling and reports the last one at the timeout', async () => {
    let calls = 0;
    const err = (await waitFor('a port', async () => {
      calls++;
      throw new Error(`refused ${calls}`);
    }, 200, 10).catch((e: unknown) => e)) as Error;
    expect(calls).toBeGreaterThan(2);
    expect(err.message).toMatch(/^timed out after 200 ms waiting for a port \(last error: refused \d+\)$/);
  });

  it('when the log is missing or empty, then logTail is empty and the error still names the process', () => {
    expect(logTail(path.join(dir, 'nope.log'))).toBe('');
    const empty = path.join(dir, 'empty.log');
    fs.writeFileSync(empty, '');
    expect(logTail(empty)).toBe('');
    expect(new ProcessExitedError('worker-data', empty).message).toBe(`worker-data exited; see ${empty}`);
  });

  it('when the log is bigger than the window, then logTail reads only its end', () => {
    const big = path.join(dir, 'big.log');
    fs.writeFileSync(big, Array.from({ length: 5_000 }, (_, i) => `line ${i}`).join('\n'));
    expect(logTail(big, 3).split('\n')).toEqual(['line 4997', 'line 4998', 'line 4999']);
  });
});
