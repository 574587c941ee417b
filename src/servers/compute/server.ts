import crypto from 'node:crypto';
import os from 'node:os';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ToolError, objectKeyFromUri, registerTool, type IdempotencyStore, type ObjectStoreClient, MCP_SERVER_OPTIONS } from '../kit';
import { scoreUser, topK } from './als';
import { processDataset } from './data-processing';
import { ALGORITHM_DESCRIPTION, type JobManager, type JobRecord } from './job-manager';
import { type ModelStore } from './model-store';
import { ONNX_IO, ONNX_IR_VERSION, ONNX_OPSET, encodeRecommenderOnnx } from './onnx-encoder';
import { verifyOnnxParityInWorker } from './onnx-verify';
import * as s from './schemas';
import { diskSnapshot, hostSnapshot, probeAccelerators } from './system-info';

export const COMPUTE_SERVER_VERSION = '0.1.0';

export const COMPUTE_TOOLS = [
  'data_processing',
  'train_model',
  'job_status',
  'list_jobs',
  'cancel_job',
  'gpu_status',
  'predict',
  'model_export',
  'server_info',
] as const;

/** Backends created once per process and shared by every request's McpServer. */
export interface ComputeDeps {
  dataDir: string;
  tmpRoot: string;
  objects: ObjectStoreClient;
  /** Checks an object exists (HEAD) so train_model can refuse a bad dataset at once. */
  objectExists: (key: string) => Promise<boolean>;
  jobs: JobManager;
  models: ModelStore;
  idempotency: IdempotencyStore;
  limits: {
    maxConcurrentJobs: number;
    maxQueuedJobs: number;
    jobTimeoutMs: number;
    maxDatasetBytes: number;
    maxInteractions: number;
  };
}

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

function jobSummary(r: JobRecord) {
  return {
    job_id: r.job_id,
    status: r.status,
    phase: r.progress.phase,
    epoch: r.progress.epoch,
    epochs: r.progress.epochs,
    created_at: r.created_at,
    finished_at: r.finished_at,
    model_id: r.model_id,
    dataset_uri: r.dataset_uri,
  };
}

async function requireModel(deps: ComputeDeps, modelId: string) {
  const m = await deps.models.get(modelId);
  if (!m) throw new ToolError(`unknown model_id "${modelId}"; train_model produces one (job_status.model_id once the job succeeded)`, 'not_found');
  return m;
}

