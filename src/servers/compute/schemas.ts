import { z } from 'zod';

/** Hard bounds on inputs; server_info advertises them. */
export const LIMITS = {
  maxFactors: 256,
  maxEpochs: 200,
  maxCgSteps: 10,
  maxPredictK: 100,
  maxListJobs: 100,
  maxExportVerifyUsers: 1000,
  maxEvalUsers: 100_000,
} as const;

const storageUri = z
  .string()
  .min(1)
  .max(1024)
  .describe('Object URI in the storage server, storage://<key> (as returned by the data or storage server)');

const jobId = z.string().min(1).max(64).describe('Job id returned by train_model, e.g. job_1a2b3c4d5e6f7a8b');
const modelId = z.string().min(1).max(64).describe('Model id from a succeeded job (job_status.model_id), e.g. mdl_1a2b3c4d5e6f7a8b');

const columnInfo = z.object({
  name: z.string().describe('Column name'),
  type: z.string().describe('DuckDB type of the column'),
});

// ---------- data_processing ----------
export const dataProcessingInput = {
  dataset_uri: storageUri,
  operations: z
    .array(z.enum(['clean', 'normalize', 'feature_engineering']))
    .min(1)
    .max(3)
    .describe(
      'Operations, applied in the order clean → normalize → feature_engineering whatever the listed order. ' +
        'clean: drop rows with nulls, non-positive quantities and duplicates (by transaction id when present, else exact duplicates). ' +
        'normalize: add amount_log (ln(1+amount)), amount_minmax (global min-max) and amount_customer_norm (amount / customer mean). ' +
        'feature_engineering: aggregate to one row per customer × product with purchases, quantity, amount, first/last purchase, recency_days and an implicit-feedback strength.',
    ),
  columns: z
    .object({
      customer: z.string().min(1).max(128).default('customer_id').describe('Customer id column'),
      product: z.string().min(1).max(128).default('product_id').describe('Product id column'),
      quantity: z.string().min(1).max(128).default('quantity').describe('Quantity column (numeric)'),
      amount: z.string().min(1).max(128).default('amount').describe('Monetary amount column (numeric)'),
      timestamp: z.string().min(1).max(128).default('ts').describe('Purchase time column (timestamp, date or epoch seconds)'),
      id: z.string().min(1).max(128).default('transaction_id').describe('Row identity used for de-duplication when present'),
    })
    .default({ customer: 'customer_id', product: 'product_id', quantity: 'quantity', amount: 'amount', timestamp: 'ts', id: 'transaction_id' })
    .describe('Names of the input columns; defaults match the data server customer_transactions table'),
  recency_half_life_days: z
    .number()
    .positive()
    .max(3650)
    .default(90)
    .describe('feature_engineering: strength = ln(1+purchases) × (0.5 + 0.5 × 0.5^(recency_days / half_life))'),
  output_key: z
    .string()
    .min(1)
    .max(512)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/]*$/, 'a relative key of letters, digits, . _ - /')
    .optional()
    .describe('Storage key of the result; default processed/<input name>-<operations>-<digest>.parquet'),
};

export const dataProcessingOutput = {
  uri: z.string().describe('storage:// URI of the processed Parquet dataset'),
  key: z.string().describe('Storage key of the processed dataset'),
  version: z.number().describe('Storage version number of the written object'),
  sha256: z.string().describe('SHA-256 of the written Parquet bytes'),
  rows_in: z.number().describe('Rows in the input dataset'),
  rows_out: z.number().describe('Rows in the processed dataset'),
  bytes_in: z.number().describe('Size of the input Parquet object in bytes'),
  bytes_out: z.number().describe('Size of the processed Parquet object in bytes'),
  columns: z.array(columnInfo).describe('Columns of the processed dataset'),
  operations_applied: z.array(z.string()).describe('Operations applied, in execution order'),
  dropped: z
    .object({
      nulls: z.number().describe('Rows dropped by clean for a null in a key column'),
      non_positive_quantity: z.number().describe('Rows dropped by clean for quantity ≤ 0'),
      duplicates: z.number().describe('Rows dropped by clean as duplicates'),
    })
    .describe('Rows removed by clean (zeros when clean was not requested)'),
  engine: z.string().describe('Processing engine and its sandboxing'),
  timings_ms: z
    .object({
      download: z.number().describe('Time to fetch the input from storage'),
      process: z.number().describe('Time spent in DuckDB'),
      upload: z.number().describe('Time to store the result'),
    })
    .describe('Where the time went, measured on this server'),
};

