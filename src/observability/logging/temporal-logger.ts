import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';
import type { Log } from './logger';

const METHOD = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const satisfies Record<LogLevel, string>;

function plain(v: unknown): unknown {
  if (v instanceof Error) return { name: v.name, message: v.message, ...(v.stack ? { stack: v.stack } : {}) };
  return v;
}

/**
 * Fields of a Temporal log record, in the house names: `runId` is the run (workflow id) as everywhere
 * in our logs, Temporal's own run id becomes `temporalRunId`; errors keep their message and stack.
 */
export function temporalLogFields(meta: LogMetadata | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta ?? {})) {
    if (k === 'runId') fields.temporalRunId = v;
    else fields[k] = plain(v);
  }
  if (typeof meta?.workflowId === 'string') fields.runId = meta.workflowId;
  return fields;
}

/**
 * A Temporal `Logger` writing through pino, for `Runtime.install({ logger: temporalLogger(log) })`: the
 * SDK's worker, workflow and activity log lines (with workflowId, activityId, attempt…) become JSON
 * lines in the process's log file like ours.
 */
export function temporalLogger(base: Log): TemporalLogger {
  const emit = (level: LogLevel, message: string, meta?: LogMetadata): void => {
    const method = METHOD[level] ?? 'info';
    base[method](temporalLogFields(meta), message);
  };
  return {
    log: emit,
    trace: (m, meta) => emit('TRACE', m, meta),
    debug: (m, meta) => emit('DEBUG', m, meta),
    info: (m, meta) => emit('INFO', m, meta),
    warn: (m, meta) => emit('WARN', m, meta),
    error: (m, meta) => emit('ERROR', m, meta),
  };
}
