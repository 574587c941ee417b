import path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread from a sibling module of this folder. Built code (`dist/…/x.js`) runs
 * directly; from TypeScript sources (tsx, ts-jest) the worker registers tsx's CommonJS hook first so
 * it can load the `.ts` file.
 */
export function startSiblingWorker(moduleBaseName: string): Worker {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, moduleBaseName + ext);
  if (ext === '.ts') {
    const hook = require.resolve('tsx/cjs');
    return new Worker(`require(${JSON.stringify(hook)}); require(${JSON.stringify(file)});`, { eval: true });
  }
  return new Worker(file);
}
