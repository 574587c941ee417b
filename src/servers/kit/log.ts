import { createLogger, type Log } from '../../observability/logging/logger';

const loggers = new Map<string, Log>();

/** The pino logger of one name, made on first use (so the environment is read when logging starts). */
function pinoFor(name: string): Log {
  let log = loggers.get(name);
  if (!log) {
    log = createLogger({ service: name });
    loggers.set(name, log);
  }
  return log;
}

/**
 * Structured logger for servers (pino): JSON lines on stderr (plain one-line text when stderr is a
 * terminal, or as `MCP_LOG_FORMAT` says), and in `<MCP_LOG_DIR or $MCP_DATA_ROOT/logs>/<name>.log`
 * when either is set. Never stdout: it is the protocol channel when a server runs over stdio. Lines
 * logged while a tool serves a pipeline step carry its `runId` and `stepId` (see `registerTool`).
 */
export function logger(name: string) {
  return {
    debug: (msg: string, fields?: Record<string, unknown>) => pinoFor(name).debug(fields ?? {}, msg),
    info: (msg: string, fields?: Record<string, unknown>) => pinoFor(name).info(fields ?? {}, msg),
    warn: (msg: string, fields?: Record<string, unknown>) => pinoFor(name).warn(fields ?? {}, msg),
    error: (msg: string, fields?: Record<string, unknown>) => pinoFor(name).error(fields ?? {}, msg),
  };
}
export type Logger = ReturnType<typeof logger>;
