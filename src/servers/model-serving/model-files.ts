import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Writes a file so a crash leaves the old content or the new, never a torn mix: temp + fsync + rename. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function sha256Hex(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/**
 * Local, content-addressed copies of deployed ONNX models (`<dataDir>/models/<sha256>.onnx`):
 * onnxruntime loads from them, the inference worker reloads from them after a restart, and a service
 * restart does not depend on the storage server being up.
 */
export class ModelFiles {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'models');
    fs.mkdirSync(this.dir, { recursive: true });
    for (const f of fs.readdirSync(this.dir))
      if (f.includes('.tmp-')) fs.rmSync(path.join(this.dir, f), { force: true });
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return path.join(this.dir, `${sha256}.onnx`);
  }

  /** Stores bytes under their hash (already present: kept). */
  put(bytes: Uint8Array, sha256: string): string {
    const file = this.pathOf(sha256);
    if (!this.has(sha256)) writeFileAtomic(file, bytes);
    return file;
  }

  /** True when the file exists and still hashes to its name. */
  has(sha256: string): boolean {
    const file = this.pathOf(sha256);
    return fs.existsSync(file) && sha256Hex(fs.readFileSync(file)) === sha256;
  }

  remove(sha256: string): void {
    fs.rmSync(this.pathOf(sha256), { force: true });
  }
}
