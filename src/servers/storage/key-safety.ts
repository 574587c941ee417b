import fs from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from '../kit';

/** Longest accepted object key, in characters. */
export const MAX_KEY_LENGTH = 512;

/**
 * Characters allowed in one key segment. Deliberately narrow: no `%` (so a key can never be
 * double-decoded into something else), no `\`, `:` or control characters (no Windows or NUL tricks).
 */
const SEGMENT = /^[A-Za-z0-9._\-=+@,~]+$/;

/**
 * Checks an object key (`datasets/extract.parquet`) and returns it unchanged, or throws a
 * {@link ToolError} with code `forbidden_path` naming what is wrong. Keys never become file paths
 * (blobs are stored by sha256), but they do become archive entry names and prefixes, so traversal
 * forms are refused everywhere rather than relied on being harmless.
 */
export function validateKey(key: string, field = 'key'): string {
  const problem = keyProblem(key);
  if (problem)
    throw new ToolError(`${field} ${JSON.stringify(key)} is not allowed: ${problem}`, 'forbidden_path');
  return key;
}

/**
 * Like {@link validateKey} for a prefix: the empty prefix (everything) and a trailing `/` are allowed.
 */
export function validatePrefix(prefix: string, field = 'prefix'): string {
  if (prefix === '') return prefix;
  const problem = keyProblem(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  if (problem)
    throw new ToolError(`${field} ${JSON.stringify(prefix)} is not allowed: ${problem}`, 'forbidden_path');
  return prefix;
}

/** Why a key is refused, or undefined when it is fine. Exported for the HTTP API's 400 messages. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (key.length > MAX_KEY_LENGTH) return `it is longer than ${MAX_KEY_LENGTH} characters`;
  if (key.includes('\0')) return 'it contains a NUL byte';
  if (key.includes('\\')) return 'it contains a backslash; use "/" between segments';
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key))
    return 'it is an absolute path; keys are relative like "datasets/a.csv"';
  if (/%2e|%2f|%5c|%00/i.test(key)) return 'it contains a percent-encoded ".", "/", "\\" or NUL';
  const segments = key.split('/');
  for (const s of segments) {
    if (s === '') return 'it has an empty segment ("//" or a trailing "/")';
    if (s === '.' || s === '..') return `it contains a "${s}" segment`;
    if (!SEGMENT.test(s)) {
      return `segment ${JSON.stringify(s)} has characters outside A-Z a-z 0-9 . _ - = + @ , ~`;
    }
  }
  return undefined;
}

/** True when `child` is `root` itself or strictly inside it (not a sibling such as `/a/store2` for `/a/store`). */
export function isInside(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves a caller-supplied import path against one of the allowed roots and returns the real
 * (symlink-free) file path. The path must be relative; `..`, encoded `..`, backslashes, NUL bytes and
 * absolute paths are refused before touching the file system, and the realpath must stay inside the
 * root's realpath, which catches symlinks that point out of it (including to a sibling-prefix folder).
 */
export async function resolveImportPath(
  roots: readonly string[],
  relPath: string,
  root?: string,
): Promise<string> {
  const deny = (why: string) =>
    new ToolError(`path ${JSON.stringify(relPath)} is not allowed: ${why}`, 'forbidden_path');
  if (relPath.length === 0) throw deny('it is empty');
  if (relPath.includes('\0')) throw deny('it contains a NUL byte');
  if (relPath.includes('\\')) throw deny('it contains a backslash');
  if (path.isAbsolute(relPath) || /^[A-Za-z]:/.test(relPath)) {
    throw deny(`it is absolute; give a path relative to an import root (${roots.join(', ')})`);
  }
  if (/%2e|%2f|%5c|%00/i.test(relPath)) throw deny('it contains a percent-encoded ".", "/", "\\" or NUL');
  if (relPath.split('/').some((s) => s === '..')) throw deny('it contains a ".." segment');

  let base: string;
  if (root === undefined) {
    const first = roots[0];
    if (first === undefined)
      throw new ToolError('no import roots are configured (MCP_STORAGE_IMPORT_ROOTS)', 'forbidden_path');
    base = first;
  } else {
    const match = roots.find((r) => path.resolve(r) === path.resolve(root));
    if (!match)
      throw new ToolError(
        `root ${JSON.stringify(root)} is not an import root; allowed: ${roots.join(', ')}`,
        'forbidden_path',
      );
    base = match;
  }
  let realRoot: string;
  try {
    realRoot = await fs.realpath(base);
  } catch {
    throw new ToolError(`import root ${base} does not exist`, 'not_found');
  }
  const joined = path.join(realRoot, relPath);
  if (!isInside(realRoot, joined)) throw deny('it resolves outside the import root');
  let real: string;
  try {
    real = await fs.realpath(joined);
  } catch {
    throw new ToolError(`file ${JSON.stringify(relPath)} not found under import root ${base}`, 'not_found');
  }
  if (!isInside(realRoot, real)) throw deny('it leads (through a symlink) outside the import root');
  const st = await fs.stat(real);
  if (!st.isFile())
    throw new ToolError(`path ${JSON.stringify(relPath)} is not a regular file`, 'invalid_path');
  return real;
}
