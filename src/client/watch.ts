import { Client, Connection } from '@temporalio/client';
import type { Command } from 'commander';
import { formatMs } from '../shared/duration';
import { dagLevels } from './dashboard/layout';
import { ActivityStepIndex, ClosedRunCache, readRun, type RunView, type StepView } from './dashboard/run-view';
import { temporalTarget } from './temporal-connection';
import { loadDataConverter } from '../codec';

export type WatchMode = 'tty' | 'log' | 'json';

const ICON: Record<StepView, string> = {
  waiting: '·',
  running: '▶',
  retrying: '↻',
  done: '✔',
  failed: '✖',
  skipped: '–',
  cancelled: '⊘',
  compensating: '↺',
  compensated: '↺',
  compensation_failed: '!',
};

/** Events of `watch --json`, one JSON object per line. */
export type WatchEvent =
  | { event: 'run'; at: string; workflowId: string; runId: string; pipeline: string; status: string; steps: number }
  | { event: 'step'; at: string; stepId: string; server: string; tool: string; state: StepView; attempt?: number; durationMs?: number; toolTimeMs?: number; lastFailure?: string; error?: string }
  | { event: 'progress'; at: string; status: string; done: number; total: number; running: string[]; phase?: string }
  | { event: 'end'; at: string; workflowId: string; execution: string; status?: string; ok: boolean; metrics?: RunView['metrics']; note?: string };

const FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT', 'CONTINUED_AS_NEW']);

function counts(v: RunView) {
  const steps = Object.values(v.progress?.steps ?? {});
  const done = steps.filter((s) => s.status === 'done' || s.status === 'compensated').length;
  const running = steps.filter((s) => ['running', 'retrying'].includes(v.live[s.id]?.state ?? '')).map((s) => s.id);
  const phases = [...new Set(running.map((id) => v.progress!.steps[id]!.phase).filter((x): x is string => !!x))];
  return { done, total: steps.length, running, phase: phases.join(', ') || undefined };
}

function stepDuration(v: RunView, id: string): number | undefined {
  const s = v.progress?.steps[id];
  if (s?.startedAt === undefined) return undefined;
  return (s.endedAt ?? v.now) - s.startedAt;
}