// ---------- train_model ----------
export const trainModelInput = {
  dataset_uri: storageUri,
  columns: z
    .object({
      user: z.string().min(1).max(128).default('customer_id').describe('User (customer) id column'),
      item: z.string().min(1).max(128).default('product_id').describe('Item (product) id column'),
      weight: z.string().min(1).max(128).default('strength').describe('Interaction strength column, summed per user-item pair; use quantity for raw transactions'),
      timestamp: z
        .string()
        .min(1)
        .max(128)
        .optional()
        .describe('Interaction time column (latest per pair orders the hold-out); default last_purchase_at, required unless holdout is none'),
    })
    .default({ user: 'customer_id', item: 'product_id', weight: 'strength' })
    .describe('Column mapping; defaults match data_processing feature_engineering output'),
  hyperparameters: z
    .object({
      factors: z.number().int().min(1).max(LIMITS.maxFactors).default(32).describe('Latent factors per user and item'),
      epochs: z.number().int().min(1).max(LIMITS.maxEpochs).default(15).describe('ALS sweeps (users then items)'),
      regularization: z.number().min(0).max(1000).default(0.1).describe('L2 regularization lambda'),
      alpha: z.number().positive().max(10000).default(20).describe('Confidence scale: c = 1 + alpha × strength'),
      seed: z.number().int().min(0).max(2 ** 31 - 1).default(42).describe('Seed of the initial factors and evaluation sample'),
      cg_steps: z.number().int().min(1).max(LIMITS.maxCgSteps).default(3).describe('Conjugate-gradient iterations per least-squares solve'),
    })
    .default({ factors: 32, epochs: 15, regularization: 0.1, alpha: 20, seed: 42, cg_steps: 3 })
    .describe('ALS hyperparameters'),
  holdout: z
    .object({
      strategy: z
        .enum(['leave_last_out', 'time_split', 'none'])
        .default('leave_last_out')
        .describe('leave_last_out: each customer with ≥2 products loses their most recent one to the test set; time_split: pairs after a time quantile; none: no evaluation'),
      test_fraction: z.number().gt(0).lt(1).optional().describe('time_split only: share of pairs (latest in time) held out; default 0.2'),
    })
    .default({ strategy: 'leave_last_out' })
    .describe('How held-out purchases are chosen for HR@10 / NDCG@10'),
  eval_max_users: z
    .number()
    .int()
    .min(1)
    .max(LIMITS.maxEvalUsers)
    .default(20000)
    .describe('Evaluate on at most this many customers (seeded sample when more)'),
  callback: z
    .object({
      url: z.string().url().max(2048).describe('http(s) URL that receives a POST when the job ends (succeeded, failed or cancelled)'),
      secret: z.string().min(16).max(512).describe('HMAC-SHA256 secret for the X-Webhook-Signature header'),
    })
    .optional()
    .describe('Completion webhook, signed as in kit webhook-signature (t=<unix>,v1=<hex>)'),
};

export const trainModelOutput = {
  job_id: z.string().describe('Id of the training job; poll job_status or wait for the webhook'),
  status: z.enum(['queued', 'running']).describe('queued: waiting for a slot; running: started at once'),
  position_in_queue: z.number().describe('Jobs ahead of this one (0 when running)'),
  max_concurrent_jobs: z.number().describe('Jobs this server trains at once'),
};

// ---------- job views ----------
const metricPair = z.object({
  hit_rate: z.number().describe('HR@K: share of evaluated customers with a held-out product in their top K'),
  ndcg: z.number().describe('NDCG@K with binary relevance'),
});

