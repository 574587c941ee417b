/**
 * A few telling fields of a tool result (counts, sizes, references, states, metrics) for the run log
 * and progress, so people see what a step did without the result itself travelling around.
 */
/** Quality figures first: they are what a reader of a training step looks for. */
const QUALITY = /(hr|hit_rate|ndcg|lift|accuracy|auc|rmse|precision|recall)/i;
const PREFERRED = /(^|_)(count|rows?|row_count|bytes|size|uri|key|url|id|status|version|via|elapsed|ms|hr|ndcg|allowed|valid|decision|sent|files|entries)(_|$)|^(uri|key|status)$/i;

export type Digest = Record<string, string | number | boolean>;

export function digestResult(result: unknown, maxFields = 6): Digest {
  const out: Digest = {};
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    if (result !== undefined && result !== null) out.value = clip(result);
    return out;
  }
  const scalars: Array<[string, string | number | boolean]> = [];
  const visit = (obj: Record<string, unknown>, prefix: string, depth: number) => {
    for (const [k, v] of Object.entries(obj)) {
      const name = prefix ? `${prefix}.${k}` : k;
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') scalars.push([name, clip(v)]);
      else if (Array.isArray(v)) scalars.push([`${name}.length`, v.length]);
      else if (v && typeof v === 'object' && depth < 3) visit(v as Record<string, unknown>, name, depth + 1);
    }
  };
  visit(result as Record<string, unknown>, '', 0);
  const leaf = (k: string) => k.split('.').pop() ?? k;
  const rank = (k: string) => (QUALITY.test(leaf(k)) ? 0 : PREFERRED.test(leaf(k)) ? (k.includes('.') ? 2 : 1) : 3);
  const ranked = [...scalars].sort((a, b) => rank(a[0]) - rank(b[0]));
  for (const [k, v] of ranked.slice(0, maxFields)) out[k] = v;
  return out;
}

function clip(v: unknown): string | number | boolean {
  if (typeof v === 'number') return Number.isInteger(v) ? v : Math.round(v * 1e4) / 1e4;
  if (typeof v === 'boolean') return v;
  const s = String(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}
