import { z } from 'zod';
import { TEMPORAL_STATUSES } from './temporal-runs';
import { OVERLAP_POLICIES } from './temporal-schedules';

const workflowId = z
  .string()
  .min(1)
  .max(255)
  .describe('Workflow id of a pipeline run (as returned by start_pipeline or list_runs)');

const scheduleId = z
  .string()
  .min(1)
  .max(128)
  .describe('Schedule id (as returned by schedule_pipeline or list_schedules)');

/** Spec arguments shared by start_pipeline and schedule_pipeline. */
const specInput = {
  spec_yaml: z
    .string()
    .min(1)
    .optional()
    .describe(
      'The pipeline spec as YAML text (give this or spec_path); problems are reported as spec_yaml:<line>:<column>',
    ),
  spec_path: z
    .string()
    .min(1)
    .max(512)
    .optional()
    .describe(
      'A spec file of the server\'s pipelines folder, e.g. "hello.yaml" or "pipelines/hello.yaml" (give this or spec_yaml)',
    ),
  inputs: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .optional()
    .describe(
      "Values of the spec's declared inputs (like mcp-orch -i key=value); coerced to the declared types",
    ),
};

const uncheckedServers = z
  .array(z.string())
  .describe(
    'Server groups the plan uses whose tools could not be checked (server unreachable or discovery off); empty when every step was validated against the live catalog',
  );

// ---- start_pipeline ----
export const startPipelineInput = {
  ...specInput,
  workflow_id: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$/,
      'letters, digits, . _ : - (starting with a letter or digit)',
    )
    .optional()
    .describe(
      'Workflow id for the run (default <pipeline>-<UTC time>-<random>, as the CLI picks); refused while a run with this id is running',
    ),
};
export const startPipelineOutput = {
  workflow_id: z.string().describe('Workflow id of the started run'),
  run_id: z.string().describe('Temporal run id of the first execution'),
  pipeline: z.string().describe('Pipeline name from the spec'),
  source: z.string().describe('Where the spec came from: spec_yaml or pipelines/<file>'),
  steps: z.number().int().describe('Number of steps in the plan'),
  servers: z.array(z.string()).describe('Server groups the steps call'),
  levels: z.number().int().describe('Depth of the DAG (levels of steps that may run together)'),
  max_parallelism: z.number().int().describe('Most steps that may run at once'),
  unchecked_servers: uncheckedServers,
  planning_ms: z.number().describe('Time to parse, plan and validate the spec, ms (measured)'),
  discovery_ms: z
    .number()
    .describe('Time to discover the live tool catalog, ms (measured; 0 when discovery is off)'),
  task_queue: z.string().describe('Orchestrator task queue the run was started on'),
  web_ui_url: z.string().describe('Temporal Web UI page of the run'),
};

// ---- pipeline_status ----
export const pipelineStatusInput = {
  workflow_id: workflowId,
  wait_ms: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      'Block up to this many ms (capped by the server) until the run closes, sending progress notifications meanwhile; default 0 (answer at once)',
    ),
  max_steps: z.number().int().min(0).max(500).optional().describe('Most steps listed in steps (default 50)'),
};
const stepOut = z.object({
  id: z.string().describe('Step id'),
  server: z.string().describe('Server group the step calls'),
  tool: z.string().describe('Tool the step calls'),
  status: z
    .string()
    .describe(
      'waiting, running, done, failed, skipped, cancelled, compensating, compensated or compensation_failed',
    ),
  attempts: z.number().int().optional().describe('Attempt that succeeded, when known'),
  tool_time_ms: z
    .number()
    .optional()
    .describe("Time inside the server's tool handler, ms (measured by the server)"),
  call_ms: z.number().optional().describe('Time of the MCP call as the activity saw it, ms'),
  error: z.string().optional().describe('Why the step failed'),
});
const metricsOut = z
  .object({
    makespan_ms: z.number().describe('From the first step start to the last step end, ms'),
    critical_path_ms: z.number().describe('Longest path through the DAG weighted by tool time, ms'),
    critical_path: z.array(z.string()).describe('Step ids on the critical path'),
    total_tool_ms: z.number().describe('Sum of tool time over completed steps, ms'),
    parallel_efficiency: z.number().describe('Lower bound / makespan (1.0 is the physical limit)'),
    coordination_overhead_per_step_ms: z
      .number()
      .describe('(makespan − critical path) / steps on the critical path, ms'),
    steps_done: z.number().int().describe('Steps completed'),
    steps_failed: z.number().int().describe('Steps failed'),
    retries: z.number().int().describe('Extra attempts over all steps'),
    tool_success_rate: z.number().describe('Share of steps that succeeded'),
    mean_transport_ms: z
      .number()
      .describe('Mean (call time − tool time): what network and MCP transport add per call, ms'),
  })
  .describe('Orchestration metrics of the run so far (shared/PERFORMANCE.md definitions)');
