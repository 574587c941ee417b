import { z } from 'zod';
import { loadBaseServerConfig, type BaseServerConfig } from '../kit';

/** Server name as used in logs, `/healthz` and the kit's data-dir default (`$MCP_DATA_ROOT/model-serving`). */
export const MODEL_SERVING_NAME = 'model-serving';
/** Default port of the model-serving service. */
export const MODEL_SERVING_DEFAULT_PORT = 8007;

/** Options of the model-serving service beyond the kit's base config (env names in README.md). */
export interface ModelServingOptions {
  /** Storage server base URL the ONNX objects are fetched from. Env `MCP_STORAGE_URL`. */
  storageUrl: string;
  /**
   * Service token: sent to the storage object API, and required as a bearer token on `/v1/*` when
   * set. Env `MCP_SERVICE_TOKEN`. Unset: the API is open (local experiments only).
   */
  serviceToken?: string;
  /** Base of the `endpoint` URLs returned to callers. Env `MCP_MODEL_SERVING_PUBLIC_URL`. @default the listening URL */
  publicUrl?: string;
  /** Largest ONNX object deployed. Env `MCP_MODEL_SERVING_MAX_MODEL_BYTES`. @default 268435456 */
  maxModelBytes?: number;
  /** Distinct model names deployed at once. Env `MCP_MODEL_SERVING_MAX_MODELS`. @default 16 */
  maxModels?: number;
  /** Versions kept loaded per name (active plus rollback targets). Env `MCP_MODEL_SERVING_KEEP_VERSIONS`. @default 2 */
  keepVersions?: number;
  /** Largest `k` a prediction may ask for. Env `MCP_MODEL_SERVING_MAX_K`. @default 100 */
  maxK?: number;
  /** Predictions in flight before new ones get 429. Env `MCP_MODEL_SERVING_MAX_INFLIGHT`. @default 32 */
  maxInflight?: number;
  /** Longest one inference may take before 504 (the inference worker is then restarted). Env `MCP_MODEL_SERVING_INFERENCE_TIMEOUT_MS`. @default 10000 */
  inferenceTimeoutMs?: number;
  /** Longest loading one model into onnxruntime may take. Env `MCP_MODEL_SERVING_LOAD_TIMEOUT_MS`. @default 120000 */
  loadTimeoutMs?: number;
}

const ENV_NAMES = {
  storageUrl: 'MCP_STORAGE_URL',
  serviceToken: 'MCP_SERVICE_TOKEN',
  publicUrl: 'MCP_MODEL_SERVING_PUBLIC_URL',
  maxModelBytes: 'MCP_MODEL_SERVING_MAX_MODEL_BYTES',
  maxModels: 'MCP_MODEL_SERVING_MAX_MODELS',
  keepVersions: 'MCP_MODEL_SERVING_KEEP_VERSIONS',
  maxK: 'MCP_MODEL_SERVING_MAX_K',
  maxInflight: 'MCP_MODEL_SERVING_MAX_INFLIGHT',
  inferenceTimeoutMs: 'MCP_MODEL_SERVING_INFERENCE_TIMEOUT_MS',
  loadTimeoutMs: 'MCP_MODEL_SERVING_LOAD_TIMEOUT_MS',
} as const satisfies Record<keyof ModelServingOptions, string>;

const optionsSchema = z.object({
  storageUrl: z.string().url(),
  serviceToken: z.string().min(1).optional(),
  publicUrl: z.string().url().optional(),
  maxModelBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024 * 1024),
  maxModels: z.coerce.number().int().min(1).max(1000).default(16),
  keepVersions: z.coerce.number().int().min(1).max(16).default(2),
  maxK: z.coerce.number().int().min(1).max(10_000).default(100),
  maxInflight: z.coerce.number().int().min(1).max(10_000).default(32),
  inferenceTimeoutMs: z.coerce.number().int().min(10).default(10_000),
  loadTimeoutMs: z.coerce.number().int().min(100).default(120_000),
});

/** Reads the model-serving options from the environment, failing fast with the variable's name. */
export function loadModelServingOptions(
  env: NodeJS.ProcessEnv = process.env,
): Required<Omit<ModelServingOptions, 'serviceToken' | 'publicUrl'>> &
  Pick<ModelServingOptions, 'serviceToken' | 'publicUrl'> {
  const raw: Record<string, string | undefined> = {};
  for (const [field, name] of Object.entries(ENV_NAMES)) raw[field] = env[name] || undefined;
  raw.storageUrl ??= 'http://127.0.0.1:8003';
  const parsed = optionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map(
        (i) => `${ENV_NAMES[String(i.path[0]) as keyof typeof ENV_NAMES] ?? i.path.join('.')}: ${i.message}`,
      )
      .join('; ');
    throw new Error(`invalid ${MODEL_SERVING_NAME} configuration: ${issues}`);
  }
  return parsed.data;
}

/**
 * Kit base config for this service. The kit derives variable names from the server name, which here
 * gives `MCP_MODEL-SERVING_PORT`, a name most shells cannot set; so `MCP_MODEL_SERVING_{PORT,HOST,DATA_DIR}`
 * are accepted as aliases (the hyphenated names still win when both are present).
 */
export function loadModelServingBaseConfig(env: NodeJS.ProcessEnv = process.env): BaseServerConfig {
  const aliased: NodeJS.ProcessEnv = { ...env };
  for (const suffix of ['PORT', 'HOST', 'DATA_DIR']) {
    aliased[`MCP_MODEL-SERVING_${suffix}`] ??= env[`MCP_MODEL_SERVING_${suffix}`];
  }
  return loadBaseServerConfig(MODEL_SERVING_NAME, MODEL_SERVING_DEFAULT_PORT, aliased);
}