export const jobRecordShape = z.object({
  job_id: z.string().describe('Job id'),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']).describe('Job state'),
  created_at: z.string().describe('When the job was accepted (ISO 8601)'),
  started_at: z.string().nullable().describe('When it left the queue'),
  finished_at: z.string().nullable().describe('When it reached a final state'),
  algorithm: z.string().describe('Training algorithm'),
  dataset_uri: z.string().describe('Training dataset'),
  hyperparameters: z
    .object({
      factors: z.number().describe('Latent factors'),
      epochs: z.number().describe('ALS sweeps'),
      regularization: z.number().describe('L2 lambda'),
      alpha: z.number().describe('Confidence scale'),
      seed: z.number().describe('Seed'),
      cg_steps: z.number().describe('CG iterations per solve'),
    })
    .describe('Hyperparameters used'),
  holdout: z
    .object({
      strategy: z.string().describe('Hold-out strategy'),
      test_fraction: z.number().optional().describe('time_split share'),
    })
    .describe('Hold-out used for evaluation'),
  progress: z
    .object({
      phase: z.enum(['queued', 'loading', 'training', 'evaluating', 'saving', 'done']).describe('Current phase'),
      epoch: z.number().describe('Epochs completed'),
      epochs: z.number().describe('Epochs planned'),
      loss: z.number().nullable().describe('Weighted ALS loss after the last completed epoch'),
      fraction: z.number().describe('Share of epochs completed (1 when done)'),
    })
    .describe('Live progress'),
  loss_history: z
    .array(z.object({ epoch: z.number().describe('Epoch'), loss: z.number().describe('Loss'), elapsed_ms: z.number().describe('Training time so far') }))
    .describe('Loss after each epoch'),
  data: z
    .object({
      rows_read: z.number().describe('Rows read from the dataset'),
      users: z.number().describe('Distinct customers'),
      items: z.number().describe('Distinct products'),
      interactions: z.number().describe('Distinct customer-product pairs'),
      train_pairs: z.number().describe('Pairs used for training'),
      held_out_pairs: z.number().describe('Pairs held out for evaluation'),
    })
    .nullable()
    .describe('Dataset facts, once loaded'),
  metrics: z
    .object({
      k: z.number().describe('Cut-off K'),
      users_evaluated: z.number().describe('Customers evaluated'),
      model: metricPair.describe('The trained model'),
      popularity: metricPair.describe('Popularity baseline (most-bought products not yet bought)'),
      hit_rate_lift: z.number().nullable().describe('Model HR@K / popularity HR@K'),
    })
    .nullable()
    .describe('Held-out evaluation (null before the end or with holdout none)'),
  model_id: z.string().nullable().describe('Model id for predict/model_export once succeeded'),
  artifacts: z.record(z.string(), z.string()).nullable().describe('storage:// URIs of the model artifacts by file name'),
  error: z.string().nullable().describe('Why the job failed or was cancelled'),
  timings_ms: z
    .object({
      queued: z.number().optional().describe('Time waiting for a slot'),
      load: z.number().optional().describe('Dataset download and preparation'),
      train: z.number().optional().describe('ALS epochs'),
      evaluate: z.number().optional().describe('Held-out evaluation'),
      save: z.number().optional().describe('Saving artifacts locally and to storage'),
      total: z.number().optional().describe('From start to final state'),
    })
    .describe('Measured timings'),
  webhook: z
    .object({
      url: z.string().describe('Callback URL'),
      event_id: z.string().optional().describe('X-Webhook-Id of the delivered event'),
      delivered: z.boolean().optional().describe('Whether the receiver answered 2xx'),
      attempts: z.number().optional().describe('Delivery attempts'),
      last_status: z.number().nullable().optional().describe('Last HTTP status'),
      error: z.string().nullable().optional().describe('Last delivery error'),
    })
    .nullable()
    .describe('Completion webhook state (the secret is never shown)'),
});

export const jobStatusInput = { job_id: jobId };
export const jobStatusOutput = jobRecordShape.shape;

