import crypto from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { z } from 'zod';
import { ToolError, type StoredObject } from '../kit';
import { TooLargeError, hashFile, sha256Hex, streamToFile, writeFileAtomic } from './atomic-write';
import { keyProblem, validateKey, validatePrefix } from './key-safety';
import { type ObjectStore } from './object-store';
import { TarFormatError, readTarEntries, tarEnd, tarHeader, tarPadding } from './tar';

/** Format tag written into every manifest. */
export const BACKUP_FORMAT = 'mcp-storage-backup/1';
/** Name of the manifest entry, always the archive's first entry. */
export const MANIFEST_ENTRY = 'MANIFEST.json';
/** Metadata `kind` of archive objects; backups skip them so archives do not nest. */
export const ARCHIVE_KIND = 'backup_archive';
/** Most files one backup may hold. */
export const MAX_BACKUP_FILES = 100_000;

const manifestFileSchema = z.object({
  entry: z.string().regex(/^files\/[0-9]{6,}$/),
  key: z.string(),
  relKey: z.string(),
  version: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
const manifestSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  tag: z.string(),
  prefix: z.string(),
  createdAt: z.string(),
  totalBytes: z.number().int().nonnegative(),
  files: z.array(manifestFileSchema).max(MAX_BACKUP_FILES),
});
export type BackupManifest = z.infer<typeof manifestSchema>;

interface CatalogEntry {
  tag: string;
  archiveKey: string;
  archiveVersion: number;
  sha256: string;
  prefix: string;
  fileCount: number;
  createdAt: string;
}

/**
 * Remembers the sha256 of every archive this store made, by tag, so a restore can tell that an archive
 * was replaced after the fact even if whoever replaced it also rewrote the manifest consistently.
 */
export class BackupCatalog {
  private entries: Record<string, CatalogEntry> = {};
  private constructor(private readonly file: string) {}

  static async open(dataDir: string): Promise<BackupCatalog> {
    const c = new BackupCatalog(path.join(dataDir, 'backups.json'));
    try {
      c.entries = JSON.parse(await fs.readFile(c.file, 'utf8')) as Record<string, CatalogEntry>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return c;
  }

  get(tag: string): CatalogEntry | undefined {
    return this.entries[tag];
  }

  async record(e: CatalogEntry): Promise<void> {
    this.entries[e.tag] = e;
    await writeFileAtomic(this.file, JSON.stringify(this.entries));
  }

  get size(): number {
    return Object.keys(this.entries).length;
  }
}

export interface BackupResult {
  archive: StoredObject;
  tag: string;
  prefix: string;
  fileCount: number;
  bytes: number;
  manifestSha256: string;
}

/**
 * Snapshots the latest version of every key under `prefix` into a gzip'd tar (manifest first, then
 * each object as `files/<n>`), checks each object's sha256 while streaming it in, and stores the
 * archive as the object `archiveKey` tagged with `tag`.
 */
export async function createBackup(
  store: ObjectStore,
  catalog: BackupCatalog,
  opts: { prefix: string; tag: string; archiveKey: string; maxArchiveBytes: number; signal: AbortSignal },
): Promise<BackupResult> {
  validatePrefix(opts.prefix);
  validateKey(opts.archiveKey, 'archiveKey');
  const items = store.snapshot(opts.prefix).filter((i) => i.object.metadata?.kind !== ARCHIVE_KIND);
  if (items.length === 0)
    throw new ToolError(
      `no objects under prefix ${JSON.stringify(opts.prefix)}; nothing to back up`,
      'not_found',
    );
  if (items.length > MAX_BACKUP_FILES)
    throw new ToolError(
      `prefix holds ${items.length} objects; one backup takes at most ${MAX_BACKUP_FILES}`,
      'too_large',
    );

  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    tag: opts.tag,
    prefix: opts.prefix,
    createdAt: new Date().toISOString(),
    totalBytes: items.reduce((s, i) => s + i.object.size, 0),
    files: items.map((i, n) => ({
      entry: `files/${String(n + 1).padStart(6, '0')}`,
      key: i.key,
      relKey: i.key.slice(opts.prefix.length),
      version: i.object.version,
      sha256: i.object.sha256,
      size: i.object.size,
      ...(i.object.metadata ? { metadata: i.object.metadata } : {}),
    })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 1));
  const mtime = new Date();

