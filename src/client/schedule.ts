import { Client, Connection } from '@temporalio/client';
import type { Command } from 'commander';
import { PipelineError } from '../shared/problems';
import { ToolError } from '../servers/kit/tool';
import {
  OVERLAP_POLICIES,
  ScheduleControl,
  type OverlapPolicy,
} from '../servers/workflow/temporal-schedules';
import { loadPlan, parseInputs } from './pipeline-loader';
import { temporalTarget } from './temporal-connection';
import { loadDataConverter } from '../codec';

/** A user mistake or an expected failure: one line on stderr, no stack trace, a non-zero exit code. */
class ScheduleCliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

async function withSchedules<T>(fn: (s: ScheduleControl) => Promise<T>): Promise<T> {
  const target = temporalTarget();
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: 5000 } as never);
  } catch (err) {
    throw new ScheduleCliError(
      `cannot reach Temporal at ${target.connectionOptions.address}: ${err instanceof Error ? err.message : String(err)} (is the stack up? try: mcp-orch up)`,
      1,
    );
  }
  try {
    return await fn(
      new ScheduleControl(
        new Client({ connection, namespace: target.namespace, dataConverter: await loadDataConverter() }),
        process.env.MCP_TASK_QUEUE_PREFIX ?? '',
      ),
    );
  } catch (err) {
    // ToolErrors from the shared schedule code already say what was wrong and how to fix it.
    if (err instanceof ToolError)
      throw new ScheduleCliError(
        err.message,
        err.code === 'not_found' || err.code.startsWith('invalid') || err.code === 'already_exists' ? 2 : 1,
      );
    throw err;
  } finally {
    await connection.close();
  }
}

/** Runs an action, turning expected failures into `mcp-orch: <message>` and an exit code. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof ScheduleCliError) {
        process.stderr.write(`mcp-orch: ${err.message}\n`);
        process.exitCode = err.exitCode;
        return;
      }
      throw err;
    }
  };
}

const out = (line: string): void => {
  process.stdout.write(line + '\n');
};

/**
 * Adds `mcp-orch schedule create|list|delete|trigger` (Temporal Schedules that start pipeline runs),
 * sharing the schedule logic with the workflow server's `schedule_pipeline` tool.
 */
export function registerScheduleCommand(program: Command): Command {
  const schedule = program
    .command('schedule')
    .description('run pipelines on a timetable with Temporal Schedules (create, list, delete, trigger)');

  schedule
    .command('create <spec>')
    .description(
      'validate and plan a spec (as `run` does), then start it every interval or on a cron expression',
    )
    .option('--every <duration>', 'interval between runs, e.g. 30s, 15m, 1h, 1d')
    .option('--cron <expression>', 'cron expression in UTC, e.g. "0 6 * * 1-5"')
    .option('-i, --input <key=value...>', 'input values')
    .option('--id <scheduleId>', 'schedule id (default <pipeline>-every-<random>)')
    .option('--note <text>', 'note kept with the schedule')
    .option('--paused', 'create it paused')
    .option(
      '--overlap <policy>',
      `when the previous run is still going: ${OVERLAP_POLICIES.join(', ')}`,
      'skip',
    )
    .option('--offline', 'do not contact the servers (tools and arguments are not checked)')
    .option('--json', 'print JSON')
    .action(
      action(
        async (
          specPath: string,
          o: {
            every?: string;
            cron?: string;
            input?: string[];
            id?: string;
            note?: string;
            paused?: boolean;
            overlap: string;
            offline?: boolean;
            json?: boolean;
          },
        ) => {
          if (!o.every === !o.cron)
            throw new ScheduleCliError('give exactly one of --every (e.g. 1h) and --cron (e.g. "0 6 * * *")');
          if (!(OVERLAP_POLICIES as readonly string[]).includes(o.overlap))
            throw new ScheduleCliError(
              `--overlap must be one of ${OVERLAP_POLICIES.join(', ')}, got '${o.overlap}'`,
            );
          let loaded;
          try {
            loaded = await loadPlan(specPath, { input: parseInputs(o.input), discoverTools: !o.offline });
          } catch (err) {
            if (err instanceof PipelineError)
              throw new ScheduleCliError(
                `invalid pipeline (${err.problems.length} problem${err.problems.length > 1 ? 's' : ''}):\n${err.message}`,
              );
            throw new ScheduleCliError(err instanceof Error ? err.message : String(err));
          }
          if (loaded.unchecked.length && !o.json)
            process.stderr.write(
              `warning: tools on ${loaded.unchecked.join(', ')} not checked (server unreachable)\n`,
            );
          const s = await withSchedules((c) =>
            c.create(loaded.plan, {
              every: o.every,
              cron: o.cron,
              scheduleId: o.id,
              note: o.note,
              paused: o.paused,
              overlap: o.overlap as OverlapPolicy,
            }),
          );
          if (o.json)
            return out(JSON.stringify({ ...s, pipeline: loaded.plan.name, unchecked: loaded.unchecked }));
          out(`schedule ${s.scheduleId} created: ${loaded.plan.name} ${s.spec}`);
          out(`  runs will be named ${s.workflowIdPrefix}<time>`);
          if (s.nextRuns.length) out(`  next: ${s.nextRuns.join(', ')}`);
        },
      ),
    );

  schedule
    .command('list')
    .description('schedules on this task queue, with next and recent runs')
    .option('--json', 'print JSON')
    .action(
      action(async (o: { json?: boolean }) => {
        const { schedules, truncated } = await withSchedules((c) => c.list(200));
        if (o.json) return out(JSON.stringify({ schedules, truncated }, null, 2));
        if (!schedules.length) return out('no schedules');
        for (const s of schedules) {
          out(`${s.scheduleId}  ${s.pipeline ?? '?'}  ${s.spec}${s.paused ? '  (paused)' : ''}`);
          out(
            `    next: ${s.nextRuns[0] ?? 'none'}   recent runs: ${
              s.recentRuns.length
                ? s.recentRuns
                    .map((r) => r.workflowId)
                    .slice(-3)
                    .join(', ')
                : 'none'
            }`,
          );
        }
        if (truncated) out('(more schedules exist than listed)');
      }),
    );

  schedule
    .command('delete <scheduleId>')
    .description('delete a schedule (runs it already started continue)')
    .action(
      action(async (id: string) => {
        await withSchedules((c) => c.delete(id));
        out(`schedule ${id} deleted`);
      }),
    );

  schedule
    .command('trigger <scheduleId>')
    .description('start the scheduled pipeline now, outside its timetable')
    .action(
      action(async (id: string) => {
        await withSchedules((c) => c.trigger(id));
        out(`schedule ${id} triggered`);
      }),
    );

  return schedule;
}
