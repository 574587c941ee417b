/**
 * Alert rule evaluation as pure functions: given a rule, the state of one series under it and that
 * series' recent samples, decide the next state and whether to notify. Time is the samples' own time,
 * so `forS` and `cooldownS` behave the same when metrics are replayed or pushed with timestamps.
 */
import type { MetricPoint, MetricSeries } from './metric-store';

export const COMPARATORS = ['gt', 'gte', 'lt', 'lte', 'eq', 'ne'] as const;
export type Comparator = (typeof COMPARATORS)[number];
export const COMPARATOR_SYMBOL: Record<Comparator, string> = {
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  eq: '==',
  ne: '!=',
};

export const AGGREGATIONS = ['last', 'avg', 'min', 'max'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export const CHANNELS = ['email', 'slack'] as const;
export type Channel = (typeof CHANNELS)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A stored alert rule. */
export interface AlertRule {
  id: string;
  name: string;
  metric: string;
  /** Only series carrying all these labels match. */
  labels: Record<string, string>;
  /** Only series on this dashboard match; absent: any dashboard. */
  dashboard?: string;
  comparator: Comparator;
  threshold: number;
  aggregation: Aggregation;
  /** Aggregation window in seconds ending at the newest sample; 0 = the newest sample only. */
  windowS: number;
  /** The condition must hold this long before the alert fires; 0 = at once. */
  forS: number;
  /** After a notification, further firings of the same series within this time are not sent. */
  cooldownS: number;
  channels: Channel[];
  emailTo: string[];
  slackChannel?: string;
  notifyOnResolve: boolean;
  severity: Severity;
  createdAt: string;
}

export type AlertStateName = 'ok' | 'pending' | 'firing';

/** The state of one series under one rule. */
export interface SeriesAlertState {
  state: AlertStateName;
  /** When the current state began (sample time, epoch ms). */
  since: number;
  lastValue?: number;
  lastEvaluatedAt?: number;
  /** When a notification last went out for this series. */
  lastNotifiedAt?: number;
  fireCount: number;
}

/** What an evaluation did: `fired` and `resolved` notify; `suppressed` fired inside the cooldown. */
export type Transition = 'pending' | 'fired' | 'suppressed' | 'resolved' | null;

export function compare(value: number, comparator: Comparator, threshold: number): boolean {
  switch (comparator) {
    case 'gt':
      return value > threshold;
    case 'gte':
      return value >= threshold;
    case 'lt':
      return value < threshold;
    case 'lte':
      return value <= threshold;
    case 'eq':
      return value === threshold;
    case 'ne':
      return value !== threshold;
  }
}

/** Aggregates the samples in `(newest - windowS, newest]`; undefined when there are none. */
export function aggregate(
  points: readonly MetricPoint[],
  aggregation: Aggregation,
  windowS: number,
): number | undefined {
  const newest = points[points.length - 1];
  if (!newest) return undefined;
  if (aggregation === 'last' || windowS === 0) return newest.v;
  const from = newest.t - windowS * 1000;
  const values = points.filter((p) => p.t > from).map((p) => p.v);
  if (aggregation === 'min') return Math.min(...values);
  if (aggregation === 'max') return Math.max(...values);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** True when the series falls under the rule (same metric, rule's labels all present, dashboard if set). */
export function ruleMatches(
  rule: AlertRule,
  series: Pick<MetricSeries, 'name' | 'labels' | 'dashboard'>,
): boolean {
  if (rule.metric !== series.name) return false;
  if (rule.dashboard !== undefined && rule.dashboard !== series.dashboard) return false;
  return Object.entries(rule.labels).every(([k, v]) => series.labels[k] === v);
}

/**
 * One evaluation step. De-duplication: a firing series stays firing without new notifications until
 * it resolves; a series that fires again within `cooldownS` of its last notification is `suppressed`.
 */
export function evaluateRule(
  rule: AlertRule,
  prev: SeriesAlertState | undefined,
  points: readonly MetricPoint[],
): { next: SeriesAlertState; transition: Transition; value: number | undefined } {
  const now = points[points.length - 1]?.t ?? 0;
  const state: SeriesAlertState = prev ? { ...prev } : { state: 'ok', since: now, fireCount: 0 };
  const value = aggregate(points, rule.aggregation, rule.windowS);
  if (value === undefined) return { next: state, transition: null, value };
  state.lastValue = value;
  state.lastEvaluatedAt = now;
  const breached = compare(value, rule.comparator, rule.threshold);

  const fire = (): Transition => {
    const inCooldown =
      state.lastNotifiedAt !== undefined && now - state.lastNotifiedAt < rule.cooldownS * 1000;
    state.state = 'firing';
    state.since = now;
    state.fireCount += 1;
    if (inCooldown) return 'suppressed';
    state.lastNotifiedAt = now;
    return 'fired';
  };

  if (breached) {
    if (state.state === 'firing') return { next: state, transition: null, value };
    if (state.state === 'ok') {
      if (rule.forS === 0) return { next: state, transition: fire(), value };
      state.state = 'pending';
      state.since = now;
      return { next: state, transition: 'pending', value };
    }
    // pending
    if (now - state.since >= rule.forS * 1000) return { next: state, transition: fire(), value };
    return { next: state, transition: null, value };
  }
  if (state.state === 'firing') {
    state.state = 'ok';
    state.since = now;
    return { next: state, transition: 'resolved', value };
  }
  if (state.state === 'pending') {
    state.state = 'ok';
    state.since = now;
  }
  return { next: state, transition: null, value };
}
