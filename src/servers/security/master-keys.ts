import crypto from 'node:crypto';
import path from 'node:path';
import { KEY_BYTES, type MasterKey } from './envelope';
import { assertOwnerOnly, readJsonFile, writeSecretFile } from './secret-files';

interface MasterKeyFile {
  active: string;
  keys: { kid: string; createdAt: string; key: string }[];
}

/**
 * The master keys that wrap data keys, kept in `<dataDir>/keys/master-keys.json` (0600). Rotation adds
 * a key and makes it active; old keys are retained so envelopes sealed under them stay readable.
 */
export class MasterKeyRing {
  private state: MasterKeyFile;
  readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'keys', 'master-keys.json');
    const existing = readJsonFile<MasterKeyFile>(this.file);
    if (existing) {
      assertOwnerOnly(this.file);
      this.state = existing;
      if (!this.state.keys.some((k) => k.kid === this.state.active))
        throw new Error(`${this.file}: active key id ${this.state.active} is not among its keys`);
    } else {
      this.state = { active: '', keys: [] };
      this.rotate();
    }
  }

  /** The key new envelopes are sealed with. */
  active(): MasterKey {
    return { kid: this.state.active, key: this.resolve(this.state.active)! };
  }

  /** The raw key for a key id, or undefined when the id is unknown. */
  resolve(kid: string): Buffer | undefined {
    const entry = this.state.keys.find((k) => k.kid === kid);
    return entry ? Buffer.from(entry.key, 'base64') : undefined;
  }

  /** All retained key ids, oldest first. */
  kids(): string[] {
    return this.state.keys.map((k) => k.kid);
  }

  /** Generates a new active key; returns its id and the previous one. */
  rotate(): { kid: string; previousKid?: string } {
    const previousKid = this.state.active || undefined;
    const createdAt = new Date().toISOString();
    // Date prefix keeps ids sortable by age for operators; the random part keeps them unique.
    const kid = `mk-${createdAt.slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(6).toString('hex')}`;
    const next: MasterKeyFile = {
      active: kid,
      keys: [...this.state.keys, { kid, createdAt, key: crypto.randomBytes(KEY_BYTES).toString('base64') }],
    };
    writeSecretFile(this.file, JSON.stringify(next, null, 2));
    this.state = next;
    return { kid, previousKid };
  }
}
