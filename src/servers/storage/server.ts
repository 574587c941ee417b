import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import type { Readable } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { OBJECT_URI_PREFIX, ToolError, registerTool, type IdempotencyStore, type StoredObject, MCP_SERVER_OPTIONS } from '../kit';
import { TooLargeError, streamToFile } from './atomic-write';
import { BACKUP_FORMAT, createBackup, restoreBackup, type BackupCatalog } from './backup';
import { MAX_KEY_LENGTH, resolveImportPath, validateKey, validatePrefix } from './key-safety';
import { MAX_METADATA_BYTES } from './object-routes';
import { DataLossError, objectUri, type ObjectStore } from './object-store';
import * as s from './schemas';
import type { Semaphore } from '../kit/semaphore';
import { MAX_SIGNED_URL_TTL_S, signObjectUrl } from './signed-url';
import { fetchToFile } from './url-fetch';

export const STORAGE_SERVER_VERSION = '0.1.0';

/** Largest page of list_files. */
export const LIST_LIMIT_MAX = 1000;
/** Restored objects listed in a restore result; the rest are counted. */
const MAX_RESTORED_LISTED = 100;

export const STORAGE_TOOLS = [
  'upload_file',
  'download_file',
  'list_files',
  'delete_file',
  'backup_data',
  'restore_backup',
  'verify_store',
  'server_info',
] as const;

/** Backends created once per process and shared by every per-request MCP server. */
export interface StorageDeps {
  store: ObjectStore;
  catalog: BackupCatalog;
  idempotency: IdempotencyStore;
  signingSecret: string;
  serviceToken?: string;
  importRoots: string[];
  /** Origins upload_file may fetch from (includes this server once it listens). */
  fetchAllowlist: () => string[];
  /** Base URL put in signed URLs. */
  baseUrl: () => string;
  maxObjectBytes: number;
  inlineMaxBytes: number;
  maxBodyBytes: number;
  heavy: Semaphore;
}

/** `storage://a/b` or `a/b` → validated key. */
function keyFromRef(ref: string, field: string): string {
  return validateKey(ref.startsWith(OBJECT_URI_PREFIX) ? ref.slice(OBJECT_URI_PREFIX.length) : ref, field);
}

function checkMetadata(metadata: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!metadata) return undefined;
  const size = Buffer.byteLength(JSON.stringify(metadata));
  if (size > MAX_METADATA_BYTES)
    throw new ToolError(`metadata is ${size} bytes of JSON; the limit is ${MAX_METADATA_BYTES}`, 'too_large');
  return metadata;
}

function dataLoss<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof DataLossError)
      throw new ToolError(`${err.message}; restore it from a backup`, 'data_loss');
    throw err;
  });
}

/** Cursor = base64url JSON of the last key served and the prefix it belongs to. */
function encodeCursor(prefix: string, lastKey: string): string {
  return Buffer.from(JSON.stringify({ p: prefix, k: lastKey })).toString('base64url');
}

function decodeCursor(prefix: string, cursor: string): string {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { p?: unknown; k?: unknown };
    if (typeof v.k === 'string' && v.p === prefix) return v.k;
  } catch {
    // fall through to the error below
  }
  throw new ToolError(
    'cursor is not a nextCursor of list_files for this prefix; start again without a cursor',
    'invalid_cursor',
  );
}

