/**
 * Minimal structured logger for servers. It writes JSON lines to stderr only: stdout is the protocol
 * channel when a server runs over stdio.
 */
export function logger(name: string) {
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level, server: name, msg, ...fields }) + '\n');
  };
  return {
    info: (msg: string, fields?: Record<string, unknown>) => write('info', msg, fields),
    warn: (msg: string, fields?: Record<string, unknown>) => write('warn', msg, fields),
    error: (msg: string, fields?: Record<string, unknown>) => write('error', msg, fields),
  };
}
export type Logger = ReturnType<typeof logger>;