export const listJobsInput = {
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']).optional().describe('Only jobs in this state'),
  limit: z.number().int().min(1).max(LIMITS.maxListJobs).default(20).describe('Most recent jobs to return'),
};
export const listJobsOutput = {
  jobs: z
    .array(
      z.object({
        job_id: z.string().describe('Job id'),
        status: z.string().describe('Job state'),
        phase: z.string().describe('Current phase'),
        epoch: z.number().describe('Epochs completed'),
        epochs: z.number().describe('Epochs planned'),
        created_at: z.string().describe('Accepted at'),
        finished_at: z.string().nullable().describe('Finished at'),
        model_id: z.string().nullable().describe('Model id when succeeded'),
        dataset_uri: z.string().describe('Training dataset'),
      }),
    )
    .describe('Jobs, newest first (capped by limit)'),
  total: z.number().describe('Jobs matching the filter'),
  truncated: z.boolean().describe('True when more jobs matched than were returned'),
};

export const cancelJobInput = { job_id: jobId };
export const cancelJobOutput = {
  job_id: z.string().describe('Job id'),
  status: z.string().describe('State after the call'),
  previous_status: z.string().describe('State before the call'),
  changed: z.boolean().describe('False when the job had already finished (the call is idempotent)'),
};

// ---------- gpu_status ----------
export const gpuStatusInput = {};
const hostShape = {
  cpu_count: z.number().describe('Logical CPUs (node:os)'),
  cpu_model: z.string().describe('CPU model'),
  load_average: z
    .object({ '1m': z.number().describe('1-minute load'), '5m': z.number().describe('5-minute load'), '15m': z.number().describe('15-minute load') })
    .describe('Load averages'),
  memory: z
    .object({
      total_bytes: z.number().describe('Physical memory'),
      free_bytes: z.number().describe('Free memory'),
      used_bytes: z.number().describe('Used memory'),
      process_rss_bytes: z.number().describe('Resident memory of this server process'),
    })
    .describe('Memory (node:os)'),
};
export const gpuStatusOutput = {
  gpu_available: z.boolean().describe('Whether any GPU was detected'),
  accelerators: z.array(z.object({ kind: z.string().describe('Vendor/kind'), device: z.string().describe('Device node') })).describe('Detected accelerators (empty: none)'),
  detection: z
    .array(z.object({ check: z.string().describe('What was checked'), found: z.boolean().describe('Result'), detail: z.string().describe('What was seen') }))
    .describe('How detection was done'),
  compute_device: z.string().describe('Where training actually runs'),
  ...hostShape,
  jobs: z
    .array(
      z.object({
        job_id: z.string().describe('Job id'),
        status: z.string().describe('queued or running'),
        phase: z.string().describe('Phase'),
        epoch: z.number().describe('Epochs completed'),
        epochs: z.number().describe('Epochs planned'),
        loss: z.number().nullable().describe('Latest loss'),
      }),
    )
    .describe('Running and queued jobs with progress'),
};

// ---------- predict ----------
export const predictInput = {
  model_id: modelId,
  customer_id: z.union([z.string().min(1).max(256), z.number()]).describe('Customer to recommend for (same id as in the training data)'),
  k: z.number().int().min(1).max(LIMITS.maxPredictK).default(10).describe('Number of products to return'),
  exclude_purchased: z.boolean().default(true).describe('Leave out products the customer already bought (in the training dataset)'),
  cold_start: z
    .enum(['error', 'popular'])
    .default('error')
    .describe('For a customer the model has never seen: error, or return the most popular products'),
};
export const predictOutput = {
  model_id: z.string().describe('Model used'),
  customer_id: z.string().describe('Customer'),
  source: z.enum(['model', 'popularity']).describe('model: factor scores; popularity: cold-start fallback'),
  items: z
    .array(z.object({ product_id: z.string().describe('Product id'), score: z.number().describe('Predicted preference (dot product) or popularity count'), rank: z.number().describe('1-based rank') }))
    .describe('Top-K products, best first'),
  excluded_purchased: z.number().describe('Products left out because already bought'),
};

