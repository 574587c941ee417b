import crypto from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** A unique temp file name beside `dir`, so the final rename stays on one file system (atomic). */
export function tempPath(dir: string, hint = 'tmp'): string {
  return path.join(dir, `.${hint}.${process.pid}.${crypto.randomBytes(8).toString('hex')}.part`);
}

/**
 * Writes `data` to `file` atomically: a temp file in the same folder, fsync'd, then renamed over the
 * target, so a crash leaves the old file or the new one, never half of one.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = tempPath(dir, path.basename(file));
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** Copies `src` to `dest` atomically (temp + fsync + rename). */
export async function copyFileAtomic(src: string, dest: string): Promise<void> {
  const dir = path.dirname(dest);
  await fs.mkdir(dir, { recursive: true });
  const tmp = tempPath(dir, path.basename(dest));
  try {
    await fs.copyFile(src, tmp);
    const handle = await fs.open(tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, dest);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** Thrown by {@link streamToFile} when the stream is longer than allowed. */
export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`content is larger than the limit of ${limit} bytes`);
    this.name = 'TooLargeError';
  }
}

/**
 * Streams `source` into the new file `file`, hashing as it goes and stopping with {@link TooLargeError}
 * past `maxBytes`, so a large upload never sits in memory. The caller owns (and removes) `file`.
 */
export async function streamToFile(
  source: Readable,
  file: string,
  maxBytes: number,
): Promise<{ sha256: string; size: number }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxBytes) return cb(new TooLargeError(maxBytes));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(source, meter, createWriteStream(file, { flags: 'wx' }));
  return { sha256: hash.digest('hex'), size };
}

/** sha256 (hex) and size of a file, streamed; undefined when the file is missing. */
export async function hashFile(file: string): Promise<{ sha256: string; size: number } | undefined> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  try {
    await pipeline(createReadStream(file), async function (src: AsyncIterable<Buffer>) {
      for await (const chunk of src) {
        size += chunk.length;
        hash.update(chunk);
      }
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return { sha256: hash.digest('hex'), size };
}

/** sha256 hex of bytes in memory. */
export function sha256Hex(data: Uint8Array | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}
