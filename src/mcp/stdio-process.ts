import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { expandVars, type StdioEndpointConfig } from '../registry/registry';
import { ErrorType } from '../shared/errors';
import { McpCallError } from './call-error';

/** Where a stdio server's process is in its life. */
export type StdioState = 'idle' | 'starting' | 'running' | 'restarting' | 'stopped';

/** Restart pacing after crashes. */
export interface StdioBackoff {
  /** Delay before the second consecutive restart (the first is immediate), doubling after. @default 1000 */
  initialMs?: number;
  /** Longest delay between restarts. @default 30000 */
  maxMs?: number;
  /** A process that ran this long before exiting starts a fresh crash count. @default 30000 */
  stableMs?: number;
  /** Consecutive failures after which restarts wait for the next call instead of a timer. @default 5 */
  eagerRestarts?: number;
}

/** Options of {@link StdioProcess}. */
export interface StdioProcessOptions {
  group: string;
  /** Prefix of the child's stderr lines and name in messages (the group, `fs#2` for a second endpoint). */
  name: string;
  cfg: StdioEndpointConfig;
  /** Name this client gives in `initialize`. */
  clientName: string;
  /** Environment `${VAR}` references resolve from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Receives each stderr line of the child. @default the worker's stderr, prefixed `[name] ` */
  stderr?: (line: string) => void;
  /** A new connection is up (first start or restart): the tool catalog may have changed. */
  onConnected?: () => void;
  /** The server sent `notifications/tools/list_changed`. */
  onToolsChanged?: () => void;
  /** Bound on spawn + `initialize`. @default 30000 */
  startTimeoutMs?: number;
  backoff?: StdioBackoff;
  now?: () => number;
}

interface Running {
  gen: number;
  client: Promise<Client>;
  transport: StdioClientTransport;
  exited: Promise<void>;
  done: boolean;
  startedAt: number;
}

const STDERR_TAIL_LINES = 10;

/** True while a process with this pid exists (signal 0 probes without signalling). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One MCP server run as a child process of the worker, reached over the SDK's `StdioClientTransport`.
 * Started on first use; restarted when it exits unexpectedly (at once the first time, then after a
 * doubling delay, so a server that cannot start does not spin); stopped with SIGTERM, then SIGKILL
 * after a grace. One process serves concurrent calls: MCP multiplexes requests by id over the pipe.
 */
export class StdioProcess {
  state: StdioState = 'idle';
  /** Processes started so far. */
  starts = 0;
  /** Unexpected exits and failed starts so far. */
  crashes = 0;
  lastExit?: { at: number; reason: string };
  private consecutive = 0;
  private nextStartAt = 0;
  private gen = 0;
  private current?: Running;
  private restartTimer?: NodeJS.Timeout;
  private stderrTail: string[] = [];
  private stderrPartial = '';
  private readonly now: () => number;

  constructor(private readonly opts: StdioProcessOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Command line as configured (before `${VAR}` resolution), for status and errors. */
  get label(): string {
    return `stdio:${[this.opts.cfg.command, ...this.opts.cfg.args].join(' ')}`;
  }

  /** Pid of the running process. */
  get pid(): number | undefined {
    return this.current?.done === false ? (this.current.transport.pid ?? undefined) : undefined;
  }

  /** Ms until the next (re)start is allowed; 0 when a call may start the process now. */
  msUntilRestart(): number {
    return Math.max(0, this.nextStartAt - this.now());
  }

  /**
   * The connected client, starting the process if it is not running. While a crashed server waits
   * for its restart delay this throws a retryable `ServerUnavailable` with the delay as `retryAfterMs`.
   */
  client(): Promise<Client> {
    if (this.state === 'stopped') {
      return Promise.reject(new McpCallError(ErrorType.ServerUnavailable, `${this.opts.name} (${this.label}) is stopped: the worker is shutting down`, true, { endpoint: this.label }));
    }
    if (this.current) return this.current.client;
    const wait = this.msUntilRestart();
    if (wait > 0) {
      return Promise.reject(
        new McpCallError(
          ErrorType.ServerUnavailable,
          `${this.opts.name} (${this.label}) ${this.lastExit?.reason ?? 'exited'}; next start in ${wait} ms`,
          true,
          { endpoint: this.label, retryAfterMs: wait },
        ),
      );
    }
    return this.start();
  }

  /** Round trip of an MCP `ping` in ms; undefined when no process runs (never started, or between restarts). */
  async ping(timeoutMs: number): Promise<number | undefined> {
    const cur = this.current;
    if (!cur || this.state !== 'running') return undefined;
    const client = await cur.client;
    const t0 = performance.now();
    await client.ping({ timeout: timeoutMs });
    return performance.now() - t0;
  }

  /** Recent stderr lines of the child (what it said before dying is the best clue). */
  recentStderr(): string[] {
    return [...this.stderrTail];
  }

  private resolveParams(): StdioServerParameters {
    const { cfg } = this.opts;
    const env = this.opts.env ?? process.env;
    const where = (k: string) => `stdio server of group '${this.opts.group}' (${this.opts.name}) ${k}`;
    let command = expandVars(cfg.command, env, where('command'));
    // `node` means the worker's own Node, not whichever one PATH finds first.
    if (command === 'node') command = process.execPath;
    const args = cfg.args.map((a, i) => expandVars(a, env, where(`args[${i}]`)));
    const childEnv = Object.fromEntries(Object.entries(cfg.env).map(([k, v]) => [k, expandVars(v, env, where(`env.${k}`))]));
    const cwd = cfg.cwd === undefined ? undefined : path.resolve(expandVars(cfg.cwd, env, where('cwd')));
    return { command, args, env: childEnv, cwd, stderr: 'pipe' };
  }

  private onStderr(chunk: Buffer | string): void {
    const text = this.stderrPartial + chunk.toString();
    const lines = text.split(/\r?\n/);
    this.stderrPartial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      if (this.opts.stderr) this.opts.stderr(line);
      else process.stderr.write(`[${this.opts.name}] ${line}\n`);
    }
  }

