import {
  type AlertRule,
  aggregate,
  compare,
  evaluateRule,
  ruleMatches,
} from '../../../../src/servers/notification/alert-engine';
import type { MetricPoint } from '../../../../src/servers/notification/metric-store';

function rule(over: Partial<AlertRule> = {}): AlertRule {
  return {
    id: 'r',
    name: 'r',
    metric: 'm',
    labels: {},
    comparator: 'gt',
    threshold: 10,
    aggregation: 'last',
    windowS: 0,
    forS: 0,
    cooldownS: 0,
    channels: ['slack'],
    emailTo: [],
    notifyOnResolve: false,
    severity: 'warning',
    createdAt: '2024-01-01T00:00:00Z',
    ...over,
  };
}

/** Feeds samples one by one, as pushes would, and returns the transitions. */
function run(r: AlertRule, samples: [number, number][]) {
  const points: MetricPoint[] = [];
  let state;
  const out: (string | null)[] = [];
  for (const [tS, v] of samples) {
    points.push({ t: tS * 1000, v });
    const e = evaluateRule(r, state, points);
    state = e.next;
    out.push(e.transition);
  }
  return { transitions: out, state };
}

describe('alert engine', () => {
  test('when comparing, then each comparator behaves as named', () => {
    expect([
      compare(5, 'gt', 5),
      compare(5, 'gte', 5),
      compare(4, 'lt', 5),
      compare(5, 'lte', 5),
      compare(5, 'eq', 5),
      compare(5, 'ne', 5),
    ]).toEqual([false, true, true, true, true, false]);
  });

  test('when aggregating over a window, then only samples within (newest - window, newest] count', () => {
    const pts = [
      { t: 0, v: 100 },
      { t: 10_000, v: 1 },
      { t: 20_000, v: 3 },
    ];
    expect(aggregate(pts, 'avg', 15)).toBe(2);
    expect(aggregate(pts, 'max', 60)).toBe(100);
    expect(aggregate(pts, 'min', 60)).toBe(1);
    expect(aggregate(pts, 'last', 60)).toBe(3);
    expect(aggregate([], 'avg', 60)).toBeUndefined();
  });

  test('when a value crosses the threshold, then the rule fires once and stays firing without re-firing until it resolves', () => {
    const { transitions, state } = run(rule(), [
      [0, 5],
      [1, 11],
      [2, 12],
      [3, 50],
      [4, 9],
      [5, 11],
    ]);
    expect(transitions).toEqual([null, 'fired', null, null, 'resolved', 'fired']);
    expect(state?.fireCount).toBe(2);
  });

  test('when forS is set, then the rule is pending until the condition has held that long, and a dip resets it', () => {
    expect(
      run(rule({ forS: 30 }), [
        [0, 11],
        [20, 12],
        [29, 12],
        [30, 12],
        [31, 13],
      ]).transitions,
    ).toEqual(['pending', null, null, 'fired', null]);
    expect(
      run(rule({ forS: 30 }), [
        [0, 11],
        [20, 5],
        [25, 11],
        [50, 11],
        [55, 11],
      ]).transitions,
    ).toEqual(['pending', null, 'pending', null, 'fired']);
  });

  test('when the rule re-fires within cooldownS of its last notification, then it is suppressed, and after the cooldown it is sent again', () => {
    const r = rule({ cooldownS: 60 });
    expect(
      run(r, [
        [0, 11],
        [10, 1],
        [20, 11],
        [30, 1],
        [100, 11],
      ]).transitions,
    ).toEqual(['fired', 'resolved', 'suppressed', 'resolved', 'fired']);
  });

  test('when matching series, then metric name, all rule labels and the dashboard filter must agree', () => {
    const s = { name: 'm', labels: { host: 'a', zone: 'z' }, dashboard: 'ops' };
    expect(ruleMatches(rule(), s)).toBe(true);
    expect(ruleMatches(rule({ labels: { host: 'a' } }), s)).toBe(true);
    expect(ruleMatches(rule({ labels: { host: 'b' } }), s)).toBe(false);
    expect(ruleMatches(rule({ dashboard: 'other' }), s)).toBe(false);
    expect(ruleMatches(rule({ metric: 'n' }), s)).toBe(false);
  });
});
