import { formatMs } from '../shared/duration';
import type { RunMetrics } from '../shared/metrics';
import type { RunProgress, StepStatus } from '../shared/run-types';

const ICON: Record<StepStatus, string> = {
  waiting: '·',
  running: '▶',
  done: '✔',
  failed: '✖',
  skipped: '–',
  cancelled: '⊘',
  compensating: '↺',
  compensated: '↺',
  compensation_failed: '!',
};

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

const COLOR: Partial<Record<StepStatus, string>> = {
  running: '36', // cyan
  done: '32', // green
  failed: '31', // red
  cancelled: '33',
  compensating: '35', // magenta
  compensated: '35',
  compensation_failed: '31;1',
  skipped: '2', // dim
  waiting: '2',
};

/** The per-step table: step, server/tool, status, attempts, timings. `color` adds ANSI colours (TTY only). */
export function stepTable(p: RunProgress, opts: { color?: boolean; maxWidth?: number } = {}): string {
  const changed = new Map((p.schemaChanges ?? []).map((c) => [c.stepId, c]));
  const rows = Object.values(p.steps).map((s) => {
    const start = s.startedAt !== undefined ? `+${formatMs(s.startedAt - p.startedAt)}` : '';
    const dur = s.startedAt !== undefined && s.endedAt !== undefined ? formatMs(s.endedAt - s.startedAt) : s.status === 'running' ? '…' : '';
    const tool = s.toolTimeMs !== undefined ? formatMs(s.toolTimeMs) : '';
    const change = changed.get(s.id);
    const note = change ? `schema of ${change.tool} changed since run start (${change.pinned.slice(0, 8)} → ${change.seen.slice(0, 8)})` : s.reusedFrom ? `reused from ${s.reusedFrom}` : s.error ? `${s.error.type ? `${s.error.type}: ` : ''}${s.error.message}`.slice(0, 100) : s.compensation ? `compensation ${s.compensation.status}${s.compensation.error ? `: ${s.compensation.error.slice(0, 60)}` : ''}` : '';
    return [s.id, `${s.server}/${s.tool}`, `${ICON[s.status]} ${s.status}`, s.attempts !== undefined ? String(s.attempts) : '', start, dur, tool, note];
  });
  const head = ['STEP', 'SERVER/TOOL', 'STATUS', 'ATT', 'START', 'DURATION', 'TOOL TIME', 'NOTE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // The NOTE column (last) is cut so a row never wraps past maxWidth.
  const fixed = widths.slice(0, -1).reduce((a, w) => a + w + 2, 0);
  const fit = (note: string) => (opts.maxWidth && fixed + note.length > opts.maxWidth ? `${note.slice(0, Math.max(0, opts.maxWidth - fixed - 1))}…` : note);
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? fit(c) : pad(c, widths[i]!))).join('  ').trimEnd();
  if (!opts.color) return [line(head), ...rows.map(line)].join('\n');
  // Colour is applied after padding, so escape codes never skew the column widths.
  const statuses = Object.values(p.steps).map((s) => s.status);
  const paint = (r: string[], i: number) => {
    const cells = r.map((c, j) => (j === r.length - 1 ? fit(c) : pad(c, widths[j]!)));
    const code = COLOR[statuses[i]!];
    if (code) cells[2] = `\x1b[${code}m${cells[2]}\x1b[0m`;
    return cells.join('  ').trimEnd();
  };
  return [`\x1b[1m${line(head)}\x1b[0m`, ...rows.map(paint)].join('\n');
}

/** Warnings for tools whose schema changed mid-run (schema pinning); empty when none did. */
export function schemaChangeLines(p: RunProgress): string[] {
  return (p.schemaChanges ?? []).map((c) => `warning: step '${c.stepId}' called ${c.tool}, whose schema changed since the run started (pinned ${c.pinned.slice(0, 12)}, now ${c.seen.slice(0, 12)})`);
}

/** One line of progress for logs (non-TTY). */
export function progressLine(p: RunProgress): string {
  const counts: Partial<Record<StepStatus, number>> = {};
  for (const s of Object.values(p.steps)) counts[s.status] = (counts[s.status] ?? 0) + 1;
  const total = Object.keys(p.steps).length;
  const running = Object.values(p.steps).filter((s) => s.status === 'running').map((s) => s.id);
  const phases = [...new Set(Object.values(p.steps).filter((s) => s.status === 'running' && s.phase).map((s) => s.phase!))];
  return `[${p.status}${p.paused ? ', paused' : ''}] ${counts.done ?? 0}/${total} done${counts.failed ? `, ${counts.failed} failed` : ''}${phases.length ? ` · phase: ${phases.join(' + ')}` : ''}${running.length ? `; running: ${running.join(', ')}` : ''}`;
}

export function metricsBlock(m: RunMetrics): string {
  return [
    `makespan ${formatMs(m.makespanMs)} · critical path ${formatMs(m.criticalPathMs)} (${m.criticalPath.join(' → ')})`,
    `parallel efficiency E = LB / makespan = ${formatMs(m.lowerBoundMs)} / ${formatMs(m.makespanMs)} = ${(m.parallelEfficiency * 100).toFixed(1)} %`,
    `coordination overhead per step = (makespan − CP) / ${m.criticalPath.length} steps on CP = ${m.coordinationOverheadPerStepMs.toFixed(0)} ms`,
    `tool calls ${m.toolCalls} · success ${(m.toolSuccessRate * 100).toFixed(1)} % · retries ${m.retries} · mean MCP transport ${m.meanTransportMs.toFixed(1)} ms/call`,
  ].join('\n');
}
