import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes a file readable by its owner only (0600), atomically: a crash never leaves a half-written key
 * ring behind, and the secret never exists on disk with wider permissions, even briefly.
 */
export function writeSecretFile(file: string, contents: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, contents);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  // The umask may have narrowed the mode further, never widened it; chmod makes it exact.
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

/** Reads and parses a JSON file, or returns undefined when it does not exist. */
export function readJsonFile<T>(file: string): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Refuses to use a secret file that group or others can read: someone changed it by hand. */
export function assertOwnerOnly(file: string): void {
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `${file} has mode ${mode.toString(8)}; secret files must be 0600 (run: chmod 600 ${file})`,
    );
  }
}
