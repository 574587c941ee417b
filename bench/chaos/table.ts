import type { ScenarioResult } from './types';

function ms(v: number): string {
  return v >= 10_000 ? `${(v / 1000).toFixed(0)} s` : `${(v / 1000).toFixed(1)} s`;
}

/** "median (max)" of the recovery times, or n/a. */
export function recoverCell(r: ScenarioResult): string {
  if (r.recoverMs.length === 0) return 'n/a';
  const sorted = [...r.recoverMs].sort((a, b) => a - b);
  const med = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return sorted.length === 1 ? ms(med) : `${ms(med)} (max ${ms(sorted.at(-1)!)})`;
}

/** The chaos table as markdown: one row per scenario, then the evidence and any failures. */
export function markdownTable(results: ScenarioResult[]): string {
  const rows = [
    '| scenario | runs | faults injected | runs completed (or compensated / cancelled where expected) | effects duplicated | time to recover |',
    '|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.id}: ${r.title} | ${r.runs} | ${r.faults} (${r.faultsNote}) | ${r.ok}/${r.runs} ${r.expected} (${r.runs ? ((r.ok / r.runs) * 100).toFixed(0) : 0} %) | ${r.duplicated} | ${recoverCell(r)} |`,
    ),
  ];
  const notes = results.map((r) => `- **${r.id}**: ${r.evidence}. Time to recover: ${r.recoverNote}.${r.seconds !== undefined ? ` Took ${r.seconds.toFixed(0)} s.` : ''}`);
  const failures = results.flatMap((r) => r.failures.map((f) => `- ${r.id}: ${f}`));
  return [...rows, '', 'Evidence:', ...notes, ...(failures.length ? ['', 'FAILED RUNS:', ...failures] : [])].join('\n') + '\n';
}
