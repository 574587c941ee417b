import { spawn } from 'node:child_process';
import fs from 'node:fs';

/** Starts a process in the background, detached from the CLI, with stdout and stderr to a log file. */
export function spawnBackground(command: string, args: string[], opts: { env: NodeJS.ProcessEnv; logFile: string; cwd?: string }): number {
  const fd = fs.openSync(opts.logFile, 'a');
  const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return child.pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after the grace time. Resolves when the process is gone. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<'stopped' | 'killed' | 'not-running'> {
  if (!isAlive(pid)) return 'not-running';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'not-running';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone in between
  }
  return 'killed';
}

/** The last lines of a log file ('' when it cannot be read): what a process said before it died. */
export function logTail(file: string, maxLines = 12, maxBytes = 8192): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').filter((l) => l.trim() !== '').slice(-maxLines).join('\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * A process we are waiting on has exited: waiting longer cannot help, so `waitFor` stops at once.
 * The message carries the end of its log, so the cause (a port in use, a bad setting) is in the error.
 */
export class ProcessExitedError extends Error {
  constructor(
    readonly processName: string,
    readonly logFile: string | undefined,
  ) {
    const tail = logFile ? logTail(logFile) : '';
    super(`${processName} exited${logFile ? `; see ${logFile}` : ''}${tail ? `\n--- last lines of its log ---\n${tail}` : ''}`);
    this.name = 'ProcessExitedError';
  }
}

/**
 * Polls until `check` resolves true or the timeout passes; rejects with `what` in the message.
 * A `ProcessExitedError` thrown by `check` ends the wait at once.
 */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err instanceof ProcessExitedError) throw new Error(`gave up waiting for ${what}: ${err.message}`, { cause: err });
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${lastErr instanceof Error ? lastErr.message : String(lastErr)})` : ''}`);
}
