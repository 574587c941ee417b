import { z } from 'zod';

/**
 * Input and output shapes of the storage server's tools. Pure data: no side effects here.
 */

const key = z
  .string()
  .min(1)
  .max(512)
  .describe(
    'Object key: a relative path such as "datasets/extract.parquet" (segments of A-Z a-z 0-9 . _ - = + @ , ~)',
  );
const metadata = z
  .record(z.string(), z.unknown())
  .describe('Caller-defined JSON metadata stored with the version');
const sha256 = z.string().describe('SHA-256 of the bytes, lowercase hex');
const uri = z.string().describe('Object reference, storage://<key>');
const version = z.number().int().positive().describe('Version number of the key (1, 2, …; never reused)');

const replicaCheck = {
  replicasChecked: z.number().int().describe('Replicas hashed while serving this call'),
  replicasRepaired: z.number().int().describe('Missing or damaged replicas rewritten from a good one'),
};

export const uploadFileInput = {
  key,
  path: z
    .string()
    .optional()
    .describe('Import source: file path relative to an import root (MCP_STORAGE_IMPORT_ROOTS)'),
  root: z.string().optional().describe('Which import root `path` is relative to; default the first one'),
  url: z
    .string()
    .optional()
    .describe(
      'Import source: storage://<key> (copy within the store) or an http(s) URL on the loopback stack allowlist',
    ),
  content: z
    .string()
    .optional()
    .describe(
      'Import source: the bytes, base64-encoded (small objects only; see server_info limits.inlineMaxBytes)',
    ),
  metadata: metadata.optional(),
};
export const uploadFileOutput = {
  uri,
  key: z.string().describe('Object key'),
  version,
  sha256,
  size: z.number().int().describe('Size in bytes'),
  metadata: metadata.optional(),
  source: z.enum(['path', 'url', 'object', 'content']).describe('Where the bytes came from'),
  replicas: z.number().int().describe('Zone replicas written and holding the bytes'),
};

export const downloadFileInput = {
  key: z.string().min(1).max(600).describe('Object key or storage://<key> URI'),
  version: version.optional().describe('Version to fetch; default the latest'),
  expiresInSeconds: z
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(900)
    .describe('Lifetime of the signed URL in seconds (max 86400)'),
  inline: z
    .boolean()
    .default(false)
    .describe('Also return the bytes as base64 (only for objects up to limits.inlineMaxBytes)'),
};
export const downloadFileOutput = {
  uri,
  key: z.string().describe('Object key'),
  version,
  sha256,
  size: z.number().int().describe('Size in bytes'),
  metadata: metadata.optional(),
  createdAt: z.string().describe('When this version was stored (ISO 8601)'),
  url: z.string().describe('Signed GET URL for this exact version, usable without a token until expiresAt'),
  expiresAt: z.string().describe('Expiry of the signed URL (ISO 8601)'),
  contentBase64: z.string().optional().describe('The bytes, base64, when inline was requested'),
  ...replicaCheck,
};

export const listFilesInput = {
  prefix: z.string().max(512).default('').describe('Only keys starting with this prefix ("" = all)'),
  cursor: z.string().max(1024).optional().describe('nextCursor from the previous page'),
  limit: z.number().int().min(1).max(1000).default(100).describe('Page size (max 1000)'),
};
export const listFilesOutput = {
  items: z
    .array(
      z.object({
        uri,
        key: z.string().describe('Object key'),
        version: version.describe('Latest version'),
        versions: z.number().int().describe('Live versions of the key'),
        sha256,
        size: z.number().int().describe('Size of the latest version in bytes'),
        createdAt: z.string().describe('When the latest version was stored'),
      }),
    )
    .describe('Keys in order, latest version each'),
  count: z.number().int().describe('Items on this page'),
  nextCursor: z.string().optional().describe('Pass as cursor for the next page; absent on the last page'),
};

export const deleteFileInput = {
  key: z.string().min(1).max(600).describe('Object key or storage://<key> URI'),
  version: version.optional().describe('Delete only this version; default all versions'),
};
export const deleteFileOutput = {
  key: z.string().describe('Object key'),
  deletedVersions: z
    .array(z.number().int())
    .describe('Versions removed by this call (empty if already gone)'),
  remainingVersions: z.array(z.number().int()).describe('Versions still stored'),
  blobsRemoved: z.number().int().describe('Content blobs no longer referenced and removed from every zone'),
};

export const backupDataInput = {
  prefix: z
    .string()
    .max(512)
    .describe('Back up the latest version of every key under this prefix ("" = everything except archives)'),
  tag: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .optional()
    .describe('Version tag of the backup (A-Z a-z 0-9 . _ -, up to 64); default backup-<UTC timestamp>'),
  archiveKey: z
    .string()
    .max(512)
    .optional()
    .describe('Key to store the archive under; default backups/<tag>.tar.gz'),
};
export const backupDataOutput = {
  archiveUri: uri.describe('The archive object, storage://<key>'),
  archiveKey: z.string().describe('Key of the archive object'),
  archiveVersion: version,
  archiveSha256: sha256.describe('SHA-256 of the compressed archive'),
  archiveBytes: z.number().int().describe('Compressed archive size in bytes'),
  tag: z.string().describe('Version tag of the backup'),
  prefix: z.string().describe('Prefix that was backed up'),
  fileCount: z.number().int().describe('Objects in the archive'),
  bytes: z.number().int().describe('Total uncompressed bytes of the archived objects'),
  manifestSha256: sha256.describe('SHA-256 of the manifest (key, version, sha256, size of each file)'),
  format: z.string().describe('Archive format: tar.gz with MANIFEST.json first'),
};

