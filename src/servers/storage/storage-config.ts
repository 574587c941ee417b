import { z } from 'zod';

/** Storage-specific options on top of the kit's base config; each has an env variable (see README). */
export interface StorageOptions {
  /** Replicas per blob, one per zone directory. Env `MCP_STORAGE_ZONES`. @default 3 */
  zones?: number;
  /** Bearer token of the object API. Env `MCP_SERVICE_TOKEN`. Unset: only signed GET URLs work. */
  serviceToken?: string;
  /** HMAC key of signed GET URLs. Env `MCP_STORAGE_SIGNING_SECRET`. @default random per start */
  signingSecret?: string;
  /** Folders `upload_file` may import from. Env `MCP_STORAGE_IMPORT_ROOTS` (comma-separated). @default [dataDir/inbox] */
  importRoots?: string[];
  /**
   * Origins (`http://127.0.0.1:8001`) `upload_file` may fetch from; loopback hosts only. Env
   * `MCP_STORAGE_FETCH_ALLOWLIST`. @default loopback origins of every `MCP_*_URL` variable, plus this server
   */
  fetchAllowlist?: string[];
  /** Largest object accepted (PUT, import, fetch, restore). Env `MCP_STORAGE_MAX_OBJECT_BYTES`. @default 268435456 */
  maxObjectBytes?: number;
  /** Largest inline base64 upload/download, in decoded bytes. Env `MCP_STORAGE_INLINE_MAX_BYTES`. @default 1048576 */
  inlineMaxBytes?: number;
  /** Base URL put in signed URLs, when clients reach the server under another name. Env `MCP_STORAGE_PUBLIC_URL`. */
  publicUrl?: string;
}

export const DEFAULT_ZONES = 3;
export const DEFAULT_MAX_OBJECT_BYTES = 256 * 1024 * 1024;
export const DEFAULT_INLINE_MAX_BYTES = 1024 * 1024;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** True for http(s) URLs whose host is a loopback name or address. */
export function isLoopbackHttpOrigin(u: URL): boolean {
  return (
    (u.protocol === 'http:' || u.protocol === 'https:') &&
    (LOOPBACK_HOSTS.has(u.hostname) || /^127\.\d+\.\d+\.\d+$/.test(u.hostname))
  );
}

const list = (v: string | undefined) =>
  v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

const envSchema = z.object({
  zones: z.coerce.number().int().min(1).max(16).optional(),
  serviceToken: z.string().min(1).optional(),
  signingSecret: z.string().min(16, 'MCP_STORAGE_SIGNING_SECRET must be at least 16 characters').optional(),
  importRoots: z.array(z.string().min(1)).optional(),
  fetchAllowlist: z.array(z.string().url()).optional(),
  maxObjectBytes: z.coerce.number().int().positive().optional(),
  inlineMaxBytes: z.coerce.number().int().positive().optional(),
  publicUrl: z.string().url().optional(),
});

/** Reads {@link StorageOptions} from the environment, failing with the variable's meaning on bad values. */
export function loadStorageOptions(env: NodeJS.ProcessEnv = process.env): StorageOptions {
  const stackUrls = Object.entries(env)
    .filter(([k, v]) => /^MCP_[A-Z0-9_]+_URL$/.test(k) && v)
    .flatMap(([, v]) => {
      try {
        const u = new URL(v as string);
        return isLoopbackHttpOrigin(u) ? [u.origin] : [];
      } catch {
        return [];
      }
    });
  const parsed = envSchema.safeParse({
    zones: env.MCP_STORAGE_ZONES || undefined,
    serviceToken: env.MCP_SERVICE_TOKEN || undefined,
    signingSecret: env.MCP_STORAGE_SIGNING_SECRET || undefined,
    importRoots: list(env.MCP_STORAGE_IMPORT_ROOTS),
    fetchAllowlist:
      list(env.MCP_STORAGE_FETCH_ALLOWLIST) ?? (stackUrls.length ? [...new Set(stackUrls)] : undefined),
    maxObjectBytes: env.MCP_STORAGE_MAX_OBJECT_BYTES || undefined,
    inlineMaxBytes: env.MCP_STORAGE_INLINE_MAX_BYTES || undefined,
    publicUrl: env.MCP_STORAGE_PUBLIC_URL || undefined,
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid storage server configuration: ${issues}`);
  }
  const out: StorageOptions = {};
  for (const [k, v] of Object.entries(parsed.data))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
