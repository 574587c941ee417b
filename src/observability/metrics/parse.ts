/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function unescapeLabel(v: string): string {
  return v.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    labels[m[1]!] = unescapeLabel(m[2]!);
    end = re.lastIndex;
  }
  if (text.slice(end).trim() !== '') throw new Error(`bad label set at ${where}: {${text}}`);
  return labels;
}

/** Prometheus reads the special values case-insensitively (prom-client writes `Nan`). */
function parseValue(v: string): number {
  const lower = v.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  return Number(v);
}

/**
 * Parses the Prometheus text format (version 0.0.4) into samples; comments and blank lines are
 * skipped, timestamps ignored. Throws naming the line on malformed input.
 */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/.exec(line);
    if (!m) throw new Error(`bad exposition line ${i + 1}: ${line}`);
    const value = parseValue(m[3]!);
    if (Number.isNaN(value) && m[3]!.toLowerCase() !== 'nan') throw new Error(`bad value on exposition line ${i + 1}: ${line}`);
    out.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], `line ${i + 1}`) : {}, value });
  }
  return out;
}

/** Samples named `name` whose labels include every pair of `match`. */
export function select(samples: readonly Sample[], name: string, match: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** A stable key for a label set, without the given labels (e.g. `le`). */
export function labelKey(labels: Record<string, string>, without: readonly string[] = []): string {
  return Object.keys(labels)
    .filter((k) => !without.includes(k))
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

/** Cumulative buckets of one histogram series: upper bound `le` → count. */
export interface HistogramBuckets {
  labels: Record<string, string>;
  buckets: Array<{ le: number; count: number }>;
}

/** Groups `<name>_bucket` samples into one {@link HistogramBuckets} per label set (without `le`). */
export function histograms(samples: readonly Sample[], name: string): HistogramBuckets[] {
  const byKey = new Map<string, HistogramBuckets>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    const key = labelKey(s.labels, ['le']);
    let h = byKey.get(key);
    if (!h) {
      const labels = { ...s.labels };
      delete labels.le;
      h = { labels, buckets: [] };
      byKey.set(key, h);
    }
    h.buckets.push({ le: parseValue(s.labels.le), count: s.value });
  }
  for (const h of byKey.values()) h.buckets.sort((a, b) => a.le - b.le);
  return [...byKey.values()];
}

/** `now - before`, bucket by bucket (a reset — fewer counts than before — yields `now`). */
export function bucketDelta(now: HistogramBuckets['buckets'], before: HistogramBuckets['buckets'] | undefined): HistogramBuckets['buckets'] {
  if (!before) return now;
  const prev = new Map(before.map((b) => [b.le, b.count]));
  const delta = now.map((b) => ({ le: b.le, count: b.count - (prev.get(b.le) ?? 0) }));
  return delta.some((b) => b.count < 0) ? now : delta;
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly inside the bucket like PromQL's
 * `histogram_quantile`; undefined when there are no observations. A quantile in the `+Inf` bucket
 * reports the largest finite bound (the histogram cannot say more).
 */
export function quantile(q: number, buckets: HistogramBuckets['buckets']): number | undefined {
  if (q < 0 || q > 1) throw new Error(`quantile must be in [0, 1], got ${q}`);
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}