// ---------- model_export ----------
export const modelExportInput = {
  model_id: modelId,
  format: z.enum(['onnx']).default('onnx').describe('Export format'),
  verify_users: z
    .number()
    .int()
    .min(1)
    .max(LIMITS.maxExportVerifyUsers)
    .default(64)
    .describe('Customers whose scores are compared between onnxruntime and the in-process model'),
};
export const modelExportOutput = {
  model_id: z.string().describe('Exported model'),
  format: z.string().describe('Format'),
  uri: z.string().describe('storage:// URI of the .onnx file'),
  sha256: z.string().describe('SHA-256 of the .onnx bytes as stored'),
  bytes: z.number().describe('Size of the .onnx file'),
  opset: z.number().describe('ONNX default-domain opset'),
  ir_version: z.number().describe('ONNX IR version'),
  graph: z.string().describe('Graph summary'),
  inputs: z.array(z.string()).describe('Graph inputs'),
  outputs: z.array(z.string()).describe('Graph outputs'),
  parity: z
    .object({
      users_checked: z.number().describe('Customers compared'),
      max_abs_diff: z.number().describe('Largest |onnxruntime − in-process| score'),
      top_k: z.number().describe('K of the top-K comparison'),
      top_k_identical_users: z.number().describe('Customers whose top-K list is identical'),
      all_top_k_identical: z.boolean().describe('Every compared top-K list identical'),
      onnxruntime_version: z.string().describe('onnxruntime-node version that loaded the model'),
      inference_ms: z.number().describe('onnxruntime inference time for the checked customers'),
    })
    .describe('Verification against onnxruntime-node (CPU)'),
  verified: z.boolean().describe('max_abs_diff ≤ 1e-4 and all top-K lists identical'),
};

// ---------- server_info ----------
export const serverInfoInput = {};
export const serverInfoOutput = {
  server: z.string().describe('Server name'),
  version: z.string().describe('Server version'),
  tools: z.array(z.string()).describe('Tool names'),
  algorithm: z.string().describe('Training algorithm and its solver'),
  capabilities: z
    .object({
      gpu: z.string().describe('Accelerators: "none (detected)" when detection found none'),
      accelerators: z.array(z.string()).describe('Detected accelerator devices'),
      cpus: z.number().describe('Logical CPUs'),
      memory_bytes: z.number().describe('Physical memory'),
      max_concurrent_jobs: z.number().describe('Training jobs run at once'),
      operations: z.array(z.string()).describe('data_processing operations'),
      holdout_strategies: z.array(z.string()).describe('Evaluation hold-out strategies'),
      export_formats: z.array(z.string()).describe('model_export formats'),
      metrics: z.array(z.string()).describe('Reported evaluation metrics'),
    })
    .describe('What this server can do'),
  limits: z
    .object({
      rate_limit_per_minute: z.number().nullable().describe('Requests per minute enforced (null: none enforced here)'),
      max_concurrent_jobs: z.number().describe('Training jobs at once'),
      max_queued_jobs: z.number().describe('Jobs that may wait'),
      job_timeout_ms: z.number().describe('Longest a job may run'),
      max_dataset_bytes: z.number().describe('Largest dataset object accepted'),
      max_interactions: z.number().describe('Most user-item pairs accepted for training'),
      max_factors: z.number().describe('Largest factors'),
      max_epochs: z.number().describe('Largest epochs'),
      max_predict_k: z.number().describe('Largest predict k'),
    })
    .describe('Limits as enforced'),
  measured: z
    .object({
      ...hostShape,
      gpu_available: z.boolean().describe('Whether a GPU was detected'),
      jobs_running: z.number().describe('Jobs training now'),
      jobs_queued: z.number().describe('Jobs waiting'),
      jobs_total: z.number().describe('Jobs known'),
      models_stored: z.number().describe('Models saved in the data dir'),
      disk_free_bytes: z.number().describe('Free bytes on the data dir file system'),
      disk_total_bytes: z.number().describe('Size of the data dir file system'),
    })
    .describe('Measured now on this machine'),
};
