/** Small statistics helpers for the benchmarks (no dependencies). */
export const median = (xs: number[]): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);

/** Nearest-rank percentile, p in 0..100. */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const mib = (bytes: number): number => bytes / 2 ** 20;

/** One row of the results table: one target or figure. */
export interface Row {
  bench: string;
  measured: string;
  target: string;
  baseline: string;
  ratio: string;
  /** Resident memory of the bench process (workers are in-process) after the benchmark, MiB. */
  rssMiB?: number;
  /** Raw figures behind the row, for the JSON. */
  data?: unknown;
}