export const pipelineStatusOutput = {
  workflow_id: z.string().describe('Workflow id'),
  run_id: z.string().describe('Temporal run id'),
  temporal_status: z
    .string()
    .describe('Temporal execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT …'),
  pipeline: z.string().optional().describe('Pipeline name (when the progress could be read)'),
  status: z
    .string()
    .optional()
    .describe('Run status from the workflow: running, paused, compensating, completed, failed or cancelled'),
  paused: z.boolean().optional().describe('True while the run holds back new steps'),
  started_at: z.string().describe('When the run started (ISO 8601)'),
  closed_at: z.string().optional().describe('When the run closed (ISO 8601)'),
  steps_total: z.number().int().describe('Steps in the run (0 when the progress could not be read)'),
  steps_by_status: z.record(z.string(), z.number().int()).describe('Number of steps per step status'),
  steps: z.array(stepOut).describe('Steps in plan order, capped at max_steps'),
  steps_truncated: z.boolean().describe('True when more steps exist than listed'),
  error: z.string().optional().describe('Why the run failed or was cancelled'),
  metrics: metricsOut.optional(),
  history_length: z.number().int().describe("Events in the run's Temporal history"),
  waited_ms: z.number().describe('How long this call waited for the run to close, ms'),
  web_ui_url: z.string().describe('Temporal Web UI page of the run'),
};

// ---- list_runs ----
export const listRunsInput = {
  status: z.enum(TEMPORAL_STATUSES).optional().describe('Only runs in this Temporal status'),
  pipeline: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .optional()
    .describe(
      'Only runs of this pipeline (workflow ids starting with <pipeline>-, as the CLI, this server and schedules name them)',
    ),
  workflow_id_prefix: z.string().max(255).optional().describe('Only runs whose workflow id starts with this'),
  schedule_id: z.string().max(128).optional().describe('Only runs started by this schedule'),
  started_after: z
    .string()
    .datetime({ offset: true })
    .optional()
    .describe('Only runs started after this time (ISO 8601)'),
  limit: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Most runs returned, newest first (default 20; capped by the server)'),
};
export const listRunsOutput = {
  runs: z
    .array(
      z.object({
        workflow_id: z.string().describe('Workflow id'),
        run_id: z.string().describe('Temporal run id'),
        status: z.string().describe('Temporal execution status'),
        pipeline: z
          .string()
          .optional()
          .describe("Pipeline name (from the run's memo; absent for runs started without one)"),
        started_at: z.string().describe('Start time (ISO 8601)'),
        closed_at: z.string().optional().describe('Close time (ISO 8601)'),
        duration_ms: z.number().optional().describe('Close − start, ms'),
        schedule_id: z.string().optional().describe('Schedule that started the run'),
        history_length: z.number().int().describe("Events in the run's history"),
      }),
    )
    .describe('Runs, newest first'),
  count: z.number().int().describe('Runs returned'),
  truncated: z.boolean().describe('True when more runs match than were returned'),
  query: z
    .string()
    .describe('The Temporal visibility query used (usable with temporal workflow list --query)'),
};

// ---- pause_run / resume_run ----
export const controlRunInput = { workflow_id: workflowId };
export const controlRunOutput = {
  workflow_id: z.string().describe('Workflow id'),
  run_id: z.string().describe('Temporal run id'),
  signal: z.enum(['pause', 'resume']).describe('Signal delivered'),
  status: z
    .string()
    .optional()
    .describe('Run status read right after the signal (the workflow applies it at its next task)'),
  paused: z.boolean().optional().describe('Paused flag read right after the signal'),
};

