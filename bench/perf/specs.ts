/** Pipeline shapes the benchmarks run, as YAML (so parsing is part of what planning measures). */

/** A chain of `n` steps, each taking `ms`. */
export function chainSpec(n: number, ms: number): string {
  const steps = Array.from({ length: n }, (_, i) => `  s${i}: { server: bench, tool: work, args: { ms: ${ms} }${i ? `, needs: [s${i - 1}]` : ''} }`);
  return `name: chain\ndefaults: { retry: { maximumAttempts: 3 } }\nsteps:\n${steps.join('\n')}\n`;
}

/** Layered random DAG: `depth` levels of `width` steps, each needing 1–2 random steps of the level above. */
export function layeredSpec(width: number, depth: number, ms: number, seed = 1): string {
  let x = seed;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const lines: string[] = [];
  for (let d = 0; d < depth; d++) {
    for (let w = 0; w < width; w++) {
      const needs = d === 0 ? [] : [...new Set([Math.floor(rnd() * width), Math.floor(rnd() * width)])].map((k) => `l${d - 1}_${k}`);
      lines.push(`  l${d}_${w}: { server: bench, tool: work, args: { ms: ${ms} }${needs.length ? `, needs: [${needs.join(', ')}]` : ''} }`);
    }
  }
  return `name: layered\nsteps:\n${lines.join('\n')}\n`;
}

/** `width` independent chains of `depth` steps: a long pipeline that stays `width` wide. */
export function chainsSpec(width: number, depth: number, ms: number): string {
  const lines: string[] = [];
  for (let d = 0; d < depth; d++) {
    for (let w = 0; w < width; w++) lines.push(`  s${d}_${w}: { server: bench, tool: work, args: { ms: ${ms} }${d ? `, needs: [s${d - 1}_${w}]` : ''} }`);
  }
  return `name: chains\nsteps:\n${lines.join('\n')}\n`;
}

/** One root, `width` parallel steps, one join. */
export function fanoutSpec(width: number, ms: number): string {
  const lines = ['  root: { server: bench, tool: work, args: { ms: 0 } }'];
  for (let w = 0; w < width; w++) lines.push(`  f${w}: { server: bench, tool: work, args: { ms: ${ms} }, needs: [root] }`);
  lines.push(`  join: { server: bench, tool: work, args: { ms: 0 }, needs: [${Array.from({ length: width }, (_, w) => `f${w}`).join(', ')}] }`);
  return `name: fanout\nsteps:\n${lines.join('\n')}\n`;
}

/**
 * The seed pipeline's shape (pipelines/recommendation.yaml) with bench tools: setup, a chain of
 * extract/upload/process/train, a fan-out of 6 around training, a join, a chain to deployment and a
 * fan-out of 4 reports: 20 steps, critical path 12.
 */
export function seedShapedSpec(ms: number): string {
  const s: Array<[string, string[]]> = [
    ['register_webhook', []],
    ['audit', []],
    ['extract', ['audit']],
    ['upload', ['extract']],
    ['process', ['upload']],
    ['train', ['process', 'register_webhook']],
    ...['key_prod', 'key_staging', 'alert', 'backup', 'authorize', 'gpu'].map((id): [string, string[]] => [id, ['train']]),
    ['wait_training', ['key_prod', 'key_staging', 'alert', 'backup', 'authorize', 'gpu']],
    ['export', ['wait_training']],
    ['encrypt', ['export']],
    ['deploy', ['encrypt']],
    ...['predict', 'report', 'slack', 'dashboard'].map((id): [string, string[]] => [id, ['deploy']]),
  ];
  const lines = s.map(([id, needs]) => `  ${id}: { server: bench, tool: work, args: { ms: ${ms} }${needs.length ? `, needs: [${needs.join(', ')}]` : ''} }`);
  return `name: seed-shaped\nsteps:\n${lines.join('\n')}\n`;
}
