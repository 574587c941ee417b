import fs from 'node:fs';
import path from 'node:path';

/**
 * Reads a JSON state file, or returns `fallback` when it does not exist yet. A file that exists but does
 * not parse is an error: silently starting empty would forget keys or webhooks.
 */
export function readJsonFile<T>(file: string, fallback: T): T {
  if (!fs.existsSync(file)) return fallback;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new Error(
      `state file ${file} is not valid JSON (${err instanceof Error ? err.message : String(err)}); restore it or move it away`,
    );
  }
}

/**
 * Writes a JSON state file atomically (temp file + rename) with owner-only permissions, so a crash
 * mid-write leaves the previous version and secrets are not world-readable.
 */
export function writeJsonFile(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}
