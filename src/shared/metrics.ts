import type { Plan } from './plan';
import { stepsOf, type RunProgress } from './run-types';

/**
 * Orchestration metrics of one run, with the definitions of shared/PERFORMANCE.md:
 * - tool time of a step: measured by the server (falls back to the activity's call time);
 * - CP: longest path through the DAG weighted by tool time;
 * - LB = max(CP, W / c), W = total tool time, c = concurrency cap (∞ here, so LB = CP);
 * - E = LB / makespan;
 * - coordination overhead per step = (makespan − CP) / steps on the critical path.
 */
export interface RunMetrics {
  makespanMs: number;
  criticalPathMs: number;
  criticalPath: string[];
  totalToolMs: number;
  lowerBoundMs: number;
  parallelEfficiency: number;
  coordinationOverheadPerStepMs: number;
  stepsDone: number;
  stepsFailed: number;
  toolCalls: number;
  /** Share of steps that succeeded (on the first or a later attempt). */
  toolSuccessRate: number;
  retries: number;
  /** Mean of (call time − tool time): what the network and MCP transport add per call. */
  meanTransportMs: number;
}

/** Metrics of a run; for a compact (large) report pass the plan, whose needs the table rows do not carry. */
export function computeRunMetrics(progress: RunProgress, concurrencyCap = Infinity, plan?: Pick<Plan, 'steps'>): RunMetrics {
  const p = progress.table ? { ...progress, steps: stepsOf(progress, plan) } : progress;
  const steps = Object.values(p.steps).filter((s) => s.status === 'done' || s.status === 'compensated' || s.status === 'compensation_failed');
  const toolTime = (id: string) => {
    const s = p.steps[id];
    return s?.toolTimeMs ?? s?.callMs ?? 0;
  };
  // Topological order from needs: completion order respects it for completed steps.
  const doneIds = new Set(steps.map((s) => s.id));
  const best = new Map<string, { total: number; prev?: string }>();
  for (const id of p.completionOrder) {
    if (!doneIds.has(id)) continue;
    let base = 0;
    let prev: string | undefined;
    for (const dep of p.steps[id]!.needs) {
      const b = best.get(dep);
      if (b && b.total >= base) {
        base = b.total;
        prev = dep;
      }
    }
    best.set(id, { total: base + toolTime(id), prev });
  }
  let end: string | undefined;
  for (const [id, v] of best) if (end === undefined || v.total > best.get(end)!.total) end = id;
  const path: string[] = [];
  for (let cur = end; cur !== undefined; cur = best.get(cur)?.prev) path.unshift(cur);
  const cp = end ? best.get(end)!.total : 0;
  const starts = steps.map((s) => s.startedAt ?? p.startedAt);
  const ends = steps.map((s) => s.endedAt ?? s.startedAt ?? p.startedAt);
  const makespan = steps.length ? Math.max(...ends) - Math.min(...starts) : 0;
  const w = steps.reduce((a, s) => a + toolTime(s.id), 0);
  const lb = Math.max(cp, w / concurrencyCap);
  const all = Object.values(p.steps);
  const failed = all.filter((s) => s.status === 'failed').length;
  const withCall = steps.filter((s) => s.callMs !== undefined && s.toolTimeMs !== undefined);
  return {
    makespanMs: makespan,
    criticalPathMs: cp,
    criticalPath: path,
    totalToolMs: w,
    lowerBoundMs: lb,
    parallelEfficiency: makespan > 0 ? Math.min(1, lb / makespan) : 1,
    coordinationOverheadPerStepMs: path.length ? Math.max(0, makespan - cp) / path.length : 0,
    stepsDone: steps.length,
    stepsFailed: failed,
    toolCalls: steps.length + failed,
    toolSuccessRate: steps.length + failed > 0 ? steps.length / (steps.length + failed) : 1,
    retries: steps.reduce((a, s) => a + Math.max(0, (s.attempts ?? 1) - 1), 0),
    meanTransportMs: withCall.length ? withCall.reduce((a, s) => a + (s.callMs! - s.toolTimeMs!), 0) / withCall.length : 0,
  };
}
