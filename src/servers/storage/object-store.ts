import fs from 'node:fs/promises';
import path from 'node:path';
import { OBJECT_URI_PREFIX, type StoredObject } from '../kit';
import { copyFileAtomic, hashFile, sha256Hex, tempPath, writeFileAtomic } from './atomic-write';

/** One stored version of a key. */
export interface ObjectVersion {
  version: number;
  sha256: string;
  size: number;
  metadata?: Record<string, unknown>;
  createdAt: string;
}

interface KeyRecord {
  /** Ascending by version. Empty once every version is deleted (a tombstone keeps numbers unique). */
  versions: ObjectVersion[];
  /** Next version number; never reused, so a signed URL for a deleted version cannot fetch new bytes. */
  next: number;
}

interface IndexFile {
  format: 1;
  keys: Record<string, KeyRecord>;
}

/** What one replica check found. */
export interface ReplicaCheck {
  checked: number;
  ok: number;
  missing: number;
  corrupt: number;
  repaired: number;
}

/** Outcome of a full store verification. */
export interface VerifyReport extends ReplicaCheck {
  blobsChecked: number;
  /** Blobs with no good replica left (data loss), with the keys that reference them. Capped. */
  unrecoverable: Array<{ sha256: string; keys: string[] }>;
}

/** A blob could not be read from any zone. */
export class DataLossError extends Error {
  constructor(readonly sha256: string) {
    super(`every replica of blob ${sha256} is missing or damaged`);
    this.name = 'DataLossError';
  }
}

/** Where zone `zone` (1-based) keeps blob `sha256`. Exported so tests and operators can find replicas. */
export function blobPath(dataDir: string, zone: number, sha256: string): string {
  return path.join(dataDir, 'zones', `zone-${zone}`, 'blobs', sha256.slice(0, 2), sha256);
}

/** `storage://<key>` for a key. */
export function objectUri(key: string): string {
  return `${OBJECT_URI_PREFIX}${key}`;
}

const MAX_UNRECOVERABLE_LISTED = 50;

/**
 * Content-addressed, versioned object store replicated over N zone directories.
 *
 * Blobs are files named by their sha256 in every zone; the index (`index.json`, rewritten atomically
 * under a mutex) maps keys to versions. Every read hashes all replicas, serves a good one and rewrites
 * missing or damaged ones from it, so a read both checks and heals.
 */
export class ObjectStore {
  private index: IndexFile = { format: 1, keys: {} };
  private lock: Promise<unknown> = Promise.resolve();
  /** Blobs being written whose index entry is not committed yet: garbage collection must spare them. */
  private readonly pending = new Map<string, number>();
  readonly tmpDir: string;
  private readonly indexFile: string;

  private constructor(
    readonly dataDir: string,
    readonly zones: number,
  ) {
    this.tmpDir = path.join(dataDir, 'tmp');
    this.indexFile = path.join(dataDir, 'index.json');
  }

