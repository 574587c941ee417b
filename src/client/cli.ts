#!/usr/bin/env node
import path from 'node:path';
import { Command } from 'commander';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { formatMs } from '../shared/duration';
import { computeRunMetrics } from '../shared/metrics';
import { PipelineError } from '../shared/problems';
import { orchestratorQueue, PIPELINE_WORKFLOW, QUERIES, SIGNALS } from '../shared/constants';
import type { RunProgress, RunReport } from '../shared/run-types';
import { planForWire } from '../shared/plan';
import { discoveryPoolOptions, loadPlan, parseInputs } from './pipeline-loader';
import { metricsBlock, progressLine, schemaChangeLines, stepTable } from './render';
import { auditLines, discoveryLines, RunLog } from './run-log';
import { prepareRetry } from './retry';
import { runSearchAttributes } from './search-attributes';
import { workerEndpointViews, workerViewLines } from './worker-view';
import { registerScheduleCommand } from './schedule';
import { registerDashboardCommand } from './dashboard';
import { registerWatchCommand } from './watch';
import { down, up } from './stack/stack';
import { temporalTarget } from './temporal-connection';
import { discover } from '../mcp/discovery';
import { McpClientPool } from '../mcp/pool';
import { loadRegistry } from '../registry/registry';
import { tokenSourceFromEnv } from '../servers/kit/client-auth';
import { loadDataConverter } from '../codec';
import { formatTrace, readTrace } from '../observability/tracing/read';
import { installTracing, shutdownTracing, traceDir } from '../observability/tracing/setup';
import { clientTracingInterceptors } from '../observability/tracing/temporal';

/** A user mistake or an expected failure: printed as one line, no stack trace. */
class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

function uiBase(): string {
  return (process.env.TEMPORAL_UI_URL ?? `http://127.0.0.1:${process.env.TEMPORAL_UI_PORT ?? 8233}`).replace(/\/$/, '');
}

function runUrl(namespace: string, workflowId: string, runId?: string): string {
  return `${uiBase()}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}/history`;
}

