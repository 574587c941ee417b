import type { Logger, ObjectStoreClient } from '../kit';
import { objectKeyFromUri } from '../kit';
import { InferenceError, InferenceTimeoutError, type InferenceHost } from './inference-host';
import type { ModelFiles } from './model-files';
import { sha256Hex } from './model-files';
import { inspectOnnx, OnnxFormatError, scoringSignature } from './onnx-inspect';
import type { ModelRecord, Registry, VersionRecord } from './registry';
import type { DeployRequest, PredictRequest } from './schemas';

/** An expected failure with the HTTP status it maps to and a message that says what to fix. */
export class ServingError extends Error {
  override name = 'ServingError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 429 | 502 | 503 | 504,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface DeploymentLimits {
  maxModelBytes: number;
  maxModels: number;
  keepVersions: number;
  maxK: number;
  maxInflight: number;
  inferenceTimeoutMs: number;
}

export interface DeploymentDeps {
  registry: Registry;
  files: ModelFiles;
  host: InferenceHost;
  objects: ObjectStoreClient;
  limits: DeploymentLimits;
  log: Logger;
  /** Base URL callers reach this service at (for the `endpoint` field). */
  baseUrl: () => string;
}

/** Live (not persisted) state of one loaded version. */
interface LiveVersion {
  status: 'loaded' | 'failed';
  loadedMs: number;
  warmupMs: number;
  error?: string;
}

export interface DeployResult {
  created: boolean;
  body: Record<string, unknown>;
}

const DEFAULT_K = 10;
const LATENCY_WINDOW = 1000;