export const restoreBackupInput = {
  archive: z
    .string()
    .min(1)
    .max(600)
    .describe('Archive to restore: storage://<key> or key, as returned by backup_data'),
  version: version.optional().describe('Archive version; default the latest'),
  targetPrefix: z
    .string()
    .max(512)
    .optional()
    .describe('Restore under this prefix; default the prefix the backup was taken from'),
  expectedSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
    .describe('Refuse unless the archive has this SHA-256 (archiveSha256 from backup_data)'),
};
export const restoreBackupOutput = {
  tag: z.string().describe('Version tag of the backup'),
  sourcePrefix: z.string().describe('Prefix the backup was taken from'),
  targetPrefix: z.string().describe('Prefix restored into'),
  archiveSha256: sha256.describe('SHA-256 of the archive that was restored'),
  catalogMatch: z
    .boolean()
    .describe('True when this store made the archive and its sha256 matches the one recorded then'),
  fileCount: z.number().int().describe('Objects restored'),
  bytes: z.number().int().describe('Bytes restored'),
  checksumsVerified: z.number().int().describe('File checksums verified before writing'),
  restored: z
    .array(z.object({ uri, key: z.string().describe('Restored key'), version, sha256 }))
    .describe('Restored objects (first 100)'),
  restoredTruncated: z.boolean().describe('True when more objects were restored than listed'),
};

export const verifyStoreInput = {};
export const verifyStoreOutput = {
  blobsChecked: z.number().int().describe('Distinct content blobs checked'),
  replicasChecked: z.number().int().describe('Replica files hashed'),
  replicasOk: z.number().int().describe('Replicas that were intact'),
  replicasMissing: z.number().int().describe('Replicas found missing'),
  replicasCorrupt: z.number().int().describe('Replicas found with wrong bytes'),
  replicasRepaired: z.number().int().describe('Replicas rewritten from a good copy and re-verified'),
  unrecoverable: z
    .array(z.object({ sha256, keys: z.array(z.string()).describe('Keys referencing the blob') }))
    .describe('Blobs with no intact replica (data loss), first 50'),
  whole: z.boolean().describe('True when every replica of every blob is now intact'),
  durationMs: z.number().describe('Time taken, measured'),
};

export const serverInfoInput = {};
export const serverInfoOutput = {
  server: z.string().describe('Server name'),
  version: z.string().describe('Server version'),
  tools: z.array(z.string()).describe('Tool names'),
  capabilities: z
    .object({
      replicationFactor: z.number().int().describe('Replicas per object, one per zone'),
      zones: z.array(z.string()).describe('Zone directory names'),
      contentAddressed: z.boolean().describe('Blobs are stored by SHA-256'),
      versioning: z.boolean().describe('Every upload adds a version'),
      verifyOnRead: z.boolean().describe('Every read hashes all replicas and repairs bad ones'),
      signedUrls: z.boolean().describe('download_file returns time-limited signed GET URLs'),
      backupFormat: z.string().describe('Archive format of backup_data'),
      objectApi: z.string().describe('HTTP object API path'),
      importSources: z.array(z.string()).describe('Sources upload_file accepts'),
      gpu: z.boolean().describe('GPU present (this server does not use one)'),
    })
    .describe('Facts about what the server can do'),
  limits: z
    .object({
      rateLimitPerMinute: z
        .number()
        .nullable()
        .describe('Requests per minute enforced; null = not enforced by this server'),
      maxConcurrent: z
        .number()
        .int()
        .describe('Heavy tools (backup, restore, verify) run at once; others queue'),
      maxObjectBytes: z.number().int().describe('Largest object accepted'),
      inlineMaxBytes: z.number().int().describe('Largest inline base64 upload or download (decoded bytes)'),
      maxBodyBytes: z.number().int().describe('Largest MCP request body'),
      listLimitMax: z.number().int().describe('Largest list_files page'),
      signedUrlMaxTtlS: z.number().int().describe('Longest signed URL lifetime, seconds'),
      maxKeyLength: z.number().int().describe('Longest key, characters'),
      importRoots: z.array(z.string()).describe('Folders upload_file may read from'),
      fetchAllowlist: z.array(z.string()).describe('Origins upload_file may fetch from'),
    })
    .describe('Limits as enforced'),
  measured: z
    .object({
      diskTotalBytes: z.number().describe('Size of the file system holding the data dir (fs.statfs)'),
      diskFreeBytes: z.number().describe('Free bytes available there (fs.statfs)'),
      objects: z.number().int().describe('Live keys'),
      versions: z.number().int().describe('Live versions'),
      bytesStored: z.number().describe('Logical bytes over all versions'),
      uniqueBlobs: z.number().int().describe('Distinct content blobs'),
      uniqueBlobBytes: z.number().describe('Bytes of distinct blobs (after dedup)'),
      replicaBytes: z.number().describe('Bytes on disk over all replicas (uniqueBlobBytes × zones)'),
      backupsRecorded: z.number().int().describe('Backups in the catalog'),
      idempotencyKeys: z.number().int().describe('Idempotency keys remembered'),
      heavyInUse: z.number().int().describe('Heavy tools running now'),
      cpuCount: z.number().int().describe('CPU cores (os.cpus)'),
      loadAvg1m: z.number().describe('1-minute load average'),
      measuredAt: z.string().describe('When these figures were taken'),
    })
    .describe('Figures measured now on this machine'),
};