async function withClient<T>(fn: (client: Client, namespace: string) => Promise<T>): Promise<T> {
  const target = temporalTarget();
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: 5000 } as never);
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${target.connectionOptions.address}: ${err instanceof Error ? err.message : String(err)} (is the stack up? try: mcp-orch up)`, 1);
  }
  try {
    return await fn(new Client({ connection, namespace: target.namespace, dataConverter: await loadDataConverter(), interceptors: { workflow: clientTracingInterceptors() } }), target.namespace);
  } finally {
    await connection.close();
  }
}

async function queryProgress(handle: WorkflowHandle): Promise<RunProgress | undefined> {
  try {
    return await handle.query<RunProgress>(QUERIES.progress);
  } catch {
    return undefined;
  }
}

function printPlanProblems(err: PipelineError): never {
  throw new CliError(`invalid pipeline (${err.problems.length} problem${err.problems.length > 1 ? 's' : ''}):\n${err.message}`);
}

async function watch(handle: WorkflowHandle, json: boolean, runLog?: RunLog): Promise<{ report?: RunReport; error?: unknown; last?: RunProgress }> {
  const tty = process.stdout.isTTY && !json && !runLog;
  let lastLine = '';
  let drawnLines = 0;
  let last: RunProgress | undefined;
  const resultP = handle.result().then(
    (report: RunReport) => ({ report }),
    (error: unknown) => ({ error }),
  );
  let settled: { report?: RunReport; error?: unknown } | undefined;
  void resultP.then((r) => (settled = r));
  while (!settled) {
    const p = await queryProgress(handle);
    if (p) {
      last = p;
      if (runLog) {
        runLog.update(p);
      } else if (json) {
        const line = JSON.stringify({ event: 'progress', progress: p });
        if (line !== lastLine) process.stdout.write(line + '\n');
        lastLine = line;
      } else if (tty) {
        // Lines cut to the terminal's width: a wrapped line would take two rows and break the redraw.
        const cols = process.stdout.columns || 120;
        const cut = (l: string) => (l.length > cols - 1 ? `${l.slice(0, cols - 2)}…` : l);
        const frame = `\x1b[1m${cut(progressLine(p))}\x1b[0m\n${stepTable(p, { color: true, maxWidth: cols - 1 })}`;
        if (drawnLines) process.stdout.write(`\x1b[${drawnLines}A\x1b[J`);
        process.stdout.write(frame + '\n');
        drawnLines = frame.split('\n').length;
      } else {
        const line = progressLine(p);
        if (line !== lastLine) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
        lastLine = line;
      }
    }
    await Promise.race([resultP, new Promise((r) => setTimeout(r, tty ? 250 : 500))]);
  }
  if (tty && drawnLines) process.stdout.write(`\x1b[${drawnLines}A\x1b[J`);
  const final = (settled as { report?: RunReport }).report ?? progressFromFailure((settled as { error?: unknown }).error);
  if (runLog && final) runLog.update(final);
  return { ...(settled as { report?: RunReport; error?: unknown }), last };
}

/** The final progress of a failed run travels in the failure's details. */
function progressFromFailure(err: unknown): RunProgress | undefined {
  const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
  const details = (cause as { details?: unknown[] } | undefined)?.details;
  return details?.[0] as RunProgress | undefined;
}

function failureMessage(err: unknown): string {
  const cause = err instanceof WorkflowFailedError ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

async function main(argv: string[]): Promise<void> {
  // `mcp-orch run` opens the root span of a run's trace (client → workflow → activities → MCP servers).
  installTracing({ service: 'mcp-orch' });
  const program = new Command()
    .name('mcp-orch')
    .option('--registry <file>', 'an extra server registry (third-party MCP servers); adds to MCP_REGISTRY_EXTRA')
    .hook('preAction', (cmd) => {
      const extra = cmd.opts<{ registry?: string }>().registry;
      // Through the environment, so discovery here and the processes `up` starts see the same registry.
      if (extra) process.env.MCP_REGISTRY_EXTRA = [process.env.MCP_REGISTRY_EXTRA, path.resolve(extra)].filter(Boolean).join(',');
    })
    .description('Durable pipelines of MCP tool calls across many MCP servers, on Temporal.')
    .showHelpAfterError('(run mcp-orch --help for usage)')
    .addHelpText(
      'after',
      `
Metrics printed after a run (definitions of shared/PERFORMANCE.md):
  tool time   time inside the MCP server for a step, measured by the server
  CP          critical path: longest path through the DAG weighted by tool time
  LB          lower bound = max(CP, W / c), W = total tool time, c = concurrency cap (none: LB = CP)
  E           parallel efficiency = LB / makespan (1.0 is the physical limit)
  overhead    coordination overhead per step = (makespan − CP) / steps on the critical path

Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_* (default 127.0.0.1:7233).`,
    );

  program
    .command('up')
    .description('start the local stack in the background: Temporal dev server, MCP servers, workers (logs under .data/logs)')
    .option('--no-workers', 'start only Temporal and the servers')
    .option('--replicas <spec>', 'extra servers per group, primary included, e.g. data=2 (MCP_REPLICAS): the pool fails over to them')
    .action(async (o: { workers: boolean; replicas?: string }) => {
      if (o.replicas) process.env.MCP_REPLICAS = o.replicas;
      const info = await up({ workers: o.workers });
      process.stdout.write(`stack up: Temporal ${info.temporalAddress}, Web UI ${info.uiUrl}\n`);
      for (const [g, url] of Object.entries(info.servers)) process.stdout.write(`  ${g.padEnd(13)} ${url}\n`);
      process.stdout.write('stop it with: mcp-orch down (or make down)\n');
    });

  program
    .command('down')
    .description('stop the local stack (workers finish in-flight calls first)')
    .action(async () => {
      const stopped = await down();
      process.stdout.write(stopped.length ? `stopped ${stopped.length} processes\n` : 'nothing was running\n');
    });

  program
    .command('plan <spec>')
    .description('validate and plan a pipeline spec without running it')
    .option('-i, --input <key=value...>', 'input values')
    .option('--json', 'print the plan as JSON')
    .option('--offline', 'do not contact the servers (tools and arguments are not checked)')
    .action(async (specPath: string, o: { input?: string[]; json?: boolean; offline?: boolean }) => {
      const loaded = await loadPlanOrExplain(specPath, o.input, !o.offline);
      if (o.json) {
        process.stdout.write(JSON.stringify({ plan: loaded.plan, unchecked: loaded.unchecked, planningMs: loaded.planningMs }, null, 2) + '\n');
        return;
      }
      const { plan } = loaded;
      process.stdout.write(`pipeline ${plan.name}: ${plan.order.length} steps, ${plan.edges} dependencies, planned in ${loaded.planningMs.toFixed(1)} ms\n`);
      plan.levels.forEach((lvl, i) => process.stdout.write(`  level ${i}: ${lvl.map((id) => `${id} (${plan.steps[id]!.server}/${plan.steps[id]!.tool})`).join(', ')}\n`));
      process.stdout.write(`  critical path (by step count): ${plan.criticalPath.join(' → ')}\n  most steps at once: ${plan.maxParallelism}\n`);
      if (loaded.unchecked.length) process.stdout.write(`  warning: tools on ${loaded.unchecked.join(', ')} not checked (server unreachable)\n`);
      else process.stdout.write('  every step’s tool and literal arguments checked against the live servers\n');
    });

  program
    .command('run <spec>')
    .description('run a pipeline and show its progress; exits non-zero if the run fails')
    .option('-i, --input <key=value...>', 'input values')
    .option('--id <workflowId>', 'workflow id (default: <pipeline>-<time>)')
    .option('--detach', 'start the run and return at once')
    .option('--json', 'machine-readable output (progress events, then the report)')
    .option('--log', 'a timestamped log by phase: discovery, each step with its measured figures, audit trail, final health')
    .action(async (specPath: string, o: { input?: string[]; id?: string; detach?: boolean; json?: boolean; log?: boolean }) => {
      const t0 = Date.now();
      const runLog = o.log ? new RunLog(t0, (l) => process.stdout.write(l + '\n')) : undefined;
      runLog?.line(t0, 'mcp-orchestrator: multi-server MCP orchestration on Temporal');
      const loaded = await loadPlanOrExplain(specPath, o.input, true);
      const { plan } = loaded;
      if (runLog && loaded.discovery) {
        const estimate = await withClient((client) => estimateFromHistory(client, plan.name)).catch(() => undefined);
        for (const l of discoveryLines(loaded.discovery, plan, estimate)) runLog.line(Date.now(), l);
        runLog.line(Date.now(), `plan validated against the live tool catalog in ${loaded.planningMs.toFixed(1)} ms`);
      }
      if (loaded.unchecked.length && !o.json) process.stderr.write(`warning: tools on ${loaded.unchecked.join(', ')} not checked (server unreachable)\n`);
      const workflowId = o.id ?? `${plan.name}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${Math.random().toString(36).slice(2, 6)}`;
      await withClient(async (client, namespace) => {
        const handle = await client.workflow.start(PIPELINE_WORKFLOW, {
          taskQueue: orchestratorQueue(process.env.MCP_TASK_QUEUE_PREFIX),
          workflowId,
          args: [{ plan: planForWire(plan), taskQueuePrefix: process.env.MCP_TASK_QUEUE_PREFIX }],
          staticSummary: `${plan.name}: ${plan.order.length} steps on ${new Set(Object.values(plan.steps).map((s) => s.server)).size} servers`,
          staticDetails: plan.description,
          typedSearchAttributes: await runSearchAttributes(client, namespace, plan.name),
        });
        const url = runUrl(namespace, workflowId, handle.firstExecutionRunId);
        if (o.detach) {
          process.stdout.write(o.json ? JSON.stringify({ workflowId, runId: handle.firstExecutionRunId, url }) + '\n' : `started ${workflowId}\n${url}\n`);
          return;
        }
        if (runLog) runLog.line(Date.now(), `WORKFLOW ${workflowId} started on Temporal (${plan.order.length} steps)`);
        else if (!o.json) process.stdout.write(`started ${workflowId}\nWeb UI: ${url}\n`);
        const { report, error, last } = await watch(handle, !!o.json, runLog);
        const final = report ?? progressFromFailure(error) ?? last;
        if (runLog && final) {
          const m = computeRunMetrics(final);
          runLog.line(Date.now(), 'AUDIT TRAIL');
          for (const l of auditLines(final, m)) runLog.line(Date.now(), `  ${l}`);
          const registry = loadRegistry();
          const pool = new McpClientPool(registry, discoveryPoolOptions());
          try {
            const health = await discover(registry, pool);
            const ok = health.servers.filter((s) => s.healthy);
            runLog.line(Date.now(), `HEALTH: ${ok.length}/${health.servers.length} servers healthy after the run (${health.servers.map((s) => `${s.group} ${s.healthy ? (s.healthMs === undefined ? 'up' : `${s.healthMs.toFixed(0)} ms`) : 'DOWN'}`).join(', ')})`);
          } finally {
            await pool.close();
          }
        }
        if (o.json) {
          process.stdout.write(JSON.stringify({ event: 'end', ok: !error, workflowId, url, report: final, metrics: final ? computeRunMetrics(final) : undefined, error: error ? failureMessage(error) : undefined }) + '\n');
        } else if (final) {
          process.stdout.write(`\n${stepTable(final)}\n\n${metricsBlock(computeRunMetrics(final))}\n`);
          for (const l of schemaChangeLines(final)) process.stdout.write(`${l}\n`);
        }
        if (error) throw new CliError(`run ${workflowId} ${final?.status === 'cancelled' ? 'was cancelled' : 'failed'}: ${failureMessage(error)}\nWeb UI: ${url}`, 1);
        if (!o.json) process.stdout.write(`\nrun ${workflowId} completed in ${formatMs((final!.endedAt ?? 0) - final!.startedAt)}\nWeb UI: ${url}\n`);
      });
    });

  program
    .command('retry <workflowId>')
    .description('run a failed run again from where it failed, reusing the results of its completed (not compensated) steps')
    .option('--id <workflowId>', 'id of the new run (default: <failed id>-retry-<time>)')
    .option('--detach', 'start the run and return at once')
    .action(async (id: string, o: { id?: string; detach?: boolean }) =>
      withClient(async (client, namespace) => {
        let prepared;
        try {
          prepared = await prepareRetry(client, id);
        } catch (err) {
          throw new CliError(`cannot retry '${id}': ${err instanceof Error ? err.message : String(err)}`);
        }
        if (prepared.status === 'RUNNING' || prepared.status === 'COMPLETED') {
          throw new CliError(`run '${id}' is ${prepared.status.toLowerCase()}; only failed, cancelled, terminated or timed-out runs are retried`);
        }
        const workflowId = o.id ?? `${id}-retry-${Date.now().toString(36)}`;
        const { plan } = prepared.input;
        const handle = await client.workflow.start(PIPELINE_WORKFLOW, {
          taskQueue: orchestratorQueue(prepared.input.taskQueuePrefix),
          workflowId,
          args: [prepared.input],
          staticSummary: `${plan.name}: retry of ${id} (${prepared.reused.length} steps reused)`,
          typedSearchAttributes: await runSearchAttributes(client, namespace, plan.name),
        });
        const url = runUrl(namespace, workflowId, handle.firstExecutionRunId);
        process.stdout.write(`retrying ${id} as ${workflowId}: reusing ${prepared.reused.length} completed steps (${prepared.reused.join(', ') || 'none'})${prepared.undone.length ? `; running again the compensated ones (${prepared.undone.join(', ')})` : ''}\nWeb UI: ${url}\n`);
        if (o.detach) return;
        const { report, error, last } = await watch(handle, false);
        const final = report ?? progressFromFailure(error) ?? last;
        if (final) process.stdout.write(`\n${stepTable(final)}\n\n${metricsBlock(computeRunMetrics(final))}\n`);
        if (error) throw new CliError(`retry ${workflowId} failed: ${failureMessage(error)}\nWeb UI: ${url}`, 1);
        process.stdout.write(`\nretry ${workflowId} completed\n`);
      }),
    );

  program
    .command('status <workflowId>')
    .description('show a run’s progress or outcome')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) =>
      withClient(async (client, namespace) => {
        const handle = client.workflow.getHandle(id);
        let desc;
        try {
          desc = await handle.describe();
        } catch {
          throw new CliError(`no run with id '${id}'`);
        }
        let p = await queryProgress(handle);
        if (!p && desc.status.name === 'COMPLETED') p = (await handle.result()) as RunReport;
        if (!p && desc.status.name === 'FAILED') p = await handle.result().then(() => undefined, progressFromFailure);
        if (o.json) {
          process.stdout.write(JSON.stringify({ workflowId: id, status: desc.status.name, progress: p, metrics: p ? computeRunMetrics(p) : undefined }, null, 2) + '\n');
          return;
        }
        process.stdout.write(`${id}: ${desc.status.name}${p ? ` — ${progressLine(p)}` : ''}\n${runUrl(namespace, id, desc.runId)}\n`);
        if (p) process.stdout.write(`\n${stepTable(p)}\n`);
      }),
    );

  for (const [name, what] of [
    ['pause', 'stop starting new steps (running steps finish)'],
    ['resume', 'start scheduling steps again'],
  ] as const) {
    program
      .command(`${name} <workflowId>`)
      .description(what)
      .action(async (id: string) =>
        withClient(async (client) => {
          await client.workflow.getHandle(id).signal(name === 'pause' ? SIGNALS.pause : SIGNALS.resume).catch((err: unknown) => {
            throw new CliError(`cannot ${name} '${id}': ${err instanceof Error ? err.message : String(err)}`);
          });
          process.stdout.write(`${name} sent to ${id}\n`);
        }),
      );
  }

  program
    .command('cancel <workflowId>')
    .description('cancel a run: running steps are cancelled, completed steps compensated')
    .action(async (id: string) =>
      withClient(async (client) => {
        await client.workflow.getHandle(id).cancel().catch((err: unknown) => {
          throw new CliError(`cannot cancel '${id}': ${err instanceof Error ? err.message : String(err)}`);
        });
        process.stdout.write(`cancellation requested for ${id}\n`);
      }),
    );

  program
    .command('servers')
    .description('discover every server: health, latency, tools, capabilities')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const registry = loadRegistry();
      const pool = new McpClientPool(registry, discoveryPoolOptions());
      try {
        const d = await discover(registry, pool);
        const workers = await workerEndpointViews(process.env.MCP_DATA_ROOT ?? path.resolve('.data'));
        if (o.json) {
          process.stdout.write(JSON.stringify({ ...d, workers: workers.views }, null, 2) + '\n');
          return;
        }
        for (const s of d.servers) {
          process.stdout.write(
            `${s.healthy ? '✔' : '✖'} ${s.group.padEnd(13)} ${s.endpoint ?? ''}  ${s.healthy ? `${s.healthMs === undefined ? '' : `health ${s.healthMs.toFixed(1)} ms, `}tools/list ${s.listToolsMs?.toFixed(1)} ms` : s.error}\n` +
              (s.healthy ? `    tools (${s.tools.length}): ${s.tools.map((t) => t.name).join(', ')}\n` : ''),
          );
        }
        process.stdout.write(`total tools: ${d.totalTools} across ${d.servers.filter((s) => s.healthy).length}/${d.servers.length} servers\n`);
        if (workers.views.length > 0) {
          process.stdout.write(`\nas the workers see them (circuit breakers, load, rate budgets):\n${workerViewLines(workers.views).join('\n')}\n`);
        }
        if (workers.unreachable.length > 0) process.stdout.write(`workers not answering on /metrics: ${workers.unreachable.join(', ')}\n`);
      } finally {
        await pool.close();
      }
    });

  program
    .command('token <server>')
    .description('print a bearer token for one MCP server (for MCP Inspector, mcp-remote, curl); read-only unless --write')
    .option('--write', "use the server group's own client (read and write scopes) instead of the read-only one")
    .action(async (server: string, o: { write?: boolean }) => {
      const tokens = tokenSourceFromEnv(o.write ? `orchestrator-${server}` : 'orchestrator');
      if (!tokens) throw new CliError('authentication is off (MCP_AUTH=off): the servers take requests without a token');
      let token: string;
      try {
        token = await tokens.tokenFor(server);
      } catch (err) {
        throw new CliError(`cannot get a token for '${server}': ${err instanceof Error ? err.message : String(err)} (is the stack up? mcp-orch up)`);
      }
      const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: number; scope?: string };
      process.stderr.write(`token for mcp:${server} (client ${tokens.clientId}, scopes: ${claims.scope ?? '-'}), expires ${claims.exp ? new Date(claims.exp * 1000).toISOString() : 'never'}\n`);
      process.stdout.write(token + '\n');
    });

  program
    .command('trace <workflowId>')
    .description("a run's trace as a tree of spans (client, workflow, activities, MCP servers) from $MCP_DATA_ROOT/traces")
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const trees = await readTrace(id);
      if (!trees.length) throw new CliError(`no spans of '${id}' in ${traceDir()} (tracing off? MCP_TRACING=${process.env.MCP_TRACING ?? 'on'})`, 1);
      process.stdout.write((o.json ? JSON.stringify(trees, null, 2) : trees.map(formatTrace).join('\n\n')) + '\n');
    });

  registerScheduleCommand(program);
  registerDashboardCommand(program);
  registerWatchCommand(program);

  await program.parseAsync(argv);
  await shutdownTracing();
}

/** Median duration of this pipeline's completed runs, from Temporal visibility (the last 20). */
async function estimateFromHistory(client: Client, pipeline: string): Promise<{ runs: number; medianMs: number } | undefined> {
  const durations: number[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowType = '${PIPELINE_WORKFLOW}' AND ExecutionStatus = 'Completed' AND WorkflowId STARTS_WITH '${pipeline}-'` })) {
    if (wf.closeTime) durations.push(wf.closeTime.getTime() - wf.startTime.getTime());
    if (durations.length >= 20) break;
  }
  if (durations.length === 0) return undefined;
  durations.sort((a, b) => a - b);
  return { runs: durations.length, medianMs: durations[Math.floor(durations.length / 2)]! };
}

async function loadPlanOrExplain(specPath: string, input: string[] | undefined, discoverTools: boolean) {
  try {
    return await loadPlan(specPath, { input: parseInputs(input), discoverTools });
  } catch (err) {
    if (err instanceof PipelineError) printPlanProblems(err);
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof CliError) {
    process.stderr.write(`mcp-orch: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`mcp-orch: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
