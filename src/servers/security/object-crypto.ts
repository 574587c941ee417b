import crypto from 'node:crypto';
import { type ObjectStoreClient, OBJECT_URI_PREFIX, ToolError, type StoredObject } from '../kit';
import type { AuditLog } from './audit-log';
import {
  ENVELOPE_ALG,
  EnvelopeError,
  looksLikeEnvelope,
  openEnvelope,
  parseEnvelope,
  sealEnvelope,
} from './envelope';
import type { MasterKeyRing } from './master-keys';

/** Waits for a free slot so a burst of large objects cannot exhaust memory. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
  get inUse(): number {
    return this.active;
  }
}

export interface CryptoResult {
  source: { uri: string; version: number; size: number };
  output: StoredObject;
  kid: string;
  alg: typeof ENVELOPE_ALG;
  plaintextBytes: number;
  plaintextSha256: string;
}

function keyOf(uriOrKey: string): string {
  return uriOrKey.startsWith(OBJECT_URI_PREFIX) ? uriOrKey.slice(OBJECT_URI_PREFIX.length) : uriOrKey;
}

/**
 * Envelope encryption of storage objects: fetch from the storage server, seal or open in memory,
 * write the result back as a new object. Each call is audited.
 */
export class ObjectCrypto {
  private readonly slots: Semaphore;

  constructor(
    private readonly store: ObjectStoreClient | undefined,
    private readonly keys: MasterKeyRing,
    private readonly audit: AuditLog,
    private readonly opts: { maxObjectBytes: number; maxConcurrent: number },
  ) {
    this.slots = new Semaphore(opts.maxConcurrent);
  }

  get inFlight(): number {
    return this.slots.inUse;
  }

  private storeOrFail(): ObjectStoreClient {
    if (!this.store)
      throw new ToolError(
        'the storage server is not configured: set MCP_STORAGE_URL (and MCP_SERVICE_TOKEN) for the security server',
        'storage_unconfigured',
      );
    return this.store;
  }

  private async fetch(key: string): Promise<{ bytes: Uint8Array; version: number }> {
    let got: { bytes: Uint8Array; version: number };
    try {
      got = await this.storeOrFail().get(key);
    } catch (err) {
      const msg = (err as Error).message;
      if (err instanceof ToolError) throw err;
      if (/not found/i.test(msg))
        throw new ToolError(`object storage://${key} does not exist; check the uri`, 'not_found');
      throw new ToolError(
        `could not read storage://${key} from the storage server: ${msg}`,
        'storage_unavailable',
      );
    }
    if (got.bytes.length > this.opts.maxObjectBytes) {
      throw new ToolError(
        `object storage://${key} is ${got.bytes.length} bytes; the limit is ${this.opts.maxObjectBytes} (MCP_SECURITY_MAX_OBJECT_BYTES)`,
        'too_large',
      );
    }
    return got;
  }

  private async put(
    key: string,
    bytes: Uint8Array,
    idempotencyKey: string | undefined,
    metadata: Record<string, unknown>,
  ): Promise<StoredObject> {
    try {
      const o = await this.storeOrFail().put(key, bytes, { idempotencyKey, metadata });
      // Only the reference fields: the store may echo more (e.g. the metadata written), which the
      // tools' output schema does not declare.
      return { uri: o.uri, key: o.key, version: o.version, sha256: o.sha256, size: o.size };
    } catch (err) {
      throw new ToolError(
        `could not write storage://${key}: ${(err as Error).message}`,
        'storage_unavailable',
      );
    }
  }