  /** Opens (or creates) a store under `dataDir` with `zones` replicas per blob. */
  static async open(dataDir: string, zones: number): Promise<ObjectStore> {
    if (!Number.isInteger(zones) || zones < 1 || zones > 16)
      throw new Error(`zones must be an integer 1..16, got ${zones}`);
    const store = new ObjectStore(path.resolve(dataDir), zones);
    await fs.mkdir(store.tmpDir, { recursive: true });
    for (let z = 1; z <= zones; z++)
      await fs.mkdir(path.join(store.dataDir, 'zones', `zone-${z}`, 'blobs'), { recursive: true });
    // Temp files left by a crash are never referenced; clear them.
    for (const f of await fs.readdir(store.tmpDir))
      await fs.rm(path.join(store.tmpDir, f), { force: true, recursive: true });
    try {
      const parsed = JSON.parse(await fs.readFile(store.indexFile, 'utf8')) as IndexFile;
      if (parsed.format !== 1 || typeof parsed.keys !== 'object')
        throw new Error(`unknown index format in ${store.indexFile}`);
      store.index = parsed;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return store;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async saveIndex(): Promise<void> {
    await writeFileAtomic(this.indexFile, JSON.stringify(this.index));
  }

  /** A fresh temp file path inside the store (same file system as the zones). */
  newTempFile(hint = 'upload'): string {
    return tempPath(this.tmpDir, hint);
  }

  /**
   * Stores the file `file` (already hashed by the caller) as a new version of `key`; the file is
   * consumed (removed). Writes every zone replica before the index names the version.
   */
  async putFile(
    key: string,
    file: string,
    digest: { sha256: string; size: number },
    metadata?: Record<string, unknown>,
  ): Promise<StoredObject> {
    const { sha256, size } = digest;
    this.pending.set(sha256, (this.pending.get(sha256) ?? 0) + 1);
    try {
      for (let z = 1; z <= this.zones; z++) {
        const dest = blobPath(this.dataDir, z, sha256);
        // Content addressing: an intact replica under this name already holds these bytes. A damaged one
        // is overwritten, so "replicas written" is true when this returns.
        const existing = await hashFile(dest);
        if (existing?.sha256 === sha256 && existing.size === size) continue;
        await copyFileAtomic(file, dest);
      }
      return await this.exclusive(async () => {
        const rec = (this.index.keys[key] ??= { versions: [], next: 1 });
        const v: ObjectVersion = { version: rec.next, sha256, size, createdAt: new Date().toISOString() };
        if (metadata && Object.keys(metadata).length > 0) v.metadata = metadata;
        rec.versions.push(v);
        rec.next += 1;
        await this.saveIndex();
        return toStored(key, v);
      });
    } finally {
      const n = (this.pending.get(sha256) ?? 1) - 1;
      if (n <= 0) this.pending.delete(sha256);
      else this.pending.set(sha256, n);
      await fs.rm(file, { force: true });
    }
  }

  /** Stores bytes held in memory (small inline uploads, restored entries). */
  async putBytes(key: string, bytes: Uint8Array, metadata?: Record<string, unknown>): Promise<StoredObject> {
    const file = this.newTempFile();
    await fs.writeFile(file, bytes, { flag: 'wx' });
    return this.putFile(key, file, { sha256: sha256Hex(bytes), size: bytes.length }, metadata);
  }

  /** The latest version of `key`, or the given one; undefined when absent. */
  head(key: string, version?: number): ObjectVersion | undefined {
    const rec = this.index.keys[key];
    if (!rec) return undefined;
    return version === undefined ? rec.versions.at(-1) : rec.versions.find((v) => v.version === version);
  }

  /** Every live version of `key`, oldest first. */
  versions(key: string): ObjectVersion[] {
    return [...(this.index.keys[key]?.versions ?? [])];
  }

  /**
   * Returns the path of a verified replica of `key` (latest or `version`), after healing every other
   * replica of the blob. Undefined when the key/version does not exist; {@link DataLossError} when no
   * replica is intact.
   */
  async openVerified(
    key: string,
    version?: number,
  ): Promise<{ object: ObjectVersion; path: string; check: ReplicaCheck } | undefined> {
    const object = this.head(key, version);
    if (!object) return undefined;
    const { good, check } = await this.checkBlob(object.sha256, object.size);
    if (!good) throw new DataLossError(object.sha256);
    return { object, path: good, check };
  }

  /** Reads a (small) object into memory, verified. */
  async readBytes(
    key: string,
    version?: number,
  ): Promise<{ object: ObjectVersion; bytes: Buffer; check: ReplicaCheck } | undefined> {
    const opened = await this.openVerified(key, version);
    if (!opened) return undefined;
    const bytes = await fs.readFile(opened.path);
    // The replica could have been swapped between the check and this read; trust only what we hash now.
    if (sha256Hex(bytes) !== opened.object.sha256) throw new DataLossError(opened.object.sha256);
    return { object: opened.object, bytes, check: opened.check };
  }

  /** Hashes every replica of one blob, rewrites bad ones from a good one, and returns the good path. */
  private async checkBlob(sha256: string, size: number): Promise<{ good?: string; check: ReplicaCheck }> {
    const check: ReplicaCheck = { checked: 0, ok: 0, missing: 0, corrupt: 0, repaired: 0 };
    const states = await Promise.all(
      Array.from({ length: this.zones }, async (_, i) => {
        const p = blobPath(this.dataDir, i + 1, sha256);
        const h = await hashFile(p);
        return {
          p,
          state: h === undefined ? 'missing' : h.sha256 === sha256 && h.size === size ? 'ok' : 'corrupt',
        } as const;
      }),
    );
    for (const s of states) {
      check.checked++;
      check[s.state]++;
    }
    const good = states.find((s) => s.state === 'ok')?.p;
    if (!good) return { check };
    for (const s of states) {
      if (s.state === 'ok') continue;
      await copyFileAtomic(good, s.p);
      // Confirm the repair rather than assume it: the copy must hash right.
      const after = await hashFile(s.p);
      if (after?.sha256 === sha256) check.repaired++;
    }
    return { good, check };
  }

  /**
   * Lists live keys (latest version each) in key order after `after`, under `prefix`, up to `limit`.
   * Returns the last key seen when more remain, for the caller to turn into a cursor.
   */
  list(
    prefix: string,
    after: string | undefined,
    limit: number,
  ): { items: Array<{ key: string; latest: ObjectVersion; versions: number }>; more: boolean } {
    const keys = Object.keys(this.index.keys)
      .filter((k) => k.startsWith(prefix) && (after === undefined || k > after))
      .sort();
    const items: Array<{ key: string; latest: ObjectVersion; versions: number }> = [];
    let more = false;
    for (const key of keys) {
      const rec = this.index.keys[key];
      const latest = rec?.versions.at(-1);
      if (!rec || !latest) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push({ key, latest, versions: rec.versions.length });
    }
    return { items, more };
  }

  /** Live keys under `prefix` with their latest version (for backups). */
  snapshot(prefix: string): Array<{ key: string; object: ObjectVersion }> {
    return Object.entries(this.index.keys)
      .filter(([k, r]) => k.startsWith(prefix) && r.versions.length > 0)
      .map(([key, r]) => ({ key, object: r.versions.at(-1) as ObjectVersion }))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /**
   * Deletes one version of `key`, or all of them. Deleting what is already gone is not an error
   * (idempotent); blobs no longer referenced by any version are removed from every zone.
   */
  async delete(key: string, version?: number): Promise<{ deletedVersions: number[]; blobsRemoved: number }> {
    return this.exclusive(async () => {
      const rec = this.index.keys[key];
      if (!rec) return { deletedVersions: [], blobsRemoved: 0 };
      const doomed = rec.versions.filter((v) => version === undefined || v.version === version);
      if (doomed.length === 0) return { deletedVersions: [], blobsRemoved: 0 };
      rec.versions = rec.versions.filter((v) => !doomed.includes(v));
      await this.saveIndex();
      const referenced = this.referencedBlobs();
      let blobsRemoved = 0;
      for (const sha of new Set(doomed.map((v) => v.sha256))) {
        if (referenced.has(sha) || this.pending.has(sha)) continue;
        for (let z = 1; z <= this.zones; z++) await fs.rm(blobPath(this.dataDir, z, sha), { force: true });
        blobsRemoved++;
      }
      return { deletedVersions: doomed.map((v) => v.version), blobsRemoved };
    });
  }

  private referencedBlobs(): Map<string, { size: number; keys: string[] }> {
    const out = new Map<string, { size: number; keys: string[] }>();
    for (const [key, rec] of Object.entries(this.index.keys)) {
      for (const v of rec.versions) {
        const e = out.get(v.sha256) ?? { size: v.size, keys: [] };
        if (!e.keys.includes(key)) e.keys.push(key);
        out.set(v.sha256, e);
      }
    }
    return out;
  }

  /** Checks every replica of every referenced blob and repairs what it can. */
  async verify(onProgress?: (done: number, total: number) => Promise<void>): Promise<VerifyReport> {
    const blobs = [...this.referencedBlobs()];
    const report: VerifyReport = {
      blobsChecked: 0,
      checked: 0,
      ok: 0,
      missing: 0,
      corrupt: 0,
      repaired: 0,
      unrecoverable: [],
    };
    for (const [sha, info] of blobs) {
      const { good, check } = await this.checkBlob(sha, info.size);
      report.blobsChecked++;
      report.checked += check.checked;
      report.ok += check.ok;
      report.missing += check.missing;
      report.corrupt += check.corrupt;
      report.repaired += check.repaired;
      if (!good && report.unrecoverable.length < MAX_UNRECOVERABLE_LISTED)
        report.unrecoverable.push({ sha256: sha, keys: info.keys.slice(0, 10) });
      if (onProgress && report.blobsChecked % 50 === 0) await onProgress(report.blobsChecked, blobs.length);
    }
    return report;
  }

  /** Counts from the index (no disk scan). */
  stats(): { keys: number; versions: number; logicalBytes: number; blobs: number; uniqueBytes: number } {
    let keys = 0;
    let versions = 0;
    let logicalBytes = 0;
    for (const rec of Object.values(this.index.keys)) {
      if (rec.versions.length > 0) keys++;
      versions += rec.versions.length;
      for (const v of rec.versions) logicalBytes += v.size;
    }
    let uniqueBytes = 0;
    const blobs = this.referencedBlobs();
    for (const b of blobs.values()) uniqueBytes += b.size;
    return { keys, versions, logicalBytes, blobs: blobs.size, uniqueBytes };
  }
}

/** The wire shape of a stored version (kit `StoredObject`). */
export function toStored(key: string, v: ObjectVersion): StoredObject {
  const out: StoredObject = { uri: objectUri(key), key, version: v.version, sha256: v.sha256, size: v.size };
  if (v.metadata) out.metadata = v.metadata;
  return out;
}