// ---- cancel_run ----
export const cancelRunInput = { workflow_id: workflowId };
export const cancelRunOutput = {
  workflow_id: z.string().describe('Workflow id'),
  run_id: z.string().describe('Temporal run id'),
  previous_status: z.string().describe('Temporal status before the request'),
  cancellation_requested: z
    .boolean()
    .describe(
      'True: running steps are being cancelled and completed ones compensated; watch with pipeline_status',
    ),
};

// ---- schedule_pipeline ----
export const schedulePipelineInput = {
  ...specInput,
  every: z
    .string()
    .optional()
    .describe('Interval between runs, e.g. "30s", "15m", "1h", "1d" (give this or cron; at least 1s)'),
  cron: z
    .string()
    .max(200)
    .optional()
    .describe('Cron expression in UTC, 5 fields, e.g. "0 6 * * 1-5", or @daily/@hourly (give this or every)'),
  schedule_id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, . _ - (starting with a letter or digit)')
    .optional()
    .describe(
      'Schedule id (default <pipeline>-every-<random>); runs are named <pipeline>-<schedule id>-<time>',
    ),
  note: z.string().max(500).optional().describe('Free text kept with the schedule'),
  paused: z.boolean().optional().describe('Create the schedule paused (default false)'),
  overlap: z
    .enum(OVERLAP_POLICIES)
    .optional()
    .describe(
      'When the previous run is still going at the next time: skip (default), buffer_one, buffer_all, cancel_other, allow_all',
    ),
  trigger_now: z.boolean().optional().describe('Also start one run right away (default false)'),
};
export const schedulePipelineOutput = {
  schedule_id: z.string().describe('Schedule id'),
  pipeline: z.string().describe('Pipeline name'),
  spec: z.string().describe('When it runs, as Temporal describes it back'),
  next_runs: z.array(z.string()).describe('Next start times (ISO 8601), up to 5, computed by Temporal'),
  workflow_id_prefix: z.string().describe('Workflow ids of scheduled runs start with this'),
  steps: z.number().int().describe('Steps in the planned spec'),
  unchecked_servers: uncheckedServers,
};

// ---- list_schedules ----
export const listSchedulesInput = {
  limit: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Most schedules returned (default 50; capped by the server)'),
};
export const listSchedulesOutput = {
  schedules: z
    .array(
      z.object({
        schedule_id: z.string().describe('Schedule id'),
        pipeline: z.string().optional().describe('Pipeline the schedule runs'),
        paused: z.boolean().describe('True when paused'),
        note: z.string().optional().describe('Note kept with the schedule'),
        spec: z.string().describe('When it runs'),
        next_runs: z.array(z.string()).describe('Next start times (ISO 8601), up to 5'),
        recent_runs: z
          .array(
            z.object({
              workflow_id: z.string().describe('Workflow id of the run it started'),
              run_id: z.string().describe('Run id'),
              scheduled_at: z.string().describe('Time the run was due (ISO 8601)'),
              started_at: z.string().describe('Time it was started (ISO 8601)'),
            }),
          )
          .describe('Up to 10 most recent runs it started'),
      }),
    )
    .describe("Schedules on this server's task queue"),
  count: z.number().int().describe('Schedules returned'),
  truncated: z.boolean().describe('True when more exist than were returned'),
};

// ---- delete_schedule / trigger_schedule ----
export const scheduleIdInput = { schedule_id: scheduleId };
export const deleteScheduleOutput = {
  schedule_id: z.string().describe('Schedule id'),
  deleted: z.boolean().describe('True: no further runs will start (runs already started continue)'),
  actions_taken: z.number().int().describe('Runs the schedule had started before deletion'),
};
export const triggerScheduleOutput = {
  schedule_id: z.string().describe('Schedule id'),
  triggered: z
    .boolean()
    .describe('True: Temporal was asked to start a run now (subject to the overlap policy)'),
};

// ---- server_info ----
export const serverInfoInput = {};
export const serverInfoOutput = {
  server: z.string().describe('Server name'),
  version: z.string().describe('Server version'),
  tools: z.array(z.string()).describe('Tool names'),
  capabilities: z.record(z.string(), z.unknown()).describe('Facts about what the server can do'),
  limits: z.record(z.string(), z.unknown()).describe('Limits enforced by the server'),
  measured: z.record(z.string(), z.unknown()).describe('Facts measured now on this machine and on Temporal'),
};
