import os from 'node:os';
import type { Client } from '@temporalio/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { orchestratorQueue, PIPELINE_WORKFLOW } from '../../shared/constants';
import type { RunMetrics } from '../../shared/metrics';
import type { Plan } from '../../shared/plan';
import { DEFAULT_CLIENT_RATE_PER_MINUTE, ToolError, registerTool, type IdempotencyStore, MCP_SERVER_OPTIONS } from '../kit';
import type { WorkflowServerConfig } from './config';
import { listPipelines } from './plan-source';
import {
  cancelRunInput,
  cancelRunOutput,
  controlRunInput,
  controlRunOutput,
  deleteScheduleOutput,
  listRunsInput,
  listRunsOutput,
  listSchedulesInput,
  listSchedulesOutput,
  pipelineStatusInput,
  pipelineStatusOutput,
  scheduleIdInput,
  schedulePipelineInput,
  schedulePipelineOutput,
  serverInfoInput,
  serverInfoOutput,
  startPipelineInput,
  startPipelineOutput,
  triggerScheduleOutput,
} from './schemas';
import type { SpecPlanner } from './spec-planner';
import type { RunControl } from './temporal-runs';
import { MIN_INTERVAL_MS, type ScheduleControl } from './temporal-schedules';

export const WORKFLOW_SERVER_NAME = 'workflow';
export const WORKFLOW_SERVER_VERSION = '0.1.0';
export const WORKFLOW_TOOLS = [
  'start_pipeline',
  'pipeline_status',
  'list_runs',
  'pause_run',
  'resume_run',
  'cancel_run',
  'schedule_pipeline',
  'list_schedules',
  'delete_schedule',
  'trigger_schedule',
  'server_info',
] as const;

/** Backends created once per process and shared by every per-request McpServer. */
export interface WorkflowServerDeps {
  config: WorkflowServerConfig;
  client: Client;
  namespace: string;
  temporalAddress: string;
  runs: RunControl;
  schedules: ScheduleControl;
  planner: SpecPlanner;
  idempotency: IdempotencyStore;
  startedAt: number;
}