function sessionId(name: string, version: string): string {
  return `${name}@${version}`;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The serving use cases: deploy a version from storage, answer predictions with the active version,
 * list, undeploy. Changes to one model name are serialized; predictions run concurrently up to a cap.
 */
export class Deployments {
  private readonly live = new Map<string, LiveVersion>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private inflight = 0;
  private readonly latencies: number[] = [];
  private dirtyCounts = false;

  constructor(private readonly d: DeploymentDeps) {}

  /** Reloads every persisted version (from the local copy, else from storage); failures are recorded, not fatal. */
  async restore(): Promise<{ loaded: number; failed: number }> {
    let loaded = 0;
    let failed = 0;
    for (const m of this.d.registry.all()) {
      for (const v of m.versions) {
        const t0 = performance.now();
        try {
          if (!this.d.files.has(v.sha256)) {
            const { bytes } = await this.fetchVerified(v.model_uri, v.sha256);
            this.d.files.put(bytes, v.sha256);
          }
          const reply = await this.d.host.load(sessionId(m.name, v.version), this.d.files.pathOf(v.sha256));
          this.live.set(sessionId(m.name, v.version), {
            status: 'loaded',
            loadedMs: reply.loadMs,
            warmupMs: 0,
          });
          loaded++;
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          this.live.set(sessionId(m.name, v.version), {
            status: 'failed',
            loadedMs: performance.now() - t0,
            warmupMs: 0,
            error: msg,
          });
          this.d.log.error('could not reload a deployed model', {
            name: m.name,
            version: v.version,
            err: msg,
          });
          failed++;
        }
      }
    }
    return { loaded, failed };
  }

  private async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(name, settled);
    try {
      return await next;
    } finally {
      if (this.locks.get(name) === settled) this.locks.delete(name);
    }
  }

  /** Fetches an object and checks it against the storage's hash and, when given, the caller's. */
  private async fetchVerified(
    uri: string,
    expectedSha?: string,
  ): Promise<{ bytes: Uint8Array; version: number }> {
    let key: string;
    try {
      key = objectKeyFromUri(uri);
    } catch (err) {
      throw new ServingError(400, 'bad_model_uri', `model_uri: ${(err as Error).message}`);
    }
    let got: { bytes: Uint8Array; sha256: string; version: number };
    try {
      got = await this.d.objects.get(key);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      // The kit client reports a 404 with this wording; everything else is the storage side failing.
      if (msg.startsWith('storage object not found')) {
        throw new ServingError(
          404,
          'model_not_found',
          `model_uri ${uri}: no such object in the storage server; upload the ONNX model first`,
        );
      }
      throw new ServingError(
        502,
        'storage_unavailable',
        `could not fetch ${uri} from the storage server: ${msg}`,
      );
    }
    if (got.bytes.length > this.d.limits.maxModelBytes) {
      throw new ServingError(
        413,
        'model_too_large',
        `model_uri ${uri} is ${got.bytes.length} bytes, over the ${this.d.limits.maxModelBytes}-byte limit`,
      );
    }
    const actual = sha256Hex(got.bytes);
    if (got.sha256 && got.sha256 !== actual) {
      throw new ServingError(
        502,
        'transfer_corrupt',
        `the bytes received for ${uri} hash to ${actual} but the storage server reports ${got.sha256}; retry`,
      );
    }
    if (expectedSha && expectedSha.toLowerCase() !== actual) {
      throw new ServingError(
        400,
        'sha256_mismatch',
        `sha256 mismatch for ${uri}: expected ${expectedSha.toLowerCase()}, the object has ${actual}`,
      );
    }
    return { bytes: got.bytes, version: got.version };
  }

  private endpoint(name: string): string {
    return `${this.d.baseUrl()}/v1/models/${name}/predict`;
  }

  /**
   * Deploys (name, version) and makes it the active version. Repeating a deploy of the same
   * (name, version, object) is a no-op that re-activates it (`created: false`); the same (name,
   * version) from different bytes is a conflict.
   */
  deploy(req: DeployRequest): Promise<DeployResult> {
    if (req.encrypted === true) {
      return Promise.reject(
        new ServingError(
          400,
          'encrypted_not_served',
          'encrypted: true is not served; deploy the plaintext ONNX object (the encrypted copy is for archive)',
        ),
      );
    }
    return this.withLock(req.name, () => this.deployLocked(req));
  }

  private async deployLocked(req: DeployRequest): Promise<DeployResult> {
    const { name, version } = req;
    const existing = this.d.registry.get(name);
    const same = existing?.versions.find((v) => v.version === version);
    if (same && this.live.get(sessionId(name, version))?.status === 'loaded') {
      if (same.model_uri !== req.model_uri || (req.sha256 && req.sha256.toLowerCase() !== same.sha256)) {
        throw new ServingError(
          409,
          'version_conflict',
          `${name} version ${version} is already deployed from ${same.model_uri} (sha256 ${same.sha256}); deploy under a new version or undeploy it first`,
        );
      }
      if (existing!.active_version !== version) {
        existing!.active_version = version;
        this.d.registry.save();
      }
      return { created: false, body: this.deployBody(existing!, same) };
    }
    if (!existing && this.d.registry.size >= this.d.limits.maxModels) {
      throw new ServingError(
        409,
        'capacity',
        `${this.d.limits.maxModels} models are deployed (the limit); undeploy one before deploying ${name}`,
      );
    }

    const { bytes, version: storageVersion } = await this.fetchVerified(req.model_uri, req.sha256);
    let signature;
    try {
      const summary = inspectOnnx(bytes);
      signature = scoringSignature(summary);
    } catch (err) {
      if (err instanceof OnnxFormatError)
        throw new ServingError(
          400,
          'not_onnx',
          `model_uri ${req.model_uri} is not an ONNX model: ${err.message}`,
        );
      throw err;
    }
    if ('reason' in signature)
      throw new ServingError(
        400,
        'unsupported_model',
        `model_uri ${req.model_uri}: unsupported model signature: ${signature.reason}`,
      );

    const sha256 = sha256Hex(bytes);
    const file = this.d.files.put(bytes, sha256);
    const sid = sessionId(name, version);
    let loadMs: number;
    let warmupMs: number;
    try {
      const reply = await this.d.host.load(sid, file);
      loadMs = reply.loadMs;
      // A first inference proves the graph runs here, and pays the one-time warm-up before traffic.
      const warm = await this.d.host.run(sid, [0], 1, this.d.limits.inferenceTimeoutMs);
      warmupMs = warm.inferenceMs;
      if (signature.items !== null && warm.width !== signature.items) {
        throw new InferenceError(
          `the graph produced ${warm.width} scores per row, its declared output has ${signature.items}`,
        );
      }
    } catch (err) {
      await this.d.host.release(sid);
      if (!this.d.registry.references(sha256)) this.d.files.remove(sha256);
      const msg = err instanceof Error ? err.message : String(err);
      throw new ServingError(
        400,
        'onnx_load_failed',
        `model_uri ${req.model_uri}: onnxruntime could not load and run the model: ${msg}`,
      );
    }

    const record: VersionRecord = {
      version,
      model_uri: req.model_uri,
      sha256,
      size_bytes: bytes.length,
      storage_version: storageVersion,
      metadata: req.metadata ?? {},
      deployed_at: new Date().toISOString(),
      inputs: [signature.input],
      outputs: [signature.output],
      users: signature.users,
      items: signature.items,
      predictions: 0,
    };
    const model: ModelRecord = existing ?? { name, active_version: null, versions: [] };
    model.versions = model.versions.filter((v) => v.version !== version);
    model.versions.push(record);
    model.active_version = version;
    const retired = this.retire(model);
    this.d.registry.set(model);
    this.d.registry.save();
    this.live.set(sid, { status: 'loaded', loadedMs: loadMs, warmupMs });
    for (const v of retired) await this.dropVersion(name, v);
    this.d.log.info('deployed', {
      name,
      version,
      sha256,
      bytes: bytes.length,
      loadMs: round3(loadMs),
      retired: retired.map((v) => v.version),
    });
    return { created: true, body: this.deployBody(model, record) };
  }

  /** Oldest inactive versions beyond the keep limit, removed from the record. */
  private retire(model: ModelRecord): VersionRecord[] {
    const retired: VersionRecord[] = [];
    while (model.versions.length > this.d.limits.keepVersions) {
      const idx = model.versions.findIndex((v) => v.version !== model.active_version);
      if (idx < 0) break;
      retired.push(...model.versions.splice(idx, 1));
    }
    return retired;
  }

  private async dropVersion(name: string, v: VersionRecord): Promise<void> {
    const sid = sessionId(name, v.version);
    this.live.delete(sid);
    await this.d.host.release(sid);
    if (!this.d.registry.references(v.sha256)) this.d.files.remove(v.sha256);
  }

  private versionView(name: string, model: ModelRecord, v: VersionRecord) {
    const live = this.live.get(sessionId(name, v.version));
    return {
      version: v.version,
      status:
        live?.status !== 'loaded' ? 'failed' : model.active_version === v.version ? 'serving' : 'standby',
      ...(live?.error ? { error: live.error } : {}),
      model_uri: v.model_uri,
      sha256: v.sha256,
      size_bytes: v.size_bytes,
      storage_version: v.storage_version,
      deployed_at: v.deployed_at,
      loaded_ms: live ? round3(live.loadedMs) : null,
      predictions: v.predictions,
      users: v.users,
      items: v.items,
      inputs: v.inputs,
      outputs: v.outputs,
      metadata: v.metadata,
    };
  }

  private deployBody(model: ModelRecord, v: VersionRecord): Record<string, unknown> {
    const live = this.live.get(sessionId(model.name, v.version));
    return {
      name: model.name,
      version: v.version,
      status: 'serving',
      model_uri: v.model_uri,
      sha256: v.sha256,
      size_bytes: v.size_bytes,
      inputs: v.inputs,
      outputs: v.outputs,
      users: v.users,
      items: v.items,
      loaded_ms: live ? round3(live.loadedMs) : null,
      warmup_ms: live ? round3(live.warmupMs) : null,
      endpoint: this.endpoint(model.name),
    };
  }

  /** Scores one user with the active (or the named) version and returns the top k items. */
  async predict(name: string, req: PredictRequest): Promise<Record<string, unknown>> {
    const t0 = performance.now();
    if (
      req.customer_index !== undefined &&
      req.user_index !== undefined &&
      req.customer_index !== req.user_index
    ) {
      throw new ServingError(
        400,
        'bad_request',
        'give either customer_index or user_index, not two different values',
      );
    }
    const row = req.customer_index ?? req.user_index;
    if (row === undefined)
      throw new ServingError(
        400,
        'bad_request',
        'customer_index (or user_index) is required: the row of the user to score',
      );
    const k = req.k ?? DEFAULT_K;
    if (k > this.d.limits.maxK)
      throw new ServingError(400, 'bad_request', `k ${k} is over the limit of ${this.d.limits.maxK}`);
    const model = this.d.registry.get(name);
    if (!model)
      throw new ServingError(
        404,
        'unknown_model',
        `no model named ${name} is deployed; deploy it with POST /v1/models`,
      );
    const version = req.version ?? model.active_version;
    const v = model.versions.find((x) => x.version === version);
    if (!v || version === null)
      throw new ServingError(
        404,
        'unknown_version',
        `${name} has no deployed version ${String(version)}; deployed: ${model.versions.map((x) => x.version).join(', ')}`,
      );
    const live = this.live.get(sessionId(name, v.version));
    if (live?.status !== 'loaded') {
      throw new ServingError(
        503,
        'model_unavailable',
        `${name} version ${v.version} failed to load (${live?.error ?? 'not loaded'}); redeploy it`,
      );
    }
    if (v.users !== null && row >= v.users) {
      throw new ServingError(
        400,
        'index_out_of_range',
        `customer_index ${row} is out of range: ${name} version ${v.version} has ${v.users} users (0..${v.users - 1})`,
      );
    }
    if (this.inflight >= this.d.limits.maxInflight) {
      throw new ServingError(
        429,
        'too_many_requests',
        `${this.inflight} predictions are in flight (limit ${this.d.limits.maxInflight}); retry shortly`,
      );
    }
    this.inflight++;
    let reply;
    try {
      reply = await this.d.host.run(sessionId(name, v.version), [row], k, this.d.limits.inferenceTimeoutMs);
    } catch (err) {
      if (err instanceof InferenceTimeoutError) throw new ServingError(504, 'inference_timeout', err.message);
      if (!this.d.registry.get(name)?.versions.some((x) => x.version === v.version)) {
        throw new ServingError(
          404,
          'unknown_version',
          `${name} version ${v.version} was undeployed while predicting`,
        );
      }
      throw new ServingError(
        400,
        'inference_failed',
        `inference failed for customer_index ${row}: ${err instanceof Error ? err.message : String(err)}`,
      );
    } finally {
      this.inflight--;
    }
    v.predictions++;
    this.dirtyCounts = true;
    const top = reply.top[0] ?? { items: [], scores: [] };
    const latencyMs = performance.now() - t0;
    this.latencies.push(latencyMs);
    if (this.latencies.length > LATENCY_WINDOW) this.latencies.shift();
    return {
      name,
      version: v.version,
      customer_index: row,
      k: top.items.length,
      items: top.items.map((item, i) => ({ item_index: item, score: top.scores[i]! })),
      inference_ms: round3(reply.inferenceMs),
      latency_ms: round3(latencyMs),
    };
  }

  list(): Record<string, unknown>[] {
    return this.d.registry.all().map((m) => this.modelView(m));
  }

  get(name: string): Record<string, unknown> {
    const m = this.d.registry.get(name);
    if (!m) throw new ServingError(404, 'unknown_model', `no model named ${name} is deployed`);
    return this.modelView(m);
  }

  private modelView(m: ModelRecord): Record<string, unknown> {
    const versions = m.versions.map((v) => this.versionView(m.name, m, v));
    return {
      name: m.name,
      active_version: m.active_version,
      endpoint: this.endpoint(m.name),
      predictions: m.versions.reduce((n, v) => n + v.predictions, 0),
      versions,
    };
  }

  /** Removes every version of a model. Unknown names succeed with `removed: false` (saga compensation). */
  undeploy(name: string): Promise<Record<string, unknown>> {
    return this.withLock(name, async () => {
      const m = this.d.registry.get(name);
      if (!m) return { name, removed: false, removed_versions: [], active_version: null };
      this.d.registry.delete(name);
      this.d.registry.save();
      for (const v of m.versions) await this.dropVersion(name, v);
      this.d.log.info('undeployed', { name, versions: m.versions.map((v) => v.version) });
      return {
        name,
        removed: true,
        removed_versions: m.versions.map((v) => v.version),
        active_version: null,
      };
    });
  }

  /**
   * Removes one version. When it was active, the most recently deployed remaining version takes over
   * (rollback); when none remains, the name goes. Unknown versions succeed with `removed: false`.
   */
  undeployVersion(name: string, version: string): Promise<Record<string, unknown>> {
    return this.withLock(name, async () => {
      const m = this.d.registry.get(name);
      const v = m?.versions.find((x) => x.version === version);
      if (!m || !v) return { name, version, removed: false, active_version: m?.active_version ?? null };
      m.versions = m.versions.filter((x) => x !== v);
      if (m.versions.length === 0) this.d.registry.delete(name);
      else if (m.active_version === version) m.active_version = m.versions[m.versions.length - 1]!.version;
      this.d.registry.save();
      await this.dropVersion(name, v);
      const active = m.versions.length === 0 ? null : m.active_version;
      this.d.log.info('undeployed version', { name, version, active_version: active });
      return { name, version, removed: true, active_version: active };
    });
  }

  /** Persists prediction counters if they changed. */
  flush(): void {
    if (!this.dirtyCounts) return;
    this.dirtyCounts = false;
    this.d.registry.save();
  }

  /** Facts measured by this process for `/healthz`. */
  stats(): Record<string, unknown> {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const all = this.d.registry.all();
    return {
      models: all.length,
      versions_loaded: [...this.live.values()].filter((l) => l.status === 'loaded').length,
      versions_failed: [...this.live.values()].filter((l) => l.status === 'failed').length,
      predictions_in_flight: this.inflight,
      predict_latency_ms: {
        samples: sorted.length,
        p50: percentile(sorted, 0.5) === null ? null : round3(percentile(sorted, 0.5)!),
        p95: percentile(sorted, 0.95) === null ? null : round3(percentile(sorted, 0.95)!),
      },
    };
  }
}