/** Builds the compute MCP server (called per request; state lives in `deps`). */
export function buildServer(deps: ComputeDeps): McpServer {
  const server = new McpServer({ name: 'compute', version: COMPUTE_SERVER_VERSION }, MCP_SERVER_OPTIONS);

  registerTool(
    server,
    'data_processing',
    {
      title: 'Process a dataset',
      description:
        'Reads a Parquet dataset from storage, applies clean / normalize / feature_engineering in an in-memory DuckDB sandboxed to a temp directory, writes the result to storage as Parquet, and returns its URI, row counts, bytes and columns.',
      inputSchema: s.dataProcessingInput,
      outputSchema: s.dataProcessingOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      idempotency: deps.idempotency,
    },
    async (args, ctx) =>
      processDataset(
        { objects: deps.objects, tmpRoot: deps.tmpRoot, maxInputBytes: deps.limits.maxDatasetBytes },
        {
          inputUri: args.dataset_uri,
          operations: args.operations,
          columns: args.columns,
          recencyHalfLifeDays: args.recency_half_life_days,
          outputKey: args.output_key,
          idempotencyKey: ctx.idempotencyKey ? `data_processing:${ctx.idempotencyKey}` : undefined,
        },
      ),
  );

  registerTool(
    server,
    'train_model',
    {
      title: 'Train a recommender',
      description:
        'Starts an asynchronous implicit-feedback ALS training job on a processed dataset in a worker thread and returns its job_id at once. ' +
        'The job reports progress (epoch, loss), evaluates HR@10/NDCG@10 against a popularity baseline on held-out purchases, saves the model (float32 factors + JSON metadata) to storage, ' +
        'and POSTs an HMAC-signed webhook to callback.url when it ends. Same idempotency key → same job.',
      inputSchema: s.trainModelInput,
      outputSchema: s.trainModelOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      let key: string;
      try {
        key = objectKeyFromUri(args.dataset_uri);
      } catch {
        throw new ToolError(`dataset_uri "${args.dataset_uri}" is not a storage object URI; pass storage://<key>`, 'invalid_uri');
      }
      let exists: boolean;
      try {
        exists = await deps.objectExists(key);
      } catch (err) {
        throw new ToolError(`storage is unavailable to check dataset_uri "${args.dataset_uri}": ${err instanceof Error ? err.message : String(err)}`, 'storage_unavailable');
      }
      if (!exists) throw new ToolError(`dataset_uri "${args.dataset_uri}" does not exist in storage; run data_processing first or check the key`, 'not_found');
      if (args.callback) {
        const u = new URL(args.callback.url);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') {
          throw new ToolError(`callback.url must be http or https, got ${u.protocol}`, 'invalid_callback');
        }
      }
      const hp = args.hyperparameters;
      if (args.holdout.test_fraction !== undefined && args.holdout.strategy !== 'time_split') {
        throw new ToolError('holdout.test_fraction applies only to holdout.strategy "time_split"', 'invalid_holdout');
      }
      const timestamp = args.columns.timestamp ?? (args.holdout.strategy === 'none' ? undefined : 'last_purchase_at');
      const rec = deps.jobs.submit({
        datasetUri: args.dataset_uri,
        columns: { user: args.columns.user, item: args.columns.item, weight: args.columns.weight, timestamp },
        hyperparameters: hp,
        holdout: args.holdout,
        evalMaxUsers: args.eval_max_users,
        callback: args.callback,
        idempotencyKey: ctx.idempotencyKey,
      });
      const counts = deps.jobs.counts();
      return {
        job_id: rec.job_id,
        status: rec.status === 'queued' ? ('queued' as const) : ('running' as const),
        position_in_queue: rec.status === 'queued' ? Math.max(0, counts.queued - 1) : 0,
        max_concurrent_jobs: deps.limits.maxConcurrentJobs,
      };
    },
  );

  registerTool(
    server,
    'job_status',
    {
      title: 'Job status',
      description: 'State, progress (phase, epoch, loss), evaluation metrics, model id, artifact URIs, timings and webhook delivery of a training job.',
      inputSchema: s.jobStatusInput,
      outputSchema: s.jobStatusOutput,
      annotations: READ_ONLY,
    },
    async (args) => structuredClone(deps.jobs.get(args.job_id)),
  );

  registerTool(
    server,
    'list_jobs',
    {
      title: 'List jobs',
      description: 'Training jobs known to this server, newest first, optionally filtered by status.',
      inputSchema: s.listJobsInput,
      outputSchema: s.listJobsOutput,
      annotations: READ_ONLY,
    },
    async (args) => {
      const { jobs, total } = deps.jobs.list({ status: args.status, limit: args.limit });
      return { jobs: jobs.map(jobSummary), total, truncated: total > jobs.length };
    },
  );

  registerTool(
    server,
    'cancel_job',
    {
      title: 'Cancel a job',
      description:
        'Stops a training job: a queued job leaves the queue, a running job has its worker thread terminated. Cancelling a finished job changes nothing and reports changed=false.',
      inputSchema: s.cancelJobInput,
      outputSchema: s.cancelJobOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const r = await deps.jobs.cancel(args.job_id);
      return { job_id: r.job.job_id, status: r.job.status, previous_status: r.previous_status, changed: r.changed };
    },
  );

  registerTool(
    server,
    'gpu_status',
    {
      title: 'Accelerator and load status',
      description:
        'Detects accelerators (NVIDIA/AMD device nodes, driver, nvidia-smi) and reports CPU count, model, load, memory and the running and queued jobs. Training runs on CPU worker threads.',
      inputSchema: s.gpuStatusInput,
      outputSchema: s.gpuStatusOutput,
      annotations: READ_ONLY,
    },
    async () => {
      const probe = probeAccelerators();
      const host = hostSnapshot();
      return {
        gpu_available: probe.accelerators.length > 0,
        accelerators: probe.accelerators,
        detection: probe.checks,
        compute_device:
          probe.accelerators.length > 0
            ? `accelerator present but unused: training runs on ${host.cpu_count} CPU cores (worker threads)`
            : `cpu only: no GPU detected; training runs on ${host.cpu_count} CPU cores (worker threads)`,
        ...host,
        jobs: deps.jobs.active().map((r) => ({
          job_id: r.job_id,
          status: r.status,
          phase: r.progress.phase,
          epoch: r.progress.epoch,
          epochs: r.progress.epochs,
          loss: r.progress.loss,
        })),
      };
    },
  );

  registerTool(
    server,
    'predict',
    {
      title: 'Recommend products',
      description: 'Top-K product recommendations with scores for one customer from a trained model, optionally leaving out products already bought.',
      inputSchema: s.predictInput,
      outputSchema: s.predictOutput,
      annotations: READ_ONLY,
    },
    async (args) => {
      const m = await requireModel(deps, args.model_id);
      const customer = String(args.customer_id);
      const u = m.userIndex.get(customer);
      const items = m.meta.items;
      if (u === undefined) {
        if (args.cold_start === 'error') {
          throw new ToolError(
            `customer_id "${customer}" is not in model ${args.model_id} (${m.meta.users} customers); pass cold_start "popular" for popularity-based results`,
            'unknown_customer',
          );
        }
        const top = topK(m.popularity, args.k);
        return {
          model_id: args.model_id,
          customer_id: customer,
          source: 'popularity' as const,
          items: top.map((i, r) => ({ product_id: m.itemIds[i]!, score: m.popularity[i]!, rank: r + 1 })),
          excluded_purchased: 0,
        };
      }
      const scores = scoreUser(m.userFactors, m.itemFactors, m.meta.factors, u, items);
      const seen = args.exclude_purchased ? m.seenIndices.subarray(m.seenIndptr[u]!, m.seenIndptr[u + 1]!) : undefined;
      const top = topK(scores, args.k, seen);
      return {
        model_id: args.model_id,
        customer_id: customer,
        source: 'model' as const,
        items: top.map((i, r) => ({ product_id: m.itemIds[i]!, score: scores[i]!, rank: r + 1 })),
        excluded_purchased: seen?.length ?? 0,
      };
    },
  );

  registerTool(
    server,
    'model_export',
    {
      title: 'Export a model to ONNX',
      description:
        'Encodes the trained model as ONNX (Gather(user_embedding, user_idx) → MatMul(item_embedding^T) → scores), stores it in storage, and verifies it by loading it with onnxruntime-node and comparing scores and top-10 lists with the in-process model.',
      inputSchema: s.modelExportInput,
      outputSchema: s.modelExportOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      const m = await requireModel(deps, args.model_id);
      const bytes = encodeRecommenderOnnx({
        userFactors: m.userFactors,
        itemFactors: m.itemFactors,
        users: m.meta.users,
        items: m.meta.items,
        factors: m.meta.factors,
        producerVersion: COMPUTE_SERVER_VERSION,
        docString: JSON.stringify({ model_id: m.meta.model_id, algorithm: m.meta.algorithm, input: 'user index per ids.json', metrics: m.meta.metrics }),
      });
      // Check evenly spread customers so the comparison covers the whole embedding table.
      const n = Math.min(args.verify_users, m.meta.users);
      const users = Array.from({ length: n }, (_, i) => Math.floor((i * m.meta.users) / n));
      const parity = await verifyOnnxParityInWorker(
        bytes,
        { userFactors: m.userFactors, itemFactors: m.itemFactors, items: m.meta.items, factors: m.meta.factors },
        users,
        10,
      );
      let stored;
      try {
        stored = await deps.objects.put(`models/${m.meta.model_id}/model.onnx`, bytes, {
          idempotencyKey: ctx.idempotencyKey ? `model_export:${ctx.idempotencyKey}` : undefined,
          metadata: { model_id: m.meta.model_id, format: 'onnx', opset: ONNX_OPSET, max_abs_diff: parity.maxAbsDiff },
        });
      } catch (err) {
        throw new ToolError(`storing the ONNX model failed: ${err instanceof Error ? err.message : String(err)}`, 'storage_unavailable');
      }
      return {
        model_id: m.meta.model_id,
        format: 'onnx',
        uri: stored.uri,
        sha256: stored.sha256 || crypto.createHash('sha256').update(bytes).digest('hex'),
        bytes: bytes.length,
        opset: ONNX_OPSET,
        ir_version: ONNX_IR_VERSION,
        graph: `Gather(user_embedding[${m.meta.users},${m.meta.factors}], user_idx) → MatMul(item_embedding_t[${m.meta.factors},${m.meta.items}]) → scores[batch,${m.meta.items}]`,
        inputs: [`${ONNX_IO.input}: int64[batch]`],
        outputs: [`${ONNX_IO.output}: float32[batch,${m.meta.items}]`],
        parity: {
          users_checked: parity.usersChecked,
          max_abs_diff: parity.maxAbsDiff,
          top_k: parity.topK,
          top_k_identical_users: parity.topKIdenticalUsers,
          all_top_k_identical: parity.allTopKIdentical,
          onnxruntime_version: parity.onnxruntimeVersion,
          inference_ms: parity.inferenceMs,
        },
        verified: parity.maxAbsDiff <= 1e-4 && parity.allTopKIdentical,
      };
    },
  );

  registerTool(
    server,
    'server_info',
    {
      title: 'Compute server info',
      description: 'Version, tools, algorithm, capabilities (GPU detection, CPUs, memory, concurrent jobs), enforced limits and live measurements (load, memory, jobs, disk).',
      inputSchema: s.serverInfoInput,
      outputSchema: s.serverInfoOutput,
      annotations: READ_ONLY,
    },
    async () => {
      const probe = probeAccelerators();
      const host = hostSnapshot();
      const disk = diskSnapshot(deps.dataDir);
      const counts = deps.jobs.counts();
      return {
        server: 'compute',
        version: COMPUTE_SERVER_VERSION,
        tools: [...COMPUTE_TOOLS],
        algorithm: ALGORITHM_DESCRIPTION,
        capabilities: {
          gpu: probe.accelerators.length > 0 ? probe.accelerators.map((a) => a.kind).join(', ') + ' (detected, unused)' : 'none (detected)',
          accelerators: probe.accelerators.map((a) => a.device),
          cpus: host.cpu_count,
          memory_bytes: os.totalmem(),
          max_concurrent_jobs: deps.limits.maxConcurrentJobs,
          operations: ['clean', 'normalize', 'feature_engineering'],
          holdout_strategies: ['leave_last_out', 'time_split', 'none'],
          export_formats: ['onnx'],
          metrics: ['HR@10', 'NDCG@10', 'popularity baseline HR@10/NDCG@10'],
        },
        limits: {
          rate_limit_per_minute: null,
          max_concurrent_jobs: deps.limits.maxConcurrentJobs,
          max_queued_jobs: deps.limits.maxQueuedJobs,
          job_timeout_ms: deps.limits.jobTimeoutMs,
          max_dataset_bytes: deps.limits.maxDatasetBytes,
          max_interactions: deps.limits.maxInteractions,
          max_factors: s.LIMITS.maxFactors,
          max_epochs: s.LIMITS.maxEpochs,
          max_predict_k: s.LIMITS.maxPredictK,
        },
        measured: {
          ...host,
          gpu_available: probe.accelerators.length > 0,
          jobs_running: counts.running,
          jobs_queued: counts.queued,
          jobs_total: counts.total,
          models_stored: deps.models.count(),
          disk_free_bytes: disk.free_bytes,
          disk_total_bytes: disk.total_bytes,
        },
      };
    },
  );

  return server;
}
