import fs from 'node:fs/promises';

/**
 * A tiny POSIX ustar writer and reader, enough for our backup archives: regular files only, names up
 * to 100 bytes (backups name entries by index and keep real keys in the manifest).
 */

const BLOCK = 512;

/** One regular file to write: its 512-byte header comes from {@link tarHeader}. */
export interface TarEntryInfo {
  name: string;
  size: number;
  mtime: Date;
}

function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  writeString(buf, offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
}

/** The 512-byte ustar header of a regular file. */
export function tarHeader(entry: TarEntryInfo): Buffer {
  const h = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(entry.name) > 100)
    throw new Error(`tar entry name longer than 100 bytes: ${entry.name}`);
  if (entry.size > 0o77777777777) throw new Error(`tar entry too large: ${entry.size}`);
  writeString(h, 0, 100, entry.name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, entry.size);
  writeOctal(h, 136, 12, Math.floor(entry.mtime.getTime() / 1000));
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  h.write('0', 156, 'latin1');
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** Zero bytes that pad an entry of `size` bytes to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** The end-of-archive marker: two zero blocks. */
export function tarEnd(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}

/** A regular file found in an archive: its bytes are `size` bytes at `offset` in the tar file. */
export interface TarEntry {
  name: string;
  size: number;
  offset: number;
}

/** Thrown for anything that is not a well-formed archive of regular files. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

function readString(buf: Buffer, offset: number, length: number): string {
  const slice = buf.subarray(offset, offset + length);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? length : nul).toString('utf8');
}

function readOctal(buf: Buffer, offset: number, length: number, field: string): number {
  const text = readString(buf, offset, length).trim();
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad ${field} field in tar header`);
  return parseInt(text, 8);
}

/**
 * Lists the entries of an uncompressed tar file, checking each header's checksum and refusing links,
 * devices and other non-regular entries (an archive must not be able to plant a symlink).
 */
export async function readTarEntries(file: string, maxEntries: number): Promise<TarEntry[]> {
  const handle = await fs.open(file, 'r');
  try {
    const { size: total } = await handle.stat();
    const entries: TarEntry[] = [];
    const h = Buffer.alloc(BLOCK);
    let offset = 0;
    for (;;) {
      if (offset + BLOCK > total) throw new TarFormatError('archive ends without the end-of-archive marker');
      const { bytesRead } = await handle.read(h, 0, BLOCK, offset);
      if (bytesRead !== BLOCK) throw new TarFormatError('short read of a tar header');
      if (h.every((b) => b === 0)) break;
      const stored = readOctal(h, 148, 8, 'checksum');
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
      if (sum !== stored) throw new TarFormatError(`tar header checksum mismatch at byte ${offset}`);
      const name = readString(h, 0, 100);
      const size = readOctal(h, 124, 12, 'size');
      const type = String.fromCharCode(h[156] as number);
      if (type !== '0' && type !== '\0')
        throw new TarFormatError(
          `tar entry ${JSON.stringify(name)} has type ${JSON.stringify(type)}; only regular files are accepted`,
        );
      const dataOffset = offset + BLOCK;
      if (dataOffset + size > total)
        throw new TarFormatError(`tar entry ${JSON.stringify(name)} runs past the end of the archive`);
      entries.push({ name, size, offset: dataOffset });
      if (entries.length > maxEntries)
        throw new TarFormatError(`archive has more than ${maxEntries} entries`);
      offset = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    }
    return entries;
  } finally {
    await handle.close();
  }
}