/** Builds the storage MCP server; runs per request, so it only wires tools to the shared `deps`. */
export function buildServer(deps: StorageDeps): McpServer {
  const server = new McpServer({ name: 'storage', version: STORAGE_SERVER_VERSION }, MCP_SERVER_OPTIONS);
  const { store } = deps;

  /** Copies a readable source into a temp file (hashing it), then stores it as a new version. */
  async function ingest(
    key: string,
    source: Readable,
    metadata?: Record<string, unknown>,
  ): Promise<StoredObject> {
    const tmp = store.newTempFile('ingest');
    try {
      const digest = await streamToFile(source, tmp, deps.maxObjectBytes);
      return await store.putFile(key, tmp, digest, metadata);
    } catch (err) {
      if (err instanceof TooLargeError)
        throw new ToolError(
          `source is larger than the object limit of ${deps.maxObjectBytes} bytes`,
          'too_large',
        );
      throw err;
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  registerTool(
    server,
    'upload_file',
    {
      title: 'Upload a file',
      description:
        'Stores bytes as a new version of `key`, replicated to every zone and verified by SHA-256. Give exactly one source: ' +
        '`path` (relative to an import root), `url` (storage://<key> to copy, or an allowlisted loopback http(s) URL of the stack), ' +
        'or `content` (base64, small objects). Returns a storage:// reference, version, sha256 and size.',
      inputSchema: s.uploadFileInput,
      outputSchema: s.uploadFileOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      const key = validateKey(args.key);
      const metadata = checkMetadata(args.metadata);
      const given = (['path', 'url', 'content'] as const).filter((f) => args[f] !== undefined);
      if (given.length !== 1) {
        throw new ToolError(
          `give exactly one source among path, url, content (got ${given.length ? given.join(', ') : 'none'})`,
          'invalid_params',
        );
      }
      if (args.root !== undefined && args.path === undefined)
        throw new ToolError('root is only meaningful with path', 'invalid_params');
      let stored: StoredObject;
      let source: 'path' | 'url' | 'object' | 'content';
      if (args.path !== undefined) {
        const real = await resolveImportPath(deps.importRoots, args.path, args.root);
        const st = await fs.stat(real);
        if (st.size > deps.maxObjectBytes)
          throw new ToolError(
            `file ${args.path} is ${st.size} bytes; the limit is ${deps.maxObjectBytes}`,
            'too_large',
          );
        stored = await ingest(key, createReadStream(real), metadata);
        source = 'path';
      } else if (args.url !== undefined && args.url.startsWith(OBJECT_URI_PREFIX)) {
        const from = keyFromRef(args.url, 'url');
        const opened = await dataLoss(store.openVerified(from));
        if (!opened) throw new ToolError(`source object ${args.url} not found`, 'not_found');
        stored = await ingest(key, createReadStream(opened.path), metadata ?? opened.object.metadata);
        source = 'object';
      } else if (args.url !== undefined) {
        const tmp = store.newTempFile('fetch');
        try {
          const digest = await fetchToFile(args.url, {
            allowlist: deps.fetchAllowlist(),
            file: tmp,
            maxBytes: deps.maxObjectBytes,
            serviceToken: deps.serviceToken,
            signal: ctx.signal,
          });
          stored = await store.putFile(key, tmp, digest, metadata);
        } finally {
          await fs.rm(tmp, { force: true });
        }
        source = 'url';
      } else {
        const b64 = (args.content ?? '').replace(/\s+/g, '');
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1)
          throw new ToolError('content is not valid base64', 'invalid_params');
        const approx = Math.floor((b64.length * 3) / 4);
        if (approx > deps.inlineMaxBytes + 2) {
          throw new ToolError(
            `content is about ${approx} bytes; inline uploads are capped at ${deps.inlineMaxBytes}; use path or url`,
            'too_large',
          );
        }
        const bytes = Buffer.from(b64, 'base64');
        if (bytes.length > deps.inlineMaxBytes)
          throw new ToolError(
            `content is ${bytes.length} bytes; inline uploads are capped at ${deps.inlineMaxBytes}`,
            'too_large',
          );
        stored = await store.putBytes(key, bytes, metadata);
        source = 'content';
      }
      return { ...stored, source, replicas: store.zones };
    },
  );

  registerTool(
    server,
    'download_file',
    {
      title: 'Download a file',
      description:
        'Verifies every replica of an object version (repairing damaged or missing ones) and returns its reference, sha256, size and a ' +
        'time-limited signed GET URL for that exact version. With inline: true and a small object, also the bytes as base64.',
      inputSchema: s.downloadFileInput,
      outputSchema: s.downloadFileOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const key = keyFromRef(args.key, 'key');
      const head = store.head(key, args.version);
      if (!head)
        throw new ToolError(
          `object ${key}${args.version ? ` version ${args.version}` : ''} not found`,
          'not_found',
        );
      if (args.inline && head.size > deps.inlineMaxBytes) {
        throw new ToolError(
          `object is ${head.size} bytes; inline download is capped at ${deps.inlineMaxBytes}; use the signed url`,
          'too_large',
        );
      }
      let contentBase64: string | undefined;
      let check;
      if (args.inline) {
        const read = await dataLoss(store.readBytes(key, head.version));
        if (!read)
          throw new ToolError(`object ${key} version ${head.version} was deleted meanwhile`, 'not_found');
        contentBase64 = read.bytes.toString('base64');
        check = read.check;
      } else {
        const opened = await dataLoss(store.openVerified(key, head.version));
        if (!opened)
          throw new ToolError(`object ${key} version ${head.version} was deleted meanwhile`, 'not_found');
        check = opened.check;
      }
      const ttl = Math.min(args.expiresInSeconds, MAX_SIGNED_URL_TTL_S);
      const signed = signObjectUrl(deps.baseUrl(), deps.signingSecret, key, head.version, ttl);
      return {
        uri: objectUri(key),
        key,
        version: head.version,
        sha256: head.sha256,
        size: head.size,
        ...(head.metadata ? { metadata: head.metadata } : {}),
        createdAt: head.createdAt,
        url: signed.url,
        expiresAt: signed.expiresAt,
        ...(contentBase64 !== undefined ? { contentBase64 } : {}),
        replicasChecked: check.checked,
        replicasRepaired: check.repaired,
      };
    },
  );

  registerTool(
    server,
    'list_files',
    {
      title: 'List files',
      description:
        'Lists keys under a prefix in key order (latest version each), one page at a time; pass nextCursor to continue.',
      inputSchema: s.listFilesInput,
      outputSchema: s.listFilesOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const prefix = validatePrefix(args.prefix);
      const after = args.cursor !== undefined ? decodeCursor(prefix, args.cursor) : undefined;
      const page = store.list(prefix, after, Math.min(args.limit, LIST_LIMIT_MAX));
      const items = page.items.map((i) => ({
        uri: objectUri(i.key),
        key: i.key,
        version: i.latest.version,
        versions: i.versions,
        sha256: i.latest.sha256,
        size: i.latest.size,
        createdAt: i.latest.createdAt,
      }));
      const last = items.at(-1);
      return {
        items,
        count: items.length,
        ...(page.more && last ? { nextCursor: encodeCursor(prefix, last.key) } : {}),
      };
    },
  );

  registerTool(
    server,
    'delete_file',
    {
      title: 'Delete a file',
      description:
        'Deletes one version of a key, or all of its versions. Deleting something already gone succeeds with nothing deleted. ' +
        'Content no longer referenced by any version is removed from every zone.',
      inputSchema: s.deleteFileInput,
      outputSchema: s.deleteFileOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      idempotency: deps.idempotency,
    },
    async (args) => {
      const key = keyFromRef(args.key, 'key');
      const r = await store.delete(key, args.version);
      return { key, ...r, remainingVersions: store.versions(key).map((v) => v.version) };
    },
  );

  registerTool(
    server,
    'backup_data',
    {
      title: 'Back up a prefix',
      description:
        'Snapshots the latest version of every key under a prefix into a tar.gz archive (MANIFEST.json with each sha256 first), ' +
        'stores it as an object tagged with a version tag, and returns its storage:// reference, file count and bytes.',
      inputSchema: s.backupDataInput,
      outputSchema: s.backupDataOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      const prefix = validatePrefix(args.prefix);
      const tag =
        args.tag ??
        `backup-${new Date()
          .toISOString()
          .replace(/[-:]/g, '')
          .replace(/\.\d+Z$/, 'Z')}`;
      const archiveKey =
        args.archiveKey !== undefined ? validateKey(args.archiveKey, 'archiveKey') : `backups/${tag}.tar.gz`;
      const r = await deps.heavy.run(() =>
        createBackup(store, deps.catalog, {
          prefix,
          tag,
          archiveKey,
          maxArchiveBytes: deps.maxObjectBytes,
          signal: ctx.signal,
        }),
      );
      return {
        archiveUri: r.archive.uri,
        archiveKey: r.archive.key,
        archiveVersion: r.archive.version,
        archiveSha256: r.archive.sha256,
        archiveBytes: r.archive.size,
        tag: r.tag,
        prefix: r.prefix,
        fileCount: r.fileCount,
        bytes: r.bytes,
        manifestSha256: r.manifestSha256,
        format: `tar.gz (${BACKUP_FORMAT})`,
      };
    },
  );

  registerTool(
    server,
    'restore_backup',
    {
      title: 'Restore a backup',
      description:
        'Restores an archive made by backup_data into a prefix (default: where it came from), as new versions. Checks the archive against ' +
        'the sha256 recorded at backup time and every file against the manifest before writing anything; any mismatch refuses the restore.',
      inputSchema: s.restoreBackupInput,
      outputSchema: s.restoreBackupOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      const archiveKey = keyFromRef(args.archive, 'archive');
      const r = await deps.heavy.run(() =>
        dataLoss(
          restoreBackup(store, deps.catalog, {
            archiveKey,
            version: args.version,
            targetPrefix: args.targetPrefix,
            expectedSha256: args.expectedSha256,
            maxTarBytes: deps.maxObjectBytes * 8,
            signal: ctx.signal,
          }),
        ),
      );
      return {
        tag: r.tag,
        sourcePrefix: r.sourcePrefix,
        targetPrefix: r.targetPrefix,
        archiveSha256: r.archiveSha256,
        catalogMatch: r.catalogMatch,
        fileCount: r.fileCount,
        bytes: r.bytes,
        checksumsVerified: r.checksumsVerified,
        restored: r.restored
          .slice(0, MAX_RESTORED_LISTED)
          .map((o) => ({ uri: o.uri, key: o.key, version: o.version, sha256: o.sha256 })),
        restoredTruncated: r.restored.length > MAX_RESTORED_LISTED,
      };
    },
  );

  registerTool(
    server,
    'verify_store',
    {
      title: 'Verify and repair the store',
      description:
        'Hashes every replica of every stored blob in every zone, rewrites missing or damaged replicas from an intact one, and reports ' +
        'what it checked, found and repaired, plus any blob with no intact replica left.',
      inputSchema: s.verifyStoreInput,
      outputSchema: s.verifyStoreOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (_args, ctx) => {
      const started = performance.now();
      const r = await deps.heavy.run(() =>
        store.verify((done, total) => ctx.progress(done, total, 'blobs verified')),
      );
      return {
        blobsChecked: r.blobsChecked,
        replicasChecked: r.checked,
        replicasOk: r.ok,
        replicasMissing: r.missing,
        replicasCorrupt: r.corrupt,
        replicasRepaired: r.repaired,
        unrecoverable: r.unrecoverable,
        whole: r.unrecoverable.length === 0 && r.ok + r.repaired === r.checked,
        durationMs: performance.now() - started,
      };
    },
  );

  registerTool(
    server,
    'server_info',
    {
      title: 'Storage server info',
      description:
        'Tools, capabilities, enforced limits, and figures measured now: disk total/free (statfs), objects, bytes stored, replication.',
      inputSchema: s.serverInfoInput,
      outputSchema: s.serverInfoOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      const fsStats = await fs.statfs(store.dataDir);
      const st = store.stats();
      return {
        server: 'storage',
        version: STORAGE_SERVER_VERSION,
        tools: [...STORAGE_TOOLS],
        capabilities: {
          replicationFactor: store.zones,
          zones: Array.from({ length: store.zones }, (_, i) => `zone-${i + 1}`),
          contentAddressed: true,
          versioning: true,
          verifyOnRead: true,
          signedUrls: true,
          backupFormat: `tar.gz (${BACKUP_FORMAT})`,
          objectApi: '/objects/<key>',
          importSources: ['path', 'storage://', 'loopback-url', 'base64'],
          gpu: false,
        },
        limits: {
          rateLimitPerMinute: null,
          maxConcurrent: deps.heavy.max,
          maxObjectBytes: deps.maxObjectBytes,
          inlineMaxBytes: deps.inlineMaxBytes,
          maxBodyBytes: deps.maxBodyBytes,
          listLimitMax: LIST_LIMIT_MAX,
          signedUrlMaxTtlS: MAX_SIGNED_URL_TTL_S,
          maxKeyLength: MAX_KEY_LENGTH,
          importRoots: deps.importRoots,
          fetchAllowlist: deps.fetchAllowlist(),
        },
        measured: {
          diskTotalBytes: Number(fsStats.blocks) * Number(fsStats.bsize),
          diskFreeBytes: Number(fsStats.bavail) * Number(fsStats.bsize),
          objects: st.keys,
          versions: st.versions,
          bytesStored: st.logicalBytes,
          uniqueBlobs: st.blobs,
          uniqueBlobBytes: st.uniqueBytes,
          replicaBytes: st.uniqueBytes * store.zones,
          backupsRecorded: deps.catalog.size,
          idempotencyKeys: deps.idempotency.size,
          heavyInUse: deps.heavy.inUse,
          cpuCount: os.cpus().length,
          loadAvg1m: os.loadavg()[0] ?? 0,
          measuredAt: new Date().toISOString(),
        },
      };
    },
  );

  return server;
}