  private start(): Promise<Client> {
    clearTimeout(this.restartTimer);
    let params: StdioServerParameters;
    try {
      params = this.resolveParams();
    } catch (err) {
      // A missing variable is a configuration error: no restart will fix it.
      return Promise.reject(new McpCallError(ErrorType.ServerUnavailable, (err as Error).message, false, { endpoint: this.label }));
    }
    if (params.cwd && !fs.existsSync(params.cwd)) {
      const reason = `cannot start: working directory ${params.cwd} does not exist`;
      this.down(undefined, reason);
      return Promise.reject(new McpCallError(ErrorType.ServerUnavailable, `${this.opts.name} (${this.label}) ${reason}`, true, { endpoint: this.label, retryAfterMs: this.msUntilRestart() || undefined }));
    }
    const gen = ++this.gen;
    const transport = new StdioClientTransport(params);
    transport.stderr?.on('data', (c: Buffer) => this.onStderr(c));
    let markExited!: () => void;
    const exited = new Promise<void>((r) => (markExited = r));
    const running: Running = { gen, transport, exited, done: false, startedAt: this.now(), client: undefined as unknown as Promise<Client> };
    // Set before connect: the SDK chains its own close handler after this one.
    transport.onclose = () => {
      running.done = true;
      markExited();
      this.down(gen, `exited${this.stderrTail.length ? ` (last stderr: ${this.stderrTail.at(-1)})` : ''}`);
    };
    const client = new Client({ name: this.opts.clientName, version: '0.1.0' });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      this.opts.onToolsChanged?.();
      return Promise.resolve();
    });
    this.state = 'starting';
    this.starts++;
    running.client = client.connect(transport, { timeout: this.opts.startTimeoutMs ?? 30_000 }).then(
      () => {
        if (this.current !== running) throw new McpCallError(ErrorType.ServerUnavailable, `${this.opts.name} stopped while starting`, true, { endpoint: this.label });
        this.state = 'running';
        process.stderr.write(`[${this.opts.name}] MCP server started (pid ${transport.pid ?? '?'}): ${this.label}\n`);
        this.opts.onConnected?.();
        return client;
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        this.down(gen, `failed to start: ${message}`);
        // The SDK closes the transport on a failed initialize; a process that never answered may ignore that.
        const pid = transport.pid;
        if (pid && !running.done && pidAlive(pid)) process.kill(pid, 'SIGKILL');
        throw new McpCallError(ErrorType.ServerUnavailable, `${this.opts.name} (${this.label}) failed to start: ${message}`, true, {
          endpoint: this.label,
          retryAfterMs: this.msUntilRestart() || undefined,
        });
      },
    );
    this.current = running;
    return running.client;
  }

  /** The process is gone (or never came up): schedule the restart. Stale generations are ignored. */
  private down(gen: number | undefined, reason: string): void {
    if (gen !== undefined && this.current?.gen !== gen) return;
    const startedAt = this.current?.startedAt;
    this.current = undefined;
    if (this.state === 'stopped') return;
    const now = this.now();
    const backoff = this.opts.backoff ?? {};
    if (startedAt !== undefined && now - startedAt >= (backoff.stableMs ?? 30_000)) this.consecutive = 0;
    this.consecutive++;
    this.crashes++;
    const delay = this.consecutive <= 1 ? 0 : Math.min(backoff.maxMs ?? 30_000, (backoff.initialMs ?? 1000) * 2 ** (this.consecutive - 2));
    this.lastExit = { at: now, reason };
    this.nextStartAt = now + delay;
    this.state = 'restarting';
    const eager = this.consecutive <= (backoff.eagerRestarts ?? 5);
    process.stderr.write(`[${this.opts.name}] MCP server ${reason}; ${eager ? `restarting in ${delay} ms` : 'restarting on the next call'}\n`);
    clearTimeout(this.restartTimer);
    if (!eager) return;
    this.restartTimer = setTimeout(() => {
      if (this.state === 'restarting' && !this.current) this.start().catch(() => undefined);
    }, delay);
    this.restartTimer.unref();
  }

  /**
   * Stops the process for good: SIGTERM, then SIGKILL if it has not exited after `graceMs`. Resolves
   * once it is gone (or after a last bounded wait following SIGKILL).
   */
  async stop(graceMs = this.opts.cfg.shutdown_grace ?? 5000): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.restartTimer);
    const cur = this.current;
    this.current = undefined;
    if (!cur) return;
    const pid = cur.transport.pid;
    const wait = (ms: number) =>
      Promise.race([cur.exited, new Promise<void>((r) => setTimeout(r, ms).unref())]).then(() => cur.done || !pid || !pidAlive(pid));
    if (pid && !cur.done) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      if (!(await wait(graceMs))) {
        process.stderr.write(`[${this.opts.name}] MCP server (pid ${pid}) ignored SIGTERM for ${graceMs} ms; sending SIGKILL\n`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await wait(2000);
      }
    }
    // The process is gone: closing the client now only releases the SDK's handlers and buffers.
    await cur.client.then((c) => c.close()).catch(() => undefined);
  }
}