  async function* tarStream(): AsyncGenerator<Buffer> {
    yield tarHeader({ name: MANIFEST_ENTRY, size: manifestBytes.length, mtime });
    yield manifestBytes;
    yield tarPadding(manifestBytes.length);
    for (const f of manifest.files) {
      if (opts.signal.aborted) throw new ToolError('backup cancelled by the caller', 'cancelled');
      const opened = await store.openVerified(f.key, f.version);
      if (!opened)
        throw new ToolError(
          `object ${f.key} v${f.version} was deleted during the backup; run it again`,
          'conflict',
        );
      yield tarHeader({ name: f.entry, size: f.size, mtime });
      const hash = crypto.createHash('sha256');
      let seen = 0;
      for await (const chunk of createReadStream(opened.path) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        seen += chunk.length;
        yield chunk;
      }
      // The replica was verified a moment ago; hashing what was actually archived closes that window.
      if (seen !== f.size || hash.digest('hex') !== f.sha256)
        throw new ToolError(`object ${f.key} changed on disk while being archived`, 'conflict');
      yield tarPadding(f.size);
    }
    yield tarEnd();
  }

  const tmp = store.newTempFile('backup');
  try {
    await pipeline(
      Readable.from(tarStream()),
      createGzip({ level: 6 }),
      createWriteStream(tmp, { flags: 'wx' }),
    );
    const digest = await hashFile(tmp);
    if (!digest) throw new Error('archive temp file vanished');
    if (digest.size > opts.maxArchiveBytes) {
      throw new ToolError(
        `archive would be ${digest.size} bytes, above the object limit of ${opts.maxArchiveBytes}; back up a narrower prefix`,
        'too_large',
      );
    }
    const manifestSha256 = sha256Hex(manifestBytes);
    const archive = await store.putFile(opts.archiveKey, tmp, digest, {
      kind: ARCHIVE_KIND,
      backupTag: opts.tag,
      prefix: opts.prefix,
      fileCount: items.length,
      bytes: manifest.totalBytes,
      manifestSha256,
      format: BACKUP_FORMAT,
    });
    await catalog.record({
      tag: opts.tag,
      archiveKey: archive.key,
      archiveVersion: archive.version,
      sha256: archive.sha256,
      prefix: opts.prefix,
      fileCount: items.length,
      createdAt: manifest.createdAt,
    });
    return {
      archive,
      tag: opts.tag,
      prefix: opts.prefix,
      fileCount: items.length,
      bytes: manifest.totalBytes,
      manifestSha256,
    };
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

export interface RestoreResult {
  tag: string;
  sourcePrefix: string;
  targetPrefix: string;
  archiveSha256: string;
  catalogMatch: boolean;
  fileCount: number;
  bytes: number;
  checksumsVerified: number;
  restored: StoredObject[];
}

/**
 * Restores an archive made by {@link createBackup} into `targetPrefix` (default: the prefix it was taken
 * from). Everything is checked before anything is written: the archive against the catalog (and
 * `expectedSha256` if given), the tar structure, the manifest, and every file's sha256 and size. Any
 * mismatch refuses the whole restore.
 */
export async function restoreBackup(
  store: ObjectStore,
  catalog: BackupCatalog,
  opts: {
    archiveKey: string;
    version?: number;
    targetPrefix?: string;
    expectedSha256?: string;
    maxTarBytes: number;
    signal: AbortSignal;
  },
): Promise<RestoreResult> {
  validateKey(opts.archiveKey, 'archive');
  if (opts.targetPrefix !== undefined) validatePrefix(opts.targetPrefix, 'targetPrefix');
  const opened = await store.openVerified(opts.archiveKey, opts.version);
  if (!opened)
    throw new ToolError(
      `archive ${opts.archiveKey}${opts.version ? ` v${opts.version}` : ''} not found`,
      'not_found',
    );
  const archiveSha256 = opened.object.sha256;
  if (opts.expectedSha256 && opts.expectedSha256 !== archiveSha256) {
    throw new ToolError(
      `archive sha256 is ${archiveSha256}, not the expected ${opts.expectedSha256}; refusing to restore`,
      'checksum_mismatch',
    );
  }

  const tarFile = store.newTempFile('restore');
  const extracted: string[] = [];
  try {
    const compressed = createReadStream(opened.path);
    const gunzip = createGunzip();
    compressed.on('error', (err) => gunzip.destroy(err));
    compressed.pipe(gunzip);
    try {
      // Bounded so a gzip bomb stops at the limit instead of filling the disk.
      await streamToFile(gunzip, tarFile, opts.maxTarBytes);
    } catch (err) {
      if (err instanceof TooLargeError)
        throw new ToolError(
          `archive expands beyond ${opts.maxTarBytes} bytes; refusing to restore`,
          'too_large',
        );
      throw new ToolError(
        `archive ${opts.archiveKey} is not a valid gzip stream: ${err instanceof Error ? err.message : String(err)}`,
        'corrupt_archive',
      );
    } finally {
      compressed.destroy();
    }
    let entries;
    try {
      entries = await readTarEntries(tarFile, MAX_BACKUP_FILES + 1);
    } catch (err) {
      if (err instanceof TarFormatError)
        throw new ToolError(
          `archive ${opts.archiveKey} is not a valid backup: ${err.message}`,
          'corrupt_archive',
        );
      throw err;
    }
    const first = entries[0];
    if (!first || first.name !== MANIFEST_ENTRY)
      throw new ToolError(
        `archive ${opts.archiveKey} does not start with ${MANIFEST_ENTRY}`,
        'corrupt_archive',
      );
    const manifestBytes = await readRange(tarFile, first.offset, first.size);
    let manifest: BackupManifest;
    try {
      manifest = manifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
    } catch (err) {
      throw new ToolError(
        `archive manifest is invalid: ${err instanceof Error ? err.message.slice(0, 300) : String(err)}`,
        'corrupt_archive',
      );
    }
    const known = catalog.get(manifest.tag);
    if (known && known.sha256 !== archiveSha256) {
      throw new ToolError(
        `archive for tag ${manifest.tag} has sha256 ${archiveSha256}, but this store recorded ${known.sha256} when it made the backup; refusing to restore a modified archive`,
        'checksum_mismatch',
      );
    }

    const byName = new Map(entries.slice(1).map((e) => [e.name, e]));
    if (byName.size !== entries.length - 1 || byName.size !== manifest.files.length) {
      throw new ToolError(
        `archive holds ${entries.length - 1} file entries but its manifest lists ${manifest.files.length}`,
        'checksum_mismatch',
      );
    }
    const targetPrefix = opts.targetPrefix ?? manifest.prefix;
    const plan: Array<{ file: BackupManifest['files'][number]; offset: number; targetKey: string }> = [];
    for (const f of manifest.files) {
      const e = byName.get(f.entry);
      if (!e) throw new ToolError(`archive lacks entry ${f.entry} for ${f.key}`, 'checksum_mismatch');
      if (e.size !== f.size)
        throw new ToolError(
          `archive entry for ${f.key} is ${e.size} bytes; the manifest says ${f.size}`,
          'checksum_mismatch',
        );
      const targetKey = targetPrefix + f.relKey;
      const problem = keyProblem(targetKey);
      if (problem)
        throw new ToolError(
          `archive entry ${f.key} would restore to ${JSON.stringify(targetKey)}, which is not allowed: ${problem}`,
          'forbidden_path',
        );
      plan.push({ file: f, offset: e.offset, targetKey });
    }
    // Check every checksum first, so a bad archive writes nothing.
    for (const p of plan) {
      if (opts.signal.aborted) throw new ToolError('restore cancelled by the caller', 'cancelled');
      const tmp = store.newTempFile('entry');
      extracted.push(tmp);
      const digest = await streamToFile(rangeStream(tarFile, p.offset, p.file.size), tmp, p.file.size);
      if (digest.sha256 !== p.file.sha256) {
        throw new ToolError(
          `checksum mismatch for ${p.file.key}: archive holds ${digest.sha256}, manifest says ${p.file.sha256}; refusing to restore`,
          'checksum_mismatch',
        );
      }
    }
    const restored: StoredObject[] = [];
    for (const [i, p] of plan.entries()) {
      const tmp = extracted[i] as string;
      restored.push(
        await store.putFile(p.targetKey, tmp, { sha256: p.file.sha256, size: p.file.size }, p.file.metadata),
      );
    }
    return {
      tag: manifest.tag,
      sourcePrefix: manifest.prefix,
      targetPrefix,
      archiveSha256,
      catalogMatch: known !== undefined,
      fileCount: plan.length,
      bytes: plan.reduce((s, p) => s + p.file.size, 0),
      checksumsVerified: plan.length,
      restored,
    };
  } finally {
    await fs.rm(tarFile, { force: true });
    for (const f of extracted) await fs.rm(f, { force: true });
  }
}

function rangeStream(file: string, offset: number, size: number): Readable {
  if (size === 0) return Readable.from([]);
  return createReadStream(file, { start: offset, end: offset + size - 1 });
}

async function readRange(file: string, offset: number, size: number): Promise<Buffer> {
  if (size > 64 * 1024 * 1024)
    throw new ToolError('archive manifest is implausibly large', 'corrupt_archive');
  const handle = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(size);
    await handle.read(buf, 0, size, offset);
    return buf;
  } finally {
    await handle.close();
  }
}
