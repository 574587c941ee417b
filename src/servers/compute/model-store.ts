import fs from 'node:fs';
import path from 'node:path';
import type { ObjectStoreClient } from '../kit';

/** JSON metadata saved beside a model's binary factors. */
export interface ModelMeta {
  model_id: string;
  job_id: string;
  algorithm: string;
  created_at: string;
  factors: number;
  users: number;
  items: number;
  dataset_uri: string;
  hyperparameters: Record<string, unknown>;
  holdout: Record<string, unknown>;
  metrics: Record<string, unknown> | null;
  /** Binary layout of the factor files. */
  format: { dtype: 'float32'; byte_order: 'little-endian'; layout: 'row-major [rows, factors]' };
  artifacts: Record<string, string>;
}

/** A model ready to score: factors, id maps, each user's purchases, item popularity. */
export interface LoadedModel {
  meta: ModelMeta;
  userIds: string[];
  itemIds: string[];
  userIndex: Map<string, number>;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  /** Every known purchase (train and held out) per user, for "exclude already purchased". */
  seenIndptr: Int32Array;
  seenIndices: Int32Array;
  /** Distinct training customers per item (cold-start fallback). */
  popularity: Float64Array;
}

const MODEL_ID = /^mdl_[a-z0-9]{6,40}$/;
const MAX_CACHED = 8;

function le(view: ArrayBufferView): Buffer {
  // Every platform we run on is little-endian; the metadata records the order for other readers.
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function asTyped<T extends Float32Array | Int32Array | Float64Array>(buf: Buffer, Ctor: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
  const copy = new ArrayBuffer(buf.length);
  new Uint8Array(copy).set(buf);
  return new Ctor(copy);
}

/**
 * Model artifacts on local disk (`<dataDir>/models/<id>/`, what predict reads) and in the storage
 * server (`models/<id>/…`, what other servers fetch), with a small in-memory cache.
 */
export class ModelStore {
  private readonly cache = new Map<string, LoadedModel>();
  private readonly root: string;

  constructor(
    dataDir: string,
    private readonly objects: ObjectStoreClient,
  ) {
    this.root = path.join(dataDir, 'models');
    fs.mkdirSync(this.root, { recursive: true });
  }

  static isValidId(id: string): boolean {
    return MODEL_ID.test(id);
  }

  /** Writes the model locally and uploads its artifacts; returns artifact URIs by name. */
  async save(m: LoadedModel, idempotencyKey?: string): Promise<Record<string, string>> {
    const id = m.meta.model_id;
    const dir = path.join(this.root, id);
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.mkdirSync(tmp, { recursive: true });
    const files: Record<string, Buffer> = {
      'user_factors.f32': le(m.userFactors),
      'item_factors.f32': le(m.itemFactors),
      'seen_indptr.i32': le(m.seenIndptr),
      'seen_indices.i32': le(m.seenIndices),
      'popularity.f64': le(m.popularity),
      'ids.json': Buffer.from(JSON.stringify({ users: m.userIds, items: m.itemIds })),
    };
    const artifacts: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(files)) {
      const stored = await this.objects.put(`models/${id}/${name}`, bytes, {
        idempotencyKey: idempotencyKey ? `${idempotencyKey}:${name}` : undefined,
        metadata: { model_id: id, producer: 'compute.train_model' },
      });
      artifacts[name] = stored.uri;
      await fs.promises.writeFile(path.join(tmp, name), bytes);
    }
    m.meta.artifacts = { ...artifacts };
    const metaBytes = Buffer.from(JSON.stringify(m.meta, null, 2));
    const metaStored = await this.objects.put(`models/${id}/meta.json`, metaBytes, {
      idempotencyKey: idempotencyKey ? `${idempotencyKey}:meta.json` : undefined,
      metadata: { model_id: id, producer: 'compute.train_model' },
    });
    m.meta.artifacts['meta.json'] = metaStored.uri;
    await fs.promises.writeFile(path.join(tmp, 'meta.json'), JSON.stringify(m.meta, null, 2));
    fs.rmSync(dir, { recursive: true, force: true });
    // Rename last so a crash never leaves a half-written model that predict would load.
    fs.renameSync(tmp, dir);
    this.remember(m);
    return m.meta.artifacts;
  }

  private remember(m: LoadedModel): void {
    this.cache.delete(m.meta.model_id);
    this.cache.set(m.meta.model_id, m);
    while (this.cache.size > MAX_CACHED) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  /** The model, from memory or local disk; undefined when unknown. */
  async get(id: string): Promise<LoadedModel | undefined> {
    if (!ModelStore.isValidId(id)) return undefined;
    const hit = this.cache.get(id);
    if (hit) return hit;
    const dir = path.join(this.root, id);
    if (!fs.existsSync(path.join(dir, 'meta.json'))) return undefined;
    const read = (n: string) => fs.promises.readFile(path.join(dir, n));
    const meta = JSON.parse((await read('meta.json')).toString('utf8')) as ModelMeta;
    const ids = JSON.parse((await read('ids.json')).toString('utf8')) as { users: string[]; items: string[] };
    const m: LoadedModel = {
      meta,
      userIds: ids.users,
      itemIds: ids.items,
      userIndex: new Map(ids.users.map((u, i) => [u, i])),
      userFactors: asTyped(await read('user_factors.f32'), Float32Array),
      itemFactors: asTyped(await read('item_factors.f32'), Float32Array),
      seenIndptr: asTyped(await read('seen_indptr.i32'), Int32Array),
      seenIndices: asTyped(await read('seen_indices.i32'), Int32Array),
      popularity: asTyped(await read('popularity.f64'), Float64Array),
    };
    this.remember(m);
    return m;
  }

  /** Models saved on local disk. */
  count(): number {
    return fs.readdirSync(this.root).filter((d) => MODEL_ID.test(d)).length;
  }
}