function runUrl(deps: WorkflowServerDeps, workflowId: string, runId?: string): string {
  const base = deps.config.temporalUiUrl.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(deps.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}/history`;
}

function metricsOut(m: RunMetrics) {
  return {
    makespan_ms: m.makespanMs,
    critical_path_ms: m.criticalPathMs,
    critical_path: m.criticalPath,
    total_tool_ms: m.totalToolMs,
    parallel_efficiency: Number.isFinite(m.parallelEfficiency) ? m.parallelEfficiency : 0,
    coordination_overhead_per_step_ms: Number.isFinite(m.coordinationOverheadPerStepMs)
      ? m.coordinationOverheadPerStepMs
      : 0,
    steps_done: m.stepsDone,
    steps_failed: m.stepsFailed,
    retries: m.retries,
    tool_success_rate: Number.isFinite(m.toolSuccessRate) ? m.toolSuccessRate : 0,
    mean_transport_ms: Number.isFinite(m.meanTransportMs) ? m.meanTransportMs : 0,
  };
}

function planFacts(plan: Plan) {
  return {
    steps: plan.order.length,
    servers: [...new Set(Object.values(plan.steps).map((s) => s.server))].sort(),
    levels: plan.levels.length,
    max_parallelism: plan.maxParallelism,
  };
}

/** Builds the workflow MCP server: start, watch, steer and schedule pipeline runs on Temporal. */
export function buildServer(deps: WorkflowServerDeps): McpServer {
  const server = new McpServer({ name: WORKFLOW_SERVER_NAME, version: WORKFLOW_SERVER_VERSION }, MCP_SERVER_OPTIONS);
  const { config } = deps;

  registerTool(
    server,
    'start_pipeline',
    {
      title: 'Start a pipeline run',
      description:
        "Validates and plans a pipeline spec exactly as `mcp-orch run` does (every step's tool and literal arguments checked against the live servers), then starts it as a durable Temporal workflow and returns its workflow id at once. Watch it with pipeline_status. Give the spec as YAML text (spec_yaml) or as a file of the pipelines folder (spec_path). With an idempotency key in _meta, a repeated call starts one run.",
      inputSchema: startPipelineInput,
      outputSchema: startPipelineOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
      idempotency: deps.idempotency,
    },
    async (args) => {
      const planned = await deps.planner.plan({
        specYaml: args.spec_yaml,
        specPath: args.spec_path,
        inputs: args.inputs,
      });
      const started = await deps.runs.start(planned.plan, args.workflow_id);
      return {
        workflow_id: started.workflowId,
        run_id: started.runId,
        pipeline: planned.plan.name,
        source: planned.source,
        ...planFacts(planned.plan),
        unchecked_servers: planned.unchecked,
        planning_ms: planned.planningMs,
        discovery_ms: planned.discoveryMs,
        task_queue: orchestratorQueue(config.taskQueuePrefix),
        web_ui_url: runUrl(deps, started.workflowId, started.runId),
      };
    },
  );

  registerTool(
    server,
    'pipeline_status',
    {
      title: "Show a run's progress",
      description:
        "Progress of a pipeline run (each step's status, attempts, measured tool time) and its orchestration metrics (makespan, critical path, parallel efficiency), read from the running workflow or, once closed, from its result. With wait_ms the call blocks until the run closes or the time passes, sending progress notifications.",
      inputSchema: pipelineStatusInput,
      outputSchema: pipelineStatusOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    async (args, ctx) => {
      let waitedMs = 0;
      const waitMs = Math.min(args.wait_ms ?? 0, config.maxWaitMs);
      if (waitMs > 0) {
        // Answer at once for an unknown or closed run, before waiting.
        const first = await deps.runs.status(args.workflow_id);
        if (first.temporalStatus === 'RUNNING') {
          const t0 = Date.now();
          await deps.runs.waitForClose(
            args.workflow_id,
            waitMs,
            async (p) => {
              if (!p) return;
              const steps = Object.values(p.steps);
              const done = steps.filter((s) => s.status === 'done').length;
              await ctx.progress(done, steps.length, `${p.status}: ${done}/${steps.length} steps done`);
            },
            ctx.signal,
          );
          waitedMs = Date.now() - t0;
        }
      }
      const r = await deps.runs.status(args.workflow_id);
      const p = r.progress;
      const maxSteps = args.max_steps ?? 50;
      const ordered = p ? Object.values(p.steps) : [];
      const byStatus: Record<string, number> = {};
      for (const s of ordered) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
      return {
        workflow_id: r.workflowId,
        run_id: r.runId,
        temporal_status: r.temporalStatus,
        pipeline: p?.pipeline,
        status: p?.status,
        paused: p?.paused,
        started_at: r.description.startTime.toISOString(),
        closed_at: r.description.closeTime?.toISOString(),
        steps_total: ordered.length,
        steps_by_status: byStatus,
        steps: ordered.slice(0, maxSteps).map((s) => ({
          id: s.id,
          server: s.server,
          tool: s.tool,
          status: s.status,
          attempts: s.attempts,
          tool_time_ms: s.toolTimeMs,
          call_ms: s.callMs,
          error: s.error?.message,
        })),
        steps_truncated: ordered.length > maxSteps,
        error: r.error,
        metrics: r.metrics ? metricsOut(r.metrics) : undefined,
        history_length: r.description.historyLength,
        waited_ms: waitedMs,
        web_ui_url: runUrl(deps, r.workflowId, r.runId),
      };
    },
  );

  registerTool(
    server,
    'list_runs',
    {
      title: 'List pipeline runs',
      description:
        "Pipeline runs on this server's task queue from Temporal visibility, newest first, filtered by status, pipeline, workflow id prefix, schedule or start time. Visibility is eventually consistent: a run started a moment ago may take a second to appear.",
      inputSchema: listRunsInput,
      outputSchema: listRunsOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    async (args) => {
      const limit = Math.min(args.limit ?? 20, config.maxList);
      const { runs, query, truncated } = await deps.runs.list(
        {
          status: args.status,
          pipeline: args.pipeline,
          workflowIdPrefix: args.workflow_id_prefix,
          scheduleId: args.schedule_id,
          startedAfter: args.started_after ? new Date(args.started_after) : undefined,
        },
        limit,
      );
      return {
        runs: runs.map((r) => ({
          workflow_id: r.workflowId,
          run_id: r.runId,
          status: r.status,
          pipeline: r.pipeline,
          started_at: r.startedAt,
          closed_at: r.closedAt,
          duration_ms: r.durationMs,
          schedule_id: r.scheduleId,
          history_length: r.historyLength,
        })),
        count: runs.length,
        truncated,
        query,
      };
    },
  );

  for (const what of ['pause', 'resume'] as const) {
    registerTool(
      server,
      `${what}_run`,
      {
        title: what === 'pause' ? 'Pause a run' : 'Resume a run',
        description:
          what === 'pause'
            ? 'Stops a running pipeline from starting new steps; steps already running finish. Resume it with resume_run. Refused for unknown or closed runs.'
            : 'Lets a paused pipeline start steps again. Refused for unknown or closed runs.',
        inputSchema: controlRunInput,
        outputSchema: controlRunOutput,
        annotations: {
          readOnlyHint: false,
          destructiveHint: false,
          idempotentHint: true,
          openWorldHint: true,
        },
      },
      async (args) => {
        const r = await deps.runs.signal(args.workflow_id, what);
        return {
          workflow_id: args.workflow_id,
          run_id: r.runId,
          signal: what,
          status: r.progress?.status,
          paused: r.progress?.paused,
        };
      },
    );
  }

  registerTool(
    server,
    'cancel_run',
    {
      title: 'Cancel a run',
      description:
        'Requests cancellation of a running pipeline: running steps are cancelled and completed steps compensated in reverse order (saga); the run ends CANCELLED. Watch it with pipeline_status. Refused for unknown or closed runs.',
      inputSchema: cancelRunInput,
      outputSchema: cancelRunOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    },
    async (args) => {
      const r = await deps.runs.cancel(args.workflow_id);
      return {
        workflow_id: args.workflow_id,
        run_id: r.runId,
        previous_status: r.previousStatus,
        cancellation_requested: true,
      };
    },
  );

  registerTool(
    server,
    'schedule_pipeline',
    {
      title: 'Schedule a pipeline',
      description:
        'Validates and plans a spec as start_pipeline does, then creates a Temporal Schedule that starts it every interval (every: "1h") or on a cron expression (cron: "0 6 * * *", UTC). Each scheduled run is an ordinary pipeline run (list_runs with schedule_id shows them). Remove it with delete_schedule.',
      inputSchema: schedulePipelineInput,
      outputSchema: schedulePipelineOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
      idempotency: deps.idempotency,
    },
    async (args) => {
      const planned = await deps.planner.plan({
        specYaml: args.spec_yaml,
        specPath: args.spec_path,
        inputs: args.inputs,
      });
      const s = await deps.schedules.create(planned.plan, {
        every: args.every,
        cron: args.cron,
        scheduleId: args.schedule_id,
        note: args.note,
        paused: args.paused,
        overlap: args.overlap,
        triggerNow: args.trigger_now,
      });
      return {
        schedule_id: s.scheduleId,
        pipeline: planned.plan.name,
        spec: s.spec,
        next_runs: s.nextRuns,
        workflow_id_prefix: s.workflowIdPrefix,
        steps: planned.plan.order.length,
        unchecked_servers: planned.unchecked,
      };
    },
  );

  registerTool(
    server,
    'list_schedules',
    {
      title: 'List pipeline schedules',
      description:
        "Schedules of pipelines on this server's task queue: when they run next and the runs they started recently.",
      inputSchema: listSchedulesInput,
      outputSchema: listSchedulesOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    async (args) => {
      const { schedules, truncated } = await deps.schedules.list(Math.min(args.limit ?? 50, config.maxList));
      return {
        schedules: schedules.map((s) => ({
          schedule_id: s.scheduleId,
          pipeline: s.pipeline,
          paused: s.paused,
          note: s.note,
          spec: s.spec,
          next_runs: s.nextRuns,
          recent_runs: s.recentRuns.map((r) => ({
            workflow_id: r.workflowId,
            run_id: r.runId,
            scheduled_at: r.scheduledAt,
            started_at: r.startedAt,
          })),
        })),
        count: schedules.length,
        truncated,
      };
    },
  );

  registerTool(
    server,
    'delete_schedule',
    {
      title: 'Delete a schedule',
      description:
        'Deletes a pipeline schedule: no further runs start; runs it already started continue. Refused for unknown schedule ids.',
      inputSchema: scheduleIdInput,
      outputSchema: deleteScheduleOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
      idempotency: deps.idempotency,
    },
    async (args) => {
      const d = await deps.schedules.describe(args.schedule_id);
      await deps.schedules.delete(args.schedule_id);
      return { schedule_id: args.schedule_id, deleted: true, actions_taken: d.actionsTaken };
    },
  );

  registerTool(
    server,
    'trigger_schedule',
    {
      title: 'Run a schedule now',
      description:
        "Starts a scheduled pipeline right away, outside its timetable (the schedule's overlap policy still applies).",
      inputSchema: scheduleIdInput,
      outputSchema: triggerScheduleOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
      idempotency: deps.idempotency,
    },
    async (args) => {
      await deps.schedules.trigger(args.schedule_id);
      return { schedule_id: args.schedule_id, triggered: true };
    },
  );

  registerTool(
    server,
    'server_info',
    {
      title: 'Workflow server info',
      description:
        'Version, tools, what the server can do, the limits it enforces, and live figures measured now (Temporal round trip and version, running runs, schedules, host load).',
      inputSchema: serverInfoInput,
      outputSchema: serverInfoOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    async () => {
      const measured: Record<string, unknown> = {
        cpuCount: os.cpus().length,
        loadAverage1m: os.loadavg()[0],
        freeMemoryBytes: os.freemem(),
        gpu: false,
        uptimeS: (Date.now() - deps.startedAt) / 1000,
        pipelinesAvailable: listPipelines(config.pipelinesDir).length,
        idempotencyKeysRemembered: deps.idempotency.size,
      };
      try {
        const t0 = performance.now();
        const info = await deps.client.connection.withDeadline(Date.now() + 3000, () =>
          deps.client.workflowService.getSystemInfo({}),
        );
        measured.temporalReachable = true;
        measured.temporalRoundTripMs = performance.now() - t0;
        measured.temporalServerVersion = info.serverVersion || undefined;
        measured.runningRuns = await deps.runs.count({ status: 'RUNNING' });
        measured.schedules = (await deps.schedules.list(config.maxList)).schedules.length;
      } catch (err) {
        measured.temporalReachable = false;
        measured.temporalError = err instanceof ToolError || err instanceof Error ? err.message : String(err);
      }
      return {
        server: WORKFLOW_SERVER_NAME,
        version: WORKFLOW_SERVER_VERSION,
        tools: [...WORKFLOW_TOOLS],
        capabilities: {
          temporalAddress: deps.temporalAddress,
          namespace: deps.namespace,
          workflowType: PIPELINE_WORKFLOW,
          taskQueue: orchestratorQueue(config.taskQueuePrefix),
          taskQueuePrefix: config.taskQueuePrefix,
          specSources: ['spec_yaml', 'spec_path'],
          pipelinesDir: config.pipelinesDir,
          validatesAgainstLiveCatalog: config.discoverTools,
          scheduleKinds: ['interval', 'cron'],
          gpu: false,
        },
        limits: {
          clientRateLimitPerMinute: config.clientRateLimitPerMinute ?? DEFAULT_CLIENT_RATE_PER_MINUTE,
          maxSpecBytes: config.maxSpecBytes,
          maxList: config.maxList,
          maxWaitMs: config.maxWaitMs,
          minScheduleIntervalMs: MIN_INTERVAL_MS,
          discoveryTimeoutMs: config.discoveryTimeoutMs,
        },
        measured,
      };
    },
  );

  return server;
}
