import type { RunProgress, StepProgress } from '../../shared/run-types';

/** Levels of the DAG: a step sits one level below its deepest need (longest path from a root). */
export function dagLevels(steps: Record<string, Pick<StepProgress, 'id' | 'needs'>>): string[][] {
  const level = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    // A cycle cannot come from the planner; guard anyway so a bad payload cannot hang the page.
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const needs = (steps[id]?.needs ?? []).filter((n) => steps[n]);
    const d = needs.length ? 1 + Math.max(...needs.map(depth)) : 0;
    visiting.delete(id);
    level.set(id, d);
    return d;
  };
  const out: string[][] = [];
  for (const id of Object.keys(steps)) {
    const d = depth(id);
    (out[d] ??= []).push(id);
  }
  return out.map((l) => l ?? []);
}

/** One bar of the Gantt chart. `row` is the sub-row inside the server's lane, so overlapping bars show as parallel. */
export interface GanttBar {
  stepId: string;
  kind: 'call' | 'compensation';
  server: string;
  row: number;
  /** Offsets from the run's start, ms. */
  startMs: number;
  endMs: number;
  /** True while the bar is still growing (no end recorded yet). */
  open: boolean;
  state: string;
  attempts?: number;
}

export interface GanttLane {
  server: string;
  rows: number;
}

export interface Gantt {
  lanes: GanttLane[];
  bars: GanttBar[];
  /** Width of the time axis, ms. */
  spanMs: number;
  /** Most bars that overlapped in time across all servers. */
  maxParallel: number;
}

/**
 * Bars per server lane from the workflow's own step times. Compensations are bars of their own on the
 * compensating server's lane. `compensationServer` maps a step to the server of its undo call, when known.
 */
export function ganttOf(p: RunProgress, now: number, compensationServer: (id: string) => string | undefined = () => undefined): Gantt {
  const raw: Array<Omit<GanttBar, 'row'>> = [];
  for (const s of Object.values(p.steps)) {
    if (s.startedAt !== undefined) {
      raw.push({
        stepId: s.id,
        kind: 'call',
        server: s.server,
        startMs: s.startedAt - p.startedAt,
        endMs: (s.endedAt ?? now) - p.startedAt,
        open: s.endedAt === undefined,
        state: s.status === 'compensated' || s.status === 'compensation_failed' ? 'done' : s.status,
        attempts: s.attempts,
      });
    }
    const c = s.compensation;
    if (c?.startedAt !== undefined) {
      raw.push({
        stepId: s.id,
        kind: 'compensation',
        server: compensationServer(s.id) ?? s.server,
        startMs: c.startedAt - p.startedAt,
        endMs: (c.endedAt ?? now) - p.startedAt,
        open: c.endedAt === undefined,
        state: c.status === 'done' ? 'compensated' : c.status === 'failed' ? 'compensation_failed' : 'compensating',
      });
    }
  }
  raw.sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
  const rowEnds = new Map<string, number[]>();
  const bars: GanttBar[] = raw.map((b) => {
    const ends = rowEnds.get(b.server) ?? [];
    rowEnds.set(b.server, ends);
    let row = ends.findIndex((e) => e <= b.startMs);
    if (row < 0) row = ends.push(b.endMs) - 1;
    else ends[row] = b.endMs;
    return { ...b, row };
  });
  const lanes = [...rowEnds.entries()].map(([server, ends]) => ({ server, rows: ends.length })).sort((a, b) => a.server.localeCompare(b.server));
  let maxParallel = 0;
  const edges = bars.flatMap((b) => [
    { t: b.startMs, d: 1 },
    { t: b.endMs, d: -1 },
  ]);
  // Ends before starts at the same instant: back-to-back steps are not parallel.
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let cur = 0;
  for (const e of edges) maxParallel = Math.max(maxParallel, (cur += e.d));
  const spanMs = Math.max(1, ...bars.map((b) => b.endMs), (p.endedAt ?? now) - p.startedAt);
  return { lanes, bars, spanMs, maxParallel };
}
