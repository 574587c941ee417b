import type { ChaosStack, RunOutcome } from './stack';

export interface ScenarioOptions {
  /** Few runs per scenario (the whole suite in minutes). */
  quick: boolean;
  /** Overrides the scenario's number of runs. */
  runs?: number;
}

/** One row of the chaos table: what was done, what broke, and what the servers' own evidence says. */
export interface ScenarioResult {
  /** RELIABILITY.md scenario number and short name, e.g. `3-temporal-restart`. */
  id: string;
  title: string;
  runs: number;
  /** Faults injected (kills, restarts, injected errors), counted by the runner or the server. */
  faults: number;
  /** What the faults were, e.g. "2 × SIGKILL of the ledger worker". */
  faultsNote: string;
  /** What a good run ends as. */
  expected: 'completed' | 'compensated' | 'cancelled' | 'failed fast';
  /** Runs that ended as expected AND passed every check of the scenario. */
  ok: number;
  /** Side effects applied more than once, by the servers' own evidence. */
  duplicated: number;
  /** Time to recover per fault, ms (what "recover" means is in `recoverNote`). */
  recoverMs: number[];
  recoverNote: string;
  /** The evidence behind the row, in a line. */
  evidence: string;
  /** Why runs did not count as ok (empty when all did). */
  failures: string[];
  seconds?: number;
}

export interface Scenario {
  id: string;
  title: string;
  run(stack: ChaosStack, opts: ScenarioOptions): Promise<ScenarioResult>;
}

/** Retry and timeout defaults of every chaos pipeline: a killed worker is noticed within seconds. */
export const SPEC_DEFAULTS = `defaults:
  retry: { maximumAttempts: 30, initialInterval: 200ms, backoffCoefficient: 2, maximumInterval: 2s }
  timeouts: { startToClose: 90s, heartbeat: 4s }
`;

export function newResult(id: string, title: string, expected: ScenarioResult['expected'], recoverNote: string): ScenarioResult {
  return { id, title, runs: 0, faults: 0, faultsNote: '', expected, ok: 0, duplicated: 0, recoverMs: [], recoverNote, evidence: '', failures: [] };
}

/** Records a run: ok when every check holds, else the failed checks go to `failures`. */
export function judge(r: ScenarioResult, run: string, checks: Array<[boolean, string]>): void {
  r.runs++;
  const failed = checks.filter(([ok]) => !ok).map(([, what]) => what);
  if (failed.length === 0) r.ok++;
  else r.failures.push(`${run}: ${failed.join('; ')}`);
}

export function completed(o: RunOutcome): boolean {
  return o.temporalStatus === 'COMPLETED' && o.progress.status === 'completed';
}

/** Failed, with every step that had completed compensated. */
export function compensated(o: RunOutcome, steps: string[]): boolean {
  return o.temporalStatus === 'FAILED' && steps.every((s) => o.progress.steps[s]?.status === 'compensated');
}

export function stepsDone(o: RunOutcome): number {
  return Object.values(o.progress.steps).filter((s) => s.status === 'done').length;
}
