import { AsyncLocalStorage } from 'node:async_hooks';
import path from 'node:path';
import pino from 'pino';

/** A structured logger (pino): JSON lines with `time`, `level`, `service`, `msg` and fields. */
export type Log = pino.Logger;

/**
 * Fields every line logged inside a scope carries (run id, step id, tool): the MCP kit opens one per
 * tool call, so whatever a server logs while serving a step names the step.
 */
export const logScope = new AsyncLocalStorage<Record<string, unknown>>();

/** Runs `fn` with `fields` added to every line logged inside it (nested scopes add up). */
export function withLogFields<T>(fields: Record<string, unknown>, fn: () => T): T {
  return logScope.run({ ...logScope.getStore(), ...fields }, fn);
}

export interface LoggerOptions {
  /** Names the process or component: the `service` field and the file `<dir>/<service>.log`. */
  service: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Lowest level written. @default `MCP_LOG_LEVEL`, else `info` */
  level?: pino.LevelWithSilent;
  /** Directory of the JSON log file; `false` for none. @default `logDir(env)` */
  dir?: string | false;
  /**
   * What goes to stderr: `plain` one-line text for people, `json` lines for machines, or nothing.
   * @default `MCP_LOG_FORMAT`, else `plain` when stderr is a terminal and `json` otherwise
   */
  stderr?: 'plain' | 'json' | false;
  /** One more destination for the JSON lines (tests). */
  stream?: { write(line: string): void };
}

/**
 * Where log files go: `MCP_LOG_DIR`, else `$MCP_DATA_ROOT/logs` (the stack's `.data/logs`); none when
 * neither is set, so tests and ad-hoc runs write nothing to disk.
 */
export function logDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MCP_LOG_DIR) return env.MCP_LOG_DIR;
  return env.MCP_DATA_ROOT ? path.join(env.MCP_DATA_ROOT, 'logs') : undefined;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function levelFrom(env: NodeJS.ProcessEnv): pino.LevelWithSilent {
  const v = (env.MCP_LOG_LEVEL ?? '').trim().toLowerCase();
  if (!v) return 'info';
  if (!(LEVELS as readonly string[]).includes(v)) throw new Error(`MCP_LOG_LEVEL='${env.MCP_LOG_LEVEL}' is not a level (${LEVELS.join(', ')})`);
  return v as pino.LevelWithSilent;
}

function stderrFormat(env: NodeJS.ProcessEnv): 'plain' | 'json' {
  const v = (env.MCP_LOG_FORMAT ?? '').trim().toLowerCase();
  if (v === 'plain' || v === 'json') return v;
  if (v) throw new Error(`MCP_LOG_FORMAT='${env.MCP_LOG_FORMAT}' must be 'plain' or 'json'`);
  return process.stderr.isTTY ? 'plain' : 'json';
}

function plainValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * One JSON log line as one line of text for a terminal:
 * `12:00:01.234 INFO  data: listening url=http://127.0.0.1:8001/mcp`.
 */
export function formatPlainLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const { time, level, service, msg, ...rest } = rec;
  const clock = typeof time === 'string' && time.length >= 23 ? time.slice(11, 23) : String(time ?? '');
  const fields = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${plainValue(v)}`)
    .join(' ');
  return `${clock} ${String(level ?? '').toUpperCase().padEnd(5)} ${String(service ?? '')}: ${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`;
}

/**
 * A pino logger writing JSON lines to `<dir>/<service>.log` (when a log directory is configured)
 * and plain or JSON lines to stderr — never stdout, the protocol channel of a server over stdio.
 * File writes are synchronous: a crashing process keeps its last lines.
 */
export function createLogger(opts: LoggerOptions): Log {
  const env = opts.env ?? process.env;
  const level = opts.level ?? levelFrom(env);
  // A silent logger writes nothing whatever its streams accept.
  const streamLevel: pino.Level = level === 'silent' ? 'fatal' : level;
  const streams: pino.StreamEntry[] = [];
  const format = opts.stderr ?? stderrFormat(env);
  if (format === 'json') streams.push({ level: streamLevel, stream: { write: (line: string) => process.stderr.write(line) } });
  if (format === 'plain') streams.push({ level: streamLevel, stream: { write: (line: string) => process.stderr.write(formatPlainLine(line)) } });
  const dir = opts.dir === undefined ? logDir(env) : opts.dir || undefined;
  if (dir) {
    const safe = opts.service.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || 'unnamed';
    streams.push({ level: streamLevel, stream: pino.destination({ dest: path.join(dir, `${safe}.log`), mkdir: true, sync: true, append: true }) });
  }
  if (opts.stream) streams.push({ level: streamLevel, stream: opts.stream });
  return pino(
    {
      level,
      base: { service: opts.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => logScope.getStore() ?? {},
    },
    pino.multistream(streams),
  );
}

let root: Log | undefined;

/** Sets up the process's logger (entry points call it once, first thing). */
export function configureLogging(opts: LoggerOptions): Log {
  root = createLogger(opts);
  return root;
}

/**
 * The process's logger: the one `configureLogging` set up, else one named by `MCP_SERVICE_NAME`
 * (default `mcp-orchestrator`).
 */
export function processLogger(): Log {
  root ??= createLogger({ service: process.env.MCP_SERVICE_NAME || 'mcp-orchestrator' });
  return root;
}

/** What names a pipeline step in logs: the run (workflow id), the step, and its tool. */
export interface StepIds {
  workflowId: string;
  stepId: string;
  server?: string;
  tool?: string;
}

/** A child logger whose every line carries `runId` (the workflow id) and `stepId`. */
export function stepLogger(ids: StepIds, base: Log = processLogger()): Log {
  return base.child({ runId: ids.workflowId, stepId: ids.stepId, ...(ids.server ? { server: ids.server } : {}), ...(ids.tool ? { tool: ids.tool } : {}) });
}
