import path from 'node:path';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../../client/stack/entry';
import { baseServerConfigSchema, loadBaseServerConfig } from '../kit';

/** Default port of the workflow server. */
export const WORKFLOW_DEFAULT_PORT = 8010;

/** Settings of the workflow server on top of the kit's base configuration; every one has a default. */
export const workflowOptionsSchema = z.object({
  /**
   * Prefix of the orchestrator and group task queues this server starts runs on and lists runs of
   * (see `orchestratorQueue`). Env `MCP_TASK_QUEUE_PREFIX`.
   * @default ''
   */
  taskQueuePrefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, . _ - only')
    .default(''),
  /** Folder that `spec_path` arguments are resolved in (and confined to). Env `MCP_WORKFLOW_PIPELINES_DIR`. */
  pipelinesDir: z.string().default(path.join(PACKAGE_ROOT, 'pipelines')),
  /** Largest YAML spec accepted, in bytes (text or file). Env `MCP_WORKFLOW_MAX_SPEC_BYTES`. */
  maxSpecBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .max(4 * 1024 * 1024)
    .default(256 * 1024),
  /**
   * Check every step's tool and literal arguments against the live servers before starting, as
   * `mcp-orch run` does. Env `MCP_WORKFLOW_DISCOVER` (`false` to plan offline).
   */
  discoverTools: z.boolean().default(true),
  /** Timeout of each server's health probe during discovery (the CLI's value). Env `MCP_WORKFLOW_DISCOVERY_TIMEOUT_MS`. */
  discoveryTimeoutMs: z.coerce.number().int().min(100).max(60_000).default(3000),
  /** Most runs/schedules one `list_runs`/`list_schedules` call returns. Env `MCP_WORKFLOW_MAX_LIST`. */
  maxList: z.coerce.number().int().min(1).max(1000).default(100),
  /** Longest `wait_ms` a `pipeline_status` call may block for. Env `MCP_WORKFLOW_MAX_WAIT_MS`. */
  maxWaitMs: z.coerce.number().int().min(0).max(600_000).default(60_000),
  /** Temporal Web UI base URL for links in results. Env `TEMPORAL_UI_URL` (else `http://127.0.0.1:$TEMPORAL_UI_PORT`). */
  temporalUiUrl: z.string().url().default('http://127.0.0.1:8233'),
});

export const workflowServerConfigSchema = baseServerConfigSchema.extend(workflowOptionsSchema.shape);

/** Full, validated workflow server configuration. */
export type WorkflowServerConfig = z.infer<typeof workflowServerConfigSchema>;
/** What callers pass to `startWorkflowServer`: the base config, workflow settings optional. */
export type WorkflowServerConfigInput = z.input<typeof workflowServerConfigSchema>;

/** Validates a configuration object, naming the offending field on failure. */
export function parseWorkflowServerConfig(input: WorkflowServerConfigInput): WorkflowServerConfig {
  const parsed = workflowServerConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid workflow server configuration: ${issues}`);
  }
  return parsed.data;
}

/** Reads the workflow server configuration from the environment (names in this folder's README). */
export function loadWorkflowServerConfig(env: NodeJS.ProcessEnv = process.env): WorkflowServerConfig {
  const base = loadBaseServerConfig('workflow', WORKFLOW_DEFAULT_PORT, env);
  const blank = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);
  const discover = blank(env.MCP_WORKFLOW_DISCOVER);
  return parseWorkflowServerConfig({
    ...base,
    taskQueuePrefix: blank(env.MCP_TASK_QUEUE_PREFIX),
    pipelinesDir: blank(env.MCP_WORKFLOW_PIPELINES_DIR),
    maxSpecBytes: blank(env.MCP_WORKFLOW_MAX_SPEC_BYTES),
    // z.coerce.boolean() would read "false" as true.
    discoverTools: discover === undefined ? undefined : !/^(false|0|no|off)$/i.test(discover),
    discoveryTimeoutMs: blank(env.MCP_WORKFLOW_DISCOVERY_TIMEOUT_MS),
    maxList: blank(env.MCP_WORKFLOW_MAX_LIST),
    maxWaitMs: blank(env.MCP_WORKFLOW_MAX_WAIT_MS),
    temporalUiUrl: blank(env.TEMPORAL_UI_URL) ?? `http://127.0.0.1:${env.TEMPORAL_UI_PORT ?? 8233}`,
  } as WorkflowServerConfigInput);
}