/** The phase and overall progress line: `[running] phase Extract · 3/6 done ███░░░ 50 % · 4.2 s · running: a, b`. */
export function progressHeader(v: RunView): string {
  const p = v.progress;
  if (!p) return `[${v.execution.toLowerCase()}] ${v.note ?? 'no progress yet'}`;
  const c = counts(v);
  const width = 20;
  const filled = c.total ? Math.round((width * c.done) / c.total) : 0;
  const elapsed = (p.endedAt ?? v.now) - p.startedAt;
  return [
    `[${p.paused ? 'paused' : p.status}]`,
    c.phase ? `phase ${c.phase} ·` : '',
    `${c.done}/${c.total} done ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${c.total ? Math.round((100 * c.done) / c.total) : 0} %`,
    `· ${formatMs(elapsed)}`,
    c.running.length ? `· running: ${c.running.join(', ')}` : '',
    p.error ? `· error at ${p.error.stepId ?? '?'}: ${p.error.message.slice(0, 80)}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * The DAG as text, level by level: each step with its server/tool, state, attempt, duration and what
 * it waits for, under a header line with the phase and overall progress.
 */
export function renderFrame(v: RunView): string {
  const p = v.progress;
  const lines = [`${v.workflowId}  ${progressHeader(v)}`];
  if (!p) return lines.join('\n');
  const levels = dagLevels(p.steps);
  const idW = Math.max(4, ...Object.keys(p.steps).map((id) => id.length));
  const toolW = Math.max(11, ...Object.values(p.steps).map((s) => s.server.length + s.tool.length + 1));
  levels.forEach((lvl, i) => {
    lvl.forEach((id, j) => {
      const s = p.steps[id]!;
      const l = v.live[id] ?? { state: s.status };
      const dur = stepDuration(v, id);
      const branch = j === lvl.length - 1 ? '└─' : '├─';
      const cols = [
        `${j === 0 ? `L${i}`.padEnd(3) : '   '}${branch} ${ICON[l.state]} ${id.padEnd(idW)}`,
        `${s.server}/${s.tool}`.padEnd(toolW),
        l.state.replace('_', ' ').padEnd(12),
        l.attempt !== undefined ? `att ${l.attempt}`.padEnd(6) : ''.padEnd(6),
        (dur !== undefined ? `${formatMs(dur)}${s.endedAt === undefined ? '…' : ''}` : '').padEnd(9),
        s.needs.length ? `← ${s.needs.join(', ')}` : '',
        l.lastFailure ? `(last failure: ${l.lastFailure.slice(0, 60)})` : '',
      ];
      lines.push(cols.join(' ').trimEnd());
    });
  });
  return lines.join('\n');
}

/** Step events since `seen` (state or attempt changed), updating `seen`. */
export function stepEvents(v: RunView, seen: Map<string, string>): Array<Extract<WatchEvent, { event: 'step' }>> {
  const out: Array<Extract<WatchEvent, { event: 'step' }>> = [];
  const at = new Date(v.now).toISOString();
  for (const s of Object.values(v.progress?.steps ?? {})) {
    const l = v.live[s.id];
    if (!l) continue;
    const key = `${l.state}/${l.attempt ?? ''}`;
    if (seen.get(s.id) === key) continue;
    seen.set(s.id, key);
    out.push({
      event: 'step',
      at,
      stepId: s.id,
      server: s.server,
      tool: s.tool,
      state: l.state,
      attempt: l.attempt,
      durationMs: l.state === 'running' || l.state === 'waiting' ? undefined : stepDuration(v, s.id),
      toolTimeMs: s.toolTimeMs,
      lastFailure: l.lastFailure,
      error: s.error ? `${s.error.type ? `${s.error.type}: ` : ''}${s.error.message}` : undefined,
    });
  }
  return out;
}

export interface WatchOptions {
  mode: WatchMode;
  write: (text: string) => void;
  /** @default 1000 (tty: 500) */
  intervalMs?: number;
  /** Stops watching early (Ctrl-C). */
  signal?: AbortSignal;
  /** Bounds the watch. @default no bound */
  timeoutMs?: number;
}

/**
 * Follows a run until it closes: redraws the DAG in place (tty), prints a line per step change (log),
 * or streams `WatchEvent`s (json). Returns the last view.
 */
export async function watchRun(client: Client, workflowId: string, opts: WatchOptions): Promise<RunView> {
  const deps = { index: new ActivityStepIndex(), closed: new ClosedRunCache() };
  const seen = new Map<string, string>();
  const emit = (e: WatchEvent) => opts.write(JSON.stringify(e) + '\n');
  const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
  let drawn = 0;
  let lastProgress = '';
  let announced = false;
  let view: RunView;
  for (;;) {
    view = await readRun(client, workflowId, deps);
    const done = FINAL.has(view.execution);
    if (view.progress && !announced) {
      announced = true;
      const info = { workflowId, runId: view.runId, pipeline: view.progress.pipeline, status: view.progress.status, steps: Object.keys(view.progress.steps).length };
      if (opts.mode === 'json') emit({ event: 'run', at: new Date(view.now).toISOString(), ...info });
      else if (opts.mode === 'log') opts.write(`${new Date(view.now).toISOString()} run ${workflowId} (${info.pipeline}, ${info.steps} steps)\n`);
    }
    if (opts.mode === 'tty') {
      const frame = renderFrame(view);
      if (drawn) opts.write(`\x1b[${drawn}A\x1b[J`);
      opts.write(frame + '\n');
      drawn = frame.split('\n').length;
    } else {
      for (const e of stepEvents(view, seen)) {
        if (opts.mode === 'json') emit(e);
        else
          opts.write(
            `${e.at} ${ICON[e.state]} ${e.stepId} ${e.server}/${e.tool} ${e.state}${e.attempt !== undefined ? ` (attempt ${e.attempt})` : ''}${e.durationMs !== undefined ? ` ${formatMs(e.durationMs)}` : ''}${e.error ? ` ${e.error}` : e.lastFailure ? ` after: ${e.lastFailure}` : ''}\n`,
          );
      }
      const c = counts(view);
      const key = `${view.progress?.status}/${c.done}/${c.running.join(',')}`;
      if (view.progress && key !== lastProgress) {
        lastProgress = key;
        if (opts.mode === 'json') emit({ event: 'progress', at: new Date(view.now).toISOString(), status: view.progress.status, ...c });
        else opts.write(`${new Date(view.now).toISOString()} ${progressHeader(view)}\n`);
      }
    }
    if (done || opts.signal?.aborted || Date.now() > deadline) break;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs ?? (opts.mode === 'tty' ? 500 : 1000));
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }
  const ok = view.execution === 'COMPLETED';
  if (opts.mode === 'json') emit({ event: 'end', at: new Date().toISOString(), workflowId, execution: view.execution, status: view.progress?.status, ok, metrics: view.metrics, note: view.note });
  else if (FINAL.has(view.execution)) opts.write(`run ${workflowId} ${view.execution.toLowerCase()}${view.metrics ? ` · makespan ${formatMs(view.metrics.makespanMs)} · ${view.metrics.toolCalls} tool calls · retries ${view.metrics.retries}` : ''}\n`);
  return view;
}

/** `mcp-orch watch <id> [--json]`. Exit code 1 when the run did not complete. */
export function registerWatchCommand(program: Command, io: { write?: (text: string) => void; isTTY?: boolean } = {}): Command {
  return program
    .command('watch <workflowId>')
    .description('follow a run live: its DAG with each step’s server, state, attempt and duration (redrawn in place on a TTY)')
    .option('--json', 'stream events as JSON lines: run, step, progress, end')
    .option('--interval <ms>', 'poll interval in ms', '1000')
    .action(async (id: string, o: { json?: boolean; interval: string }) => {
      const write = io.write ?? ((t: string) => void process.stdout.write(t));
      const tty = io.isTTY ?? !!process.stdout.isTTY;
      const interval = Math.min(Math.max(Number(o.interval) || 1000, 100), 60_000);
      const target = temporalTarget();
      let connection: Connection;
      try {
        connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: 5000 } as never);
      } catch (err) {
        process.stderr.write(`mcp-orch: cannot reach Temporal at ${target.connectionOptions.address}: ${err instanceof Error ? err.message : String(err)} (is the stack up? try: mcp-orch up)\n`);
        process.exitCode = 1;
        return;
      }
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      try {
        const client = new Client({ connection, namespace: target.namespace, dataConverter: await loadDataConverter() });
        const view = await watchRun(client, id, { mode: o.json ? 'json' : tty ? 'tty' : 'log', write, intervalMs: interval, signal: abort.signal }).catch((err: unknown) => {
          if ((err as { name?: string }).name === 'WorkflowNotFoundError') {
            process.stderr.write(`mcp-orch: no run with id '${id}'\n`);
            process.exitCode = 2;
            return undefined;
          }
          throw err;
        });
        if (view && FINAL.has(view.execution) && view.execution !== 'COMPLETED') process.exitCode = 1;
      } finally {
        process.off('SIGINT', stop);
        await connection.close();
      }
    });
}
