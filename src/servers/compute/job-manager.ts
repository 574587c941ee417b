import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ToolError, logger, type ObjectStoreClient } from '../kit';
import { csrFromCoo } from './als';
import type { HoldoutStrategy } from './evaluation';
import { type ModelStore, type LoadedModel } from './model-store';
import type { TrainWorkerInput, TrainWorkerMessage } from './train-worker';
import { loadInteractions, type TrainingColumns } from './training-data';
import { deliverWebhook, type DeliveryReport } from './webhook';
import { startWorker } from './worker-launch';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const JOB_PHASES = ['queued', 'loading', 'training', 'evaluating', 'saving', 'done'] as const;
export type JobPhase = (typeof JOB_PHASES)[number];

export const ALGORITHM = 'implicit-als-cg';
export const ALGORITHM_DESCRIPTION =
  'Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with conjugate-gradient solves (Takács, Pilászy & Tikk 2011), float32 factors, CPU worker threads';

export interface Hyperparameters {
  factors: number;
  epochs: number;
  regularization: number;
  alpha: number;
  seed: number;
  cg_steps: number;
}

export interface HoldoutSpec {
  strategy: 'leave_last_out' | 'time_split' | 'none';
  test_fraction?: number;
}

export interface TrainRequest {
  datasetUri: string;
  columns: TrainingColumns;
  hyperparameters: Hyperparameters;
  holdout: HoldoutSpec;
  evalMaxUsers: number;
  callback?: { url: string; secret: string };
  idempotencyKey?: string;
}

/** Public view of a job: everything job_status reports (never the callback secret). */
export interface JobRecord {
  job_id: string;
  status: JobStatus;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  algorithm: string;
  dataset_uri: string;
  hyperparameters: Hyperparameters;
  holdout: HoldoutSpec;
  progress: { phase: JobPhase; epoch: number; epochs: number; loss: number | null; fraction: number };
  loss_history: { epoch: number; loss: number; elapsed_ms: number }[];
  data: { rows_read: number; users: number; items: number; interactions: number; train_pairs: number; held_out_pairs: number } | null;
  metrics: {
    k: number;
    users_evaluated: number;
    model: { hit_rate: number; ndcg: number };
    popularity: { hit_rate: number; ndcg: number };
    hit_rate_lift: number | null;
  } | null;
  model_id: string | null;
  artifacts: Record<string, string> | null;
  error: string | null;
  timings_ms: { queued?: number; load?: number; train?: number; evaluate?: number; save?: number; total?: number };
  webhook: ({ url: string } & Partial<DeliveryReport>) | null;
}

interface JobInternal {
  record: JobRecord;
  req: TrainRequest;
  worker?: Worker;
  enqueuedAt: number;
}

export interface JobManagerOptions {
  dataDir: string;
  tmpRoot: string;
  objects: ObjectStoreClient;
  models: ModelStore;
  maxConcurrentJobs: number;
  maxQueuedJobs: number;
  jobTimeoutMs: number;
  maxDatasetBytes: number;
  maxInteractions: number;
  /** Retries of webhook deliveries after the first attempt's failure. @default 3 */
  webhookAttempts?: number;
  webhookBaseDelayMs?: number;
}

const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Queues training jobs, runs at most `maxConcurrentJobs` at once in worker threads, tracks progress,
 * stores the models, and reports completion through signed webhooks. Job records survive a restart
 * (`<dataDir>/jobs.json`); a job that was running when the server stopped is marked failed.
 */
export class JobManager {
  private readonly jobs = new Map<string, JobInternal>();
  private readonly queue: string[] = [];
  private running = 0;
  private closed = false;
  private readonly file: string;
  private readonly deliveries = new Set<Promise<unknown>>();
  private readonly stop = new AbortController();
  private readonly log = logger('compute');

  constructor(private readonly opts: JobManagerOptions) {
    this.file = path.join(opts.dataDir, 'jobs.json');
    this.restore();
  }

