import fs from 'node:fs';
import path from 'node:path';

/** Root of the package (where package.json is), whether running from src/ (tsx) or dist/. */
export const PACKAGE_ROOT = path.resolve(__dirname, '../../..');

const runningFromSource = __filename.endsWith('.ts');

/**
 * Command to start one of our entry points as its own process, e.g. `servers/data/main` or
 * `workers/main`: compiled JavaScript from dist/ when installed, TypeScript through tsx in a checkout.
 */
export function entryCommand(rel: string): { command: string; args: string[] } {
  if (runningFromSource) {
    return { command: process.execPath, args: ['--import', 'tsx', path.join(PACKAGE_ROOT, 'src', `${rel}.ts`)] };
  }
  return { command: process.execPath, args: [path.join(PACKAGE_ROOT, 'dist', `${rel}.js`)] };
}

/** True when the entry point exists in this build. */
export function entryExists(rel: string): boolean {
  return fs.existsSync(path.join(PACKAGE_ROOT, runningFromSource ? 'src' : 'dist', `${rel}.${runningFromSource ? 'ts' : 'js'}`));
}
