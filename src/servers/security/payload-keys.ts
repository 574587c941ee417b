import crypto from 'node:crypto';
import path from 'node:path';
import { gcmOpen, gcmSeal, KEY_BYTES } from './envelope';
import type { MasterKeyRing } from './master-keys';
import { assertOwnerOnly, readJsonFile, writeSecretFile } from './secret-files';

/** Name of the data key set that encrypts Temporal payloads (src/codec). */
export const PAYLOAD_KEY_NAME = 'temporal-payloads';

interface WrappedPayloadKey {
  kid: string;
  createdAt: string;
  /** Master key that wraps this key (retained forever, so old wraps always open). */
  masterKid: string;
  iv: string;
  tag: string;
  wrappedKey: string;
}

interface PayloadKeyFile {
  version: 1;
  name: string;
  active: string;
  keys: WrappedPayloadKey[];
}

/** One unwrapped payload key, as handed to authorized codec clients. */
export interface PayloadKeyMaterial {
  kid: string;
  createdAt: string;
  /** 32 raw bytes. */
  key: Buffer;
}

/**
 * The data keys of the Temporal payload codec, kept in `<dataDir>/keys/payload-keys.json` (0600), each
 * wrapped (AES-256-GCM) by a master key, so the file alone — a backup, a copied volume — reveals nothing
 * without `master-keys.json`. Rotation adds a key and makes it active; old keys are retained, so
 * histories encrypted under them stay readable.
 */
export class PayloadKeyRing {
  private state: PayloadKeyFile;
  readonly file: string;

  constructor(
    dataDir: string,
    private readonly masters: MasterKeyRing,
  ) {
    this.file = path.join(dataDir, 'keys', 'payload-keys.json');
    const existing = readJsonFile<PayloadKeyFile>(this.file);
    if (existing) {
      assertOwnerOnly(this.file);
      if (!Array.isArray(existing.keys) || !existing.keys.some((k) => k.kid === existing.active))
        throw new Error(`${this.file}: active key id ${String(existing.active)} is not among its keys`);
      this.state = existing;
      // Unwrap once now, so a missing master key fails the start rather than the first codec client.
      this.all();
    } else {
      this.state = { version: 1, name: PAYLOAD_KEY_NAME, active: '', keys: [] };
      this.rotate();
    }
  }

  get name(): string {
    return this.state.name;
  }

  /** Id of the key new payloads are encrypted with. */
  activeKid(): string {
    return this.state.active;
  }

  /** All retained key ids, oldest first. */
  kids(): string[] {
    return this.state.keys.map((k) => k.kid);
  }

  private aad(kid: string, masterKid: string): Buffer {
    return Buffer.from(`mcp-payload-key/v1\0${this.state.name}\0${kid}\0${masterKid}`, 'utf8');
  }

  /** Every retained key, unwrapped (the caller must not log or persist them). */
  all(): PayloadKeyMaterial[] {
    return this.state.keys.map((k) => {
      const master = this.masters.resolve(k.masterKid);
      if (!master)
        throw new Error(
          `${this.file}: payload key ${k.kid} is wrapped by master key ${k.masterKid}, which master-keys.json no longer holds`,
        );
      const key = gcmOpen(
        master,
        {
          iv: Buffer.from(k.iv, 'base64'),
          tag: Buffer.from(k.tag, 'base64'),
          ciphertext: Buffer.from(k.wrappedKey, 'base64'),
        },
        this.aad(k.kid, k.masterKid),
      );
      return { kid: k.kid, createdAt: k.createdAt, key };
    });
  }

  /** Generates a new active payload key (wrapped by the active master key); returns its id and the previous one. */
  rotate(): { kid: string; previousKid?: string } {
    const previousKid = this.state.active || undefined;
    const createdAt = new Date().toISOString();
    const kid = `pk-${createdAt.slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(6).toString('hex')}`;
    const master = this.masters.active();
    const key = crypto.randomBytes(KEY_BYTES);
    try {
      const wrap = gcmSeal(master.key, key, this.aad(kid, master.kid));
      const next: PayloadKeyFile = {
        ...this.state,
        active: kid,
        keys: [
          ...this.state.keys,
          {
            kid,
            createdAt,
            masterKid: master.kid,
            iv: wrap.iv.toString('base64'),
            tag: wrap.tag.toString('base64'),
            wrappedKey: wrap.ciphertext.toString('base64'),
          },
        ],
      };
      writeSecretFile(this.file, JSON.stringify(next, null, 2));
      this.state = next;
    } finally {
      key.fill(0);
    }
    return { kid, previousKid };
  }
}
