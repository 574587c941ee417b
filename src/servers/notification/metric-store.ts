import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { ToolError } from '../kit';

/** One sample: epoch milliseconds and value. */
export interface MetricPoint {
  t: number;
  v: number;
}

/** A time series: one metric name with one label set on one dashboard. */
export interface MetricSeries {
  /** `dashboard|name|k=v,k=v` (labels sorted): identity of the series. */
  key: string;
  dashboard: string;
  name: string;
  labels: Record<string, string>;
  /** Oldest first, at most `historyPoints`. */
  points: MetricPoint[];
}

export interface MetricInput {
  name: string;
  value: number;
  labels?: Record<string, string>;
  /** ISO-8601 time of the sample; default now. */
  timestamp?: string;
}

/** Dashboard that `record_metric` pushes land on. */
export const DEFAULT_DASHBOARD = 'default';
/** Samples may be at most this far in the future (clock skew between hosts). */
const MAX_FUTURE_MS = 5 * 60_000;

/** Identity of a series; labels sorted so `{a,b}` and `{b,a}` are one series. */
export function seriesKey(dashboard: string, name: string, labels: Record<string, string>): string {
  const l = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
  return `${dashboard}|${name}|${l}`;
}

interface Line {
  d: string;
  n: string;
  l: Record<string, string>;
  t: number;
  v: number;
}

/**
 * Dashboard metrics: bounded history per series in memory (at most `historyPoints` samples in at most
 * `maxSeries` series), persisted as JSON lines so a restart keeps the charts. The file is compacted
 * from memory when it grows past twice what memory holds. Emits `points` with each accepted batch.
 */
export class MetricStore extends EventEmitter {
  private readonly series = new Map<string, MetricSeries>();
  private readonly file: string;
  private fileLines = 0;

  constructor(
    dataDir: string,
    readonly historyPoints: number,
    readonly maxSeries: number,
  ) {
    super();
    fs.mkdirSync(dataDir, { recursive: true });
    this.file = path.join(dataDir, 'metrics.jsonl');
    if (fs.existsSync(this.file)) {
      for (const raw of fs.readFileSync(this.file, 'utf8').split('\n')) {
        if (!raw.trim()) continue;
        this.fileLines += 1;
        try {
          const line = JSON.parse(raw) as Line;
          const s = this.seriesFor(line.d, line.n, line.l, false);
          if (s) this.insert(s, { t: line.t, v: line.v });
        } catch {
          // torn line after a crash
        }
      }
    }
  }

  private seriesFor(
    dashboard: string,
    name: string,
    labels: Record<string, string>,
    strict: boolean,
  ): MetricSeries | undefined {
    const key = seriesKey(dashboard, name, labels);
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.maxSeries) {
        if (strict) {
          throw new ToolError(
            `metrics: series ${name} on dashboard "${dashboard}" would be series number ${this.maxSeries + 1}, over the cap of ${this.maxSeries}; reuse names/labels or raise MCP_NOTIFY_MAX_SERIES`,
            'too_many_series',
          );
        }
        return undefined;
      }
      s = { key, dashboard, name, labels: { ...labels }, points: [] };
      this.series.set(key, s);
    }
    return s;
  }

  private insert(s: MetricSeries, p: MetricPoint) {
    // Samples usually arrive in order; an out-of-order one is placed by time so windows stay right.
    let i = s.points.length;
    while (i > 0 && (s.points[i - 1] as MetricPoint).t > p.t) i--;
    s.points.splice(i, 0, p);
    if (s.points.length > this.historyPoints) s.points.splice(0, s.points.length - this.historyPoints);
  }

  /**
   * Accepts a batch for one dashboard. All samples are checked before any is stored, so a bad sample
   * rejects the whole batch. Returns the touched series and the points added to each.
   */
  push(
    dashboard: string,
    inputs: MetricInput[],
    now = Date.now(),
  ): { series: MetricSeries; point: MetricPoint }[] {
    const prepared = inputs.map((m, i) => {
      if (!Number.isFinite(m.value))
        throw new ToolError(`metrics[${i}].value: must be a finite number`, 'invalid_argument');
      let t = now;
      if (m.timestamp !== undefined) {
        t = Date.parse(m.timestamp);
        if (Number.isNaN(t))
          throw new ToolError(
            `metrics[${i}].timestamp: "${m.timestamp}" is not an ISO-8601 time`,
            'invalid_argument',
          );
        if (t > now + MAX_FUTURE_MS)
          throw new ToolError(
            `metrics[${i}].timestamp: ${m.timestamp} is more than 5 minutes in the future`,
            'invalid_argument',
          );
      }
      return { m, t };
    });
    const newKeys = new Set(
      prepared
        .map(({ m }) => seriesKey(dashboard, m.name, m.labels ?? {}))
        .filter((k) => !this.series.has(k)),
    );
    if (this.series.size + newKeys.size > this.maxSeries) {
      throw new ToolError(
        `metrics: ${newKeys.size} new series would exceed the cap of ${this.maxSeries} series (${this.series.size} exist); reuse names/labels or raise MCP_NOTIFY_MAX_SERIES`,
        'too_many_series',
      );
    }
    const out: { series: MetricSeries; point: MetricPoint }[] = [];
    const lines: string[] = [];
    for (const { m, t } of prepared) {
      const labels = m.labels ?? {};
      const s = this.seriesFor(dashboard, m.name, labels, true) as MetricSeries;
      const point = { t, v: m.value };
      this.insert(s, point);
      out.push({ series: s, point });
      lines.push(JSON.stringify({ d: dashboard, n: m.name, l: labels, t, v: m.value } satisfies Line));
    }
    fs.appendFileSync(this.file, lines.join('\n') + '\n');
    this.fileLines += lines.length;
    if (this.fileLines > 2 * this.pointCount + 1000) this.compact();
    this.emit('points', out);
    return out;
  }

  private compact() {
    const tmp = `${this.file}.tmp`;
    const lines: string[] = [];
    for (const s of this.series.values()) {
      for (const p of s.points)
        lines.push(JSON.stringify({ d: s.dashboard, n: s.name, l: s.labels, t: p.t, v: p.v } satisfies Line));
    }
    fs.writeFileSync(tmp, lines.length ? lines.join('\n') + '\n' : '');
    fs.renameSync(tmp, this.file);
    this.fileLines = lines.length;
  }

  /** All series (live objects: do not mutate). */
  list(): MetricSeries[] {
    return [...this.series.values()];
  }

  get seriesCount(): number {
    return this.series.size;
  }

  get pointCount(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.points.length;
    return n;
  }

  get dashboards(): string[] {
    return [...new Set([...this.series.values()].map((s) => s.dashboard))].sort();
  }
}