  private restore(): void {
    if (!fs.existsSync(this.file)) return;
    try {
      const records = JSON.parse(fs.readFileSync(this.file, 'utf8')) as JobRecord[];
      for (const r of records) {
        if (!TERMINAL.has(r.status)) {
          r.status = 'failed';
          r.error = 'interrupted: the compute server stopped before the job finished; start a new job';
          r.finished_at = new Date().toISOString();
        }
        this.jobs.set(r.job_id, { record: r, req: undefined as never, enqueuedAt: 0 });
      }
    } catch (err) {
      this.log.warn('ignoring unreadable jobs.json', { err: String(err) });
    }
  }

  private persist(): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify([...this.jobs.values()].map((j) => j.record)));
    fs.renameSync(tmp, this.file);
  }

  /** Accepts a job: it starts at once when a slot is free, else waits in the queue. */
  submit(req: TrainRequest): JobRecord {
    if (this.closed) throw new ToolError('the compute server is shutting down; retry on another instance', 'unavailable');
    if (this.queue.length >= this.opts.maxQueuedJobs) {
      throw new ToolError(`the training queue is full (${this.opts.maxQueuedJobs} jobs waiting); retry later or cancel a queued job`, 'queue_full');
    }
    const hex = crypto.randomBytes(8).toString('hex');
    const record: JobRecord = {
      job_id: `job_${hex}`,
      status: 'queued',
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      algorithm: ALGORITHM,
      dataset_uri: req.datasetUri,
      hyperparameters: req.hyperparameters,
      holdout: req.holdout,
      progress: { phase: 'queued', epoch: 0, epochs: req.hyperparameters.epochs, loss: null, fraction: 0 },
      loss_history: [],
      data: null,
      metrics: null,
      model_id: null,
      artifacts: null,
      error: null,
      timings_ms: {},
      webhook: req.callback ? { url: req.callback.url } : null,
    };
    this.jobs.set(record.job_id, { record, req, enqueuedAt: performance.now() });
    this.queue.push(record.job_id);
    this.persist();
    this.pump();
    return record;
  }

  get(jobId: string): JobRecord {
    const j = this.jobs.get(jobId);
    if (!j) throw new ToolError(`unknown job_id "${jobId}"; list_jobs shows the jobs this server knows`, 'not_found');
    return j.record;
  }

  list(filter: { status?: JobStatus; limit: number }): { jobs: JobRecord[]; total: number } {
    const all = [...this.jobs.values()]
      .map((j) => j.record)
      .filter((r) => !filter.status || r.status === filter.status)
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
    return { jobs: all.slice(0, filter.limit), total: all.length };
  }

  counts(): { running: number; queued: number; total: number } {
    return { running: this.running, queued: this.queue.length, total: this.jobs.size };
  }

  /** Active jobs with their progress, for gpu_status. */
  active(): JobRecord[] {
    return [...this.jobs.values()].map((j) => j.record).filter((r) => r.status === 'running' || r.status === 'queued');
  }

  /**
   * Cancels a job: a queued one leaves the queue, a running one has its worker thread terminated.
   * Cancelling a finished job changes nothing (idempotent) and says so.
   */
  async cancel(jobId: string): Promise<{ job: JobRecord; changed: boolean; previous_status: JobStatus }> {
    const j = this.jobs.get(jobId);
    if (!j) throw new ToolError(`unknown job_id "${jobId}"; list_jobs shows the jobs this server knows`, 'not_found');
    const previous = j.record.status;
    if (TERMINAL.has(previous)) return { job: j.record, changed: false, previous_status: previous };
    const qi = this.queue.indexOf(jobId);
    if (qi >= 0) this.queue.splice(qi, 1);
    this.finish(j, 'cancelled', `cancelled by request while ${j.record.progress.phase}`);
    if (j.worker) await j.worker.terminate();
    return { job: j.record, changed: true, previous_status: previous };
  }

  private finish(j: JobInternal, status: JobStatus, error: string | null): void {
    const r = j.record;
    r.status = status;
    r.error = error;
    r.finished_at = new Date().toISOString();
    if (r.started_at) r.timings_ms.total = Date.now() - Date.parse(r.started_at);
    if (status === 'succeeded') r.progress = { ...r.progress, phase: 'done', fraction: 1 };
    this.persist();
    if (j.req?.callback) this.notify(j, j.req.callback);
  }

  private notify(j: JobInternal, callback: { url: string; secret: string }): void {
    const r = j.record;
    const event = {
      type: `training.${r.status}`,
      data: { job_id: r.job_id, status: r.status, model_id: r.model_id, metrics: r.metrics, error: r.error, artifacts: r.artifacts },
    };
    const p = deliverWebhook(callback, event, {
      attempts: this.opts.webhookAttempts ?? 4,
      baseDelayMs: this.opts.webhookBaseDelayMs,
      signal: this.stop.signal,
    }).then((report) => {
      r.webhook = { url: callback.url, ...report };
      if (!report.delivered) this.log.warn('webhook not delivered', { job: r.job_id, error: report.error });
      this.persist();
    });
    this.deliveries.add(p);
    void p.finally(() => this.deliveries.delete(p));
  }

  private pump(): void {
    while (!this.closed && this.running < this.opts.maxConcurrentJobs && this.queue.length > 0) {
      const id = this.queue.shift()!;
      const j = this.jobs.get(id);
      if (!j || j.record.status !== 'queued') continue;
      this.running++;
      void this.run(j)
        .catch((err: unknown) => {
          if (j.record.status === 'running') this.finish(j, 'failed', err instanceof Error ? err.message : String(err));
        })
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }

  private async run(j: JobInternal): Promise<void> {
    const r = j.record;
    const req = j.req;
    r.status = 'running';
    r.started_at = new Date().toISOString();
    r.timings_ms.queued = performance.now() - j.enqueuedAt;
    r.progress.phase = 'loading';
    this.persist();
    const tLoad = performance.now();
    const loaded = await loadInteractions(this.opts.objects, req.datasetUri, req.columns, {
      tmpRoot: this.opts.tmpRoot,
      maxBytes: this.opts.maxDatasetBytes,
      maxInteractions: this.opts.maxInteractions,
    });
    r.timings_ms.load = performance.now() - tLoad;
    if (r.status !== 'running') return;
    const d = loaded.data;
    r.data = { rows_read: loaded.rowsRead, users: d.users, items: d.items, interactions: d.user.length, train_pairs: 0, held_out_pairs: 0 };
    const seen = csrFromCoo(d.users, d.items, d.user, d.item, new Float32Array(d.user.length).fill(1));
    const hp = req.hyperparameters;
    if (hp.factors > d.items) throw new ToolError(`hyperparameters.factors=${hp.factors} exceeds the number of items (${d.items}); use fewer factors`, 'invalid_hyperparameters');

    const holdout: HoldoutStrategy =
      req.holdout.strategy === 'time_split'
        ? { kind: 'time_split', testFraction: req.holdout.test_fraction ?? 0.2 }
        : { kind: req.holdout.strategy };
    const input: TrainWorkerInput = {
      data: d,
      params: { factors: hp.factors, epochs: hp.epochs, regularization: hp.regularization, alpha: hp.alpha, seed: hp.seed, cgSteps: hp.cg_steps },
      holdout,
      evalK: 10,
      evalMaxUsers: req.evalMaxUsers,
    };
    const done = await this.runWorker(j, input);
    if (!done || r.status !== 'running') return;
    r.timings_ms.train = done.trainMs;
    r.timings_ms.evaluate = done.evalMs;
    if (done.evaluation) {
      const e = done.evaluation;
      r.metrics = {
        k: e.k,
        users_evaluated: e.users,
        model: { hit_rate: e.model.hitRate, ndcg: e.model.ndcg },
        popularity: { hit_rate: e.popularity.hitRate, ndcg: e.popularity.ndcg },
        hit_rate_lift: e.popularity.hitRate > 0 ? e.model.hitRate / e.popularity.hitRate : null,
      };
    }
    r.progress.phase = 'saving';
    const tSave = performance.now();
    const modelId = `mdl_${r.job_id.slice(4)}`;
    const model: LoadedModel = {
      meta: {
        model_id: modelId,
        job_id: r.job_id,
        algorithm: ALGORITHM,
        created_at: new Date().toISOString(),
        factors: hp.factors,
        users: d.users,
        items: d.items,
        dataset_uri: req.datasetUri,
        hyperparameters: { ...hp },
        holdout: { ...req.holdout },
        metrics: r.metrics,
        format: { dtype: 'float32', byte_order: 'little-endian', layout: 'row-major [rows, factors]' },
        artifacts: {},
      },
      userIds: loaded.userIds,
      itemIds: loaded.itemIds,
      userIndex: new Map(loaded.userIds.map((u, i) => [u, i])),
      userFactors: done.userFactors,
      itemFactors: done.itemFactors,
      seenIndptr: seen.indptr,
      seenIndices: seen.indices,
      popularity: done.popularity,
    };
    const artifacts = await this.opts.models.save(model, req.idempotencyKey ? `train:${req.idempotencyKey}` : undefined);
    if (r.status !== 'running') return;
    r.timings_ms.save = performance.now() - tSave;
    r.model_id = modelId;
    r.artifacts = artifacts;
    this.finish(j, 'succeeded', null);
  }

  private runWorker(j: JobInternal, input: TrainWorkerInput): Promise<Extract<TrainWorkerMessage, { type: 'done' }> | undefined> {
    const r = j.record;
    const d = input.data;
    const worker = startWorker('train-worker', input, [d.user.buffer, d.item.buffer, d.strength.buffer, d.ts.buffer] as ArrayBuffer[]);
    j.worker = worker;
    r.progress.phase = 'training';
    return new Promise((resolve, reject) => {
      let result: Extract<TrainWorkerMessage, { type: 'done' }> | undefined;
      const timer = setTimeout(() => {
        if (r.status === 'running') {
          this.finish(j, 'failed', `training exceeded the job time limit of ${this.opts.jobTimeoutMs} ms (MCP_COMPUTE_JOB_TIMEOUT_MS)`);
        }
        void worker.terminate();
      }, this.opts.jobTimeoutMs);
      worker.on('message', (m: TrainWorkerMessage) => {
        if (m.type === 'progress') {
          r.progress = { phase: 'training', epoch: m.epoch, epochs: m.epochs, loss: m.loss, fraction: m.epoch / m.epochs };
          if (r.loss_history.length < 1000) r.loss_history.push({ epoch: m.epoch, loss: m.loss, elapsed_ms: m.elapsedMs });
        } else if (m.type === 'phase') {
          r.progress.phase = m.phase;
          if (r.data) {
            r.data.train_pairs = m.trainPairs;
            r.data.held_out_pairs = m.heldOutPairs;
          }
        } else {
          result = m;
        }
      });
      worker.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`training worker failed: ${err.message}`));
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        j.worker = undefined;
        if (result) resolve(result);
        else if (r.status !== 'running') resolve(undefined);
        else reject(new Error(`training worker exited with code ${code} before finishing`));
      });
    });
  }

  /** Stops workers, marks unfinished jobs failed, and gives pending webhooks a bounded moment. */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    const workers: Promise<number>[] = [];
    for (const j of this.jobs.values()) {
      if (j.record.status === 'queued' || j.record.status === 'running') {
        j.record.status = 'failed';
        j.record.error = 'interrupted: the compute server stopped before the job finished; start a new job';
        j.record.finished_at = new Date().toISOString();
      }
      if (j.worker) workers.push(j.worker.terminate());
    }
    this.queue.length = 0;
    await Promise.all(workers);
    const pending = Promise.allSettled([...this.deliveries]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pending, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    this.stop.abort();
    await Promise.allSettled([...this.deliveries]);
    this.persist();
  }
}
