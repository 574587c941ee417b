import fs from 'node:fs';
import path from 'node:path';

export { discoverCatalog, planFromText, type PlannedFromText } from '../../client/pipeline-loader';

/** Why a spec path was refused. */
export class SpecPathError extends Error {}

/**
 * Resolves a spec path inside `root` (the package's pipelines/ folder): `hello`, `hello.yaml` and
 * `pipelines/hello.yaml` all name the same file. Absolute paths, `..` segments, NUL bytes and symlinks
 * that leave the folder are refused, so a caller cannot make the server read arbitrary files.
 */
export function resolveSpecPath(root: string, requested: string): string {
  if (requested.includes('\0')) throw new SpecPathError('spec_path contains a NUL byte');
  if (path.isAbsolute(requested) || /^[A-Za-z]:[\\/]/.test(requested)) {
    throw new SpecPathError(
      `spec_path '${requested}' must be relative to the pipelines folder, e.g. 'hello.yaml'`,
    );
  }
  let rel = requested.replace(/\\/g, '/');
  if (rel.startsWith('pipelines/')) rel = rel.slice('pipelines/'.length);
  if (rel.split('/').some((seg) => seg === '..'))
    throw new SpecPathError(`spec_path '${requested}' must not contain '..'`);
  if (!/\.ya?ml$/i.test(rel)) rel += '.yaml';
  const realRoot = fs.realpathSync(root);
  const candidate = path.resolve(realRoot, rel);
  let real: string;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    throw new SpecPathError(
      `no pipeline '${requested}' in the pipelines folder (available: ${listPipelines(root).join(', ') || 'none'})`,
    );
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new SpecPathError(`spec_path '${requested}' leads outside the pipelines folder`);
  }
  if (!fs.statSync(real).isFile()) throw new SpecPathError(`spec_path '${requested}' is not a file`);
  return real;
}

/** YAML files of the pipelines folder (top level), sorted; empty when the folder is missing. */
export function listPipelines(root: string): string[] {
  try {
    return fs
      .readdirSync(root)
      .filter((f) => /\.ya?ml$/i.test(f))
      .sort();
  } catch {
    return [];
  }
}
