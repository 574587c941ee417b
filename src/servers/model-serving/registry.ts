import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './model-files';
import type { TensorInfo } from './onnx-inspect';

/** One deployed version of a model, as persisted. */
export interface VersionRecord {
  version: string;
  model_uri: string;
  sha256: string;
  size_bytes: number;
  /** Version number of the storage object that was fetched. */
  storage_version: number;
  metadata: Record<string, unknown>;
  deployed_at: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  users: number | null;
  items: number | null;
  /** Predictions answered by this version, across restarts. */
  predictions: number;
}

/** A model name: its versions (oldest first) and which one answers predictions. */
export interface ModelRecord {
  name: string;
  active_version: string | null;
  versions: VersionRecord[];
}

interface RegistryFile {
  format: 1;
  models: ModelRecord[];
}

/**
 * The deployment registry, persisted as `<dataDir>/registry.json` (rewritten atomically on every
 * change) so a restarted service reloads what was deployed.
 */
export class Registry {
  private readonly file: string;
  private readonly models = new Map<string, ModelRecord>();

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.file = path.join(dataDir, 'registry.json');
    if (fs.existsSync(this.file)) {
      const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as RegistryFile;
      if (parsed.format !== 1)
        throw new Error(`${this.file}: unknown registry format ${String(parsed.format)}`);
      for (const m of parsed.models) this.models.set(m.name, m);
    }
  }

  get(name: string): ModelRecord | undefined {
    return this.models.get(name);
  }

  all(): ModelRecord[] {
    return [...this.models.values()];
  }

  get size(): number {
    return this.models.size;
  }

  set(record: ModelRecord): void {
    this.models.set(record.name, record);
  }

  delete(name: string): boolean {
    return this.models.delete(name);
  }

  /** True when any version of any model still uses this file. */
  references(sha256: string): boolean {
    return this.all().some((m) => m.versions.some((v) => v.sha256 === sha256));
  }

  save(): void {
    const body: RegistryFile = { format: 1, models: this.all() };
    writeFileAtomic(this.file, JSON.stringify(body, null, 2));
  }
}