  async encrypt(args: {
    uri: string;
    outputKey?: string;
    actor: string;
    idempotencyKey?: string;
  }): Promise<CryptoResult> {
    const sourceKey = keyOf(args.uri);
    const outputKey = args.outputKey ?? `${sourceKey}.enc`;
    return this.slots.run(async () => {
      const src = await this.fetch(sourceKey);
      if (looksLikeEnvelope(src.bytes)) {
        throw new ToolError(
          `storage://${sourceKey} is already an envelope (kid ${safeKid(src.bytes)}); decrypt it first or encrypt the plaintext object`,
          'already_encrypted',
        );
      }
      const master = this.keys.active();
      const sealed = sealEnvelope(src.bytes, { objectKey: outputKey, master });
      const plaintextSha256 = crypto.createHash('sha256').update(src.bytes).digest('hex');
      const output = await this.put(outputKey, sealed, args.idempotencyKey, {
        encryption: {
          alg: ENVELOPE_ALG,
          kid: master.kid,
          source: `${OBJECT_URI_PREFIX}${sourceKey}`,
          sourceVersion: src.version,
          plaintextBytes: src.bytes.length,
          plaintextSha256,
        },
      });
      this.audit.append({
        actor: args.actor,
        action: 'object.encrypt',
        resource: `${OBJECT_URI_PREFIX}${sourceKey}`,
        outcome: 'success',
        details: {
          output: output.uri,
          outputVersion: output.version,
          kid: master.kid,
          bytes: src.bytes.length,
        },
      });
      return {
        source: { uri: `${OBJECT_URI_PREFIX}${sourceKey}`, version: src.version, size: src.bytes.length },
        output,
        kid: master.kid,
        alg: ENVELOPE_ALG,
        plaintextBytes: src.bytes.length,
        plaintextSha256,
      };
    });
  }

  async decrypt(args: {
    uri: string;
    outputKey?: string;
    actor: string;
    idempotencyKey?: string;
  }): Promise<CryptoResult> {
    const sourceKey = keyOf(args.uri);
    const outputKey =
      args.outputKey ??
      (sourceKey.endsWith('.enc') && sourceKey.length > 4 ? sourceKey.slice(0, -4) : `${sourceKey}.dec`);
    return this.slots.run(async () => {
      const src = await this.fetch(sourceKey);
      let opened: { plaintext: Buffer; kid: string };
      try {
        opened = openEnvelope(src.bytes, {
          objectKey: sourceKey,
          resolveKey: (kid) => this.keys.resolve(kid),
        });
      } catch (err) {
        if (!(err instanceof EnvelopeError)) throw err;
        this.audit.append({
          actor: args.actor,
          action: 'object.decrypt',
          resource: `${OBJECT_URI_PREFIX}${sourceKey}`,
          outcome: 'failure',
          details: { code: err.code, reason: err.message },
        });
        const code =
          err.code === 'malformed' && !looksLikeEnvelope(src.bytes) ? 'not_encrypted' : `decrypt_${err.code}`;
        throw new ToolError(`cannot decrypt storage://${sourceKey}: ${err.message}`, code);
      }
      const plaintextSha256 = crypto.createHash('sha256').update(opened.plaintext).digest('hex');
      const output = await this.put(outputKey, opened.plaintext, args.idempotencyKey, {
        decryptedFrom: `${OBJECT_URI_PREFIX}${sourceKey}`,
        sourceVersion: src.version,
        kid: opened.kid,
      });
      this.audit.append({
        actor: args.actor,
        action: 'object.decrypt',
        resource: `${OBJECT_URI_PREFIX}${sourceKey}`,
        outcome: 'success',
        details: {
          output: output.uri,
          outputVersion: output.version,
          kid: opened.kid,
          bytes: opened.plaintext.length,
        },
      });
      return {
        source: { uri: `${OBJECT_URI_PREFIX}${sourceKey}`, version: src.version, size: src.bytes.length },
        output,
        kid: opened.kid,
        alg: ENVELOPE_ALG,
        plaintextBytes: opened.plaintext.length,
        plaintextSha256,
      };
    });
  }
}

function safeKid(bytes: Uint8Array): string {
  try {
    return parseEnvelope(bytes).header.kid;
  } catch {
    return 'unknown';
  }
}
