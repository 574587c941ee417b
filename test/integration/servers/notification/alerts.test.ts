import fs from 'node:fs';
import path from 'node:path';
import { decodeWords, parseEml, textOf } from '../../../../src/servers/notification/eml-parse';
import { readSinkIndex } from '../../../../src/servers/notification/smtp-sink';
import { callOk, callTool, errorText } from '../../../harness/mcp-client';
import { type Started, startNotification } from './start';

jest.setTimeout(30_000);

interface AlertOut {
  id: string;
  state: string;
  fireCount: number;
  series: { seriesKey: string; state: string; lastValue?: number }[];
}
interface EventOut {
  seq: number;
  alertId: string;
  kind: string;
  value: number;
  deliveries: { channel: string; ok: boolean; detail: string }[];
}
interface PushOut {
  accepted: number;
  alertsEvaluated: number;
  alertEvents: { alertId: string; kind: string; deliveries: { channel: string; ok: boolean }[] }[];
}

async function slackSink(n: Started) {
  return (await (await fetch(`${n.url}/sinks/slack?limit=500`)).json()) as {
    count: number;
    messages: { payload: { text: string; blocks?: { type: string }[] } }[];
  };
}

function alertMails(n: Started, alertId: string) {
  return readSinkIndex(n.sinkDir, 1000)
    .map((m) => parseEml(fs.readFileSync(path.join(n.sinkDir, m.file))))
    .filter((p) => p.headers['x-alert-id'] === alertId);
}

describe('notification server: alert rules evaluated on pushed metrics', () => {
  let n: Started;
  beforeAll(async () => {
    n = await startNotification();
  });
  afterAll(async () => {
    await n?.stop();
  });

  test('when a pushed metric crosses a rule threshold, then the alert fires once through e-mail and Slack, stays de-duplicated while firing, and is visible in list_alerts and list_alert_events', async () => {
    const created = await callOk<{ alert: AlertOut; replaced: boolean }>(n.client, 'create_alert', {
      name: 'GPU memory high',
      metric: 'gpu_memory_used_gb',
      labels: { host: 'compute-1' },
      comparator: 'gt',
      threshold: 60,
      channels: ['email', 'slack'],
      emailTo: ['ml-team@example.com'],
      slackChannel: '#ml-team',
      severity: 'critical',
    });
    expect(created.alert).toMatchObject({ id: 'gpu-memory-high', state: 'ok', fireCount: 0 });
    expect(created.replaced).toBe(false);

    const push = (value: number, host = 'compute-1') =>
      callOk<PushOut>(n.client, 'dashboard_update', {
        dashboard: 'ML Operations',
        metrics: [{ name: 'gpu_memory_used_gb', value, labels: { host } }],
      });

    const below = await push(58);
    expect(below).toMatchObject({ accepted: 1, alertsEvaluated: 1, alertEvents: [] });
    // Another host's series does not match the rule's labels.
    expect((await push(99, 'compute-2')).alertsEvaluated).toBe(0);

    const crossing = await push(61.5);
    expect(crossing.alertEvents).toHaveLength(1);
    expect(crossing.alertEvents[0]).toMatchObject({ alertId: 'gpu-memory-high', kind: 'fired' });
    expect(crossing.alertEvents[0]!.deliveries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ channel: 'email', ok: true }),
        expect.objectContaining({ channel: 'slack', ok: true }),
      ]),
    );

    // Still above the threshold: de-duplicated, nothing more is sent.
    for (const v of [62, 63.7, 64]) expect((await push(v)).alertEvents).toEqual([]);

    const mails = alertMails(n, 'gpu-memory-high');
    expect(mails).toHaveLength(1);
    expect(decodeWords(mails[0]!.headers.subject ?? '')).toMatch(
      /^\[FIRING\] GPU memory high: gpu_memory_used_gb\{host="compute-1"\} > 60/,
    );
    expect(textOf(mails[0]!)).toContain('Value:     61.5');
    const slack = (await slackSink(n)).messages.filter((m) => m.payload.text.includes('GPU memory high'));
    expect(slack).toHaveLength(1);
    expect(slack[0]!.payload.blocks?.map((b) => b.type)).toEqual(['header', 'section', 'context']);

    const listed = await callOk<{ alerts: AlertOut[]; total: number }>(n.client, 'list_alerts', {
      state: 'firing',
    });
    expect(listed.alerts.map((a) => a.id)).toEqual(['gpu-memory-high']);
    expect(listed.alerts[0]).toMatchObject({ state: 'firing', fireCount: 1 });
    expect(listed.alerts[0]!.series[0]).toMatchObject({
      seriesKey: 'ML Operations|gpu_memory_used_gb|host=compute-1',
      state: 'firing',
      lastValue: 64,
    });

    const events = await callOk<{ events: EventOut[] }>(n.client, 'list_alert_events', {
      alertId: 'gpu-memory-high',
    });
    expect(events.events.map((e) => e.kind)).toEqual(['fired']);
    expect(events.events[0]!.value).toBe(61.5);

    // Back below: resolved (no notification by default), and the rule is ok again.
    const resolved = await push(40);
    expect(resolved.alertEvents).toEqual([expect.objectContaining({ kind: 'resolved', deliveries: [] })]);
    expect(
      (await callOk<{ alerts: AlertOut[] }>(n.client, 'list_alerts', {})).alerts.find(
        (a) => a.id === 'gpu-memory-high',
      )?.state,
    ).toBe('ok');

    // Re-crossing within the 300 s default cooldown fires but is not sent again.
    const again = await push(70);
    expect(again.alertEvents).toEqual([expect.objectContaining({ kind: 'suppressed', deliveries: [] })]);
    expect(alertMails(n, 'gpu-memory-high')).toHaveLength(1);
  });

  test('when several pushes cross the threshold concurrently, then the rule fires and sends exactly once', async () => {
    await callOk(n.client, 'create_alert', {
      id: 'queue-depth',
      name: 'Queue depth',
      metric: 'queue_depth',
      comparator: 'gt',
      threshold: 10,
      channels: ['email'],
      emailTo: ['ops@example.com'],
    });
    const results = await Promise.all(
      [11, 12, 13, 14, 15].map((v) =>
        callOk<PushOut>(n.client, 'dashboard_update', {
          dashboard: 'Queues',
          metrics: [{ name: 'queue_depth', value: v }],
        }),
      ),
    );
    expect(results.flatMap((r) => r.alertEvents).filter((e) => e.kind === 'fired')).toHaveLength(1);
    expect(alertMails(n, 'queue-depth')).toHaveLength(1);
  });

  test('when a rule has forS and an avg window, then it goes pending first and fires only after the condition held long enough (by sample time)', async () => {
    await callOk(n.client, 'create_alert', {
      id: 'latency-slo',
      name: 'p95 latency SLO',
      metric: 'latency_p95_ms',
      comparator: 'gte',
      threshold: 200,
      aggregation: 'avg',
      windowS: 60,
      forS: 30,
      cooldownS: 0,
      channels: ['slack'],
      notifyOnResolve: true,
    });
    const t0 = Date.now() - 120_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    const rec = (value: number, s: number) =>
      callOk<PushOut>(n.client, 'record_metric', { name: 'latency_p95_ms', value, timestamp: at(s) });
    expect((await rec(100, 0)).alertEvents).toEqual([]);
    expect((await rec(400, 10)).alertEvents).toEqual([expect.objectContaining({ kind: 'pending' })]); // avg 250
    expect((await rec(300, 30)).alertEvents).toEqual([]); // held 20 s
    const fired = await rec(300, 45); // held 35 s ≥ 30
    expect(fired.alertEvents).toEqual([expect.objectContaining({ alertId: 'latency-slo', kind: 'fired' })]);
    const resolved = await rec(10, 200); // window now holds only this sample
    expect(resolved.alertEvents).toEqual([
      expect.objectContaining({
        kind: 'resolved',
        deliveries: [expect.objectContaining({ channel: 'slack', ok: true })],
      }),
    ]);
    const texts = (await slackSink(n)).messages
      .map((m) => m.payload.text)
      .filter((t) => t.includes('p95 latency SLO'));
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain('[FIRING]');
    expect(texts[1]).toContain('[RESOLVED]');
  });

  test('when create_alert or delete_alert get bad arguments, then they return isError naming the field', async () => {
    const bad: [string, Record<string, unknown>, RegExp][] = [
      [
        'create_alert',
        { name: 'x', metric: 'm', comparator: 'gt', threshold: 1, channels: ['email'] },
        /emailTo: give at least one recipient/,
      ],
      [
        'create_alert',
        { name: 'x', metric: 'm', comparator: 'gt', threshold: 1, channels: ['email'], emailTo: ['nobody'] },
        /emailTo\[0\]/,
      ],
      [
        'create_alert',
        {
          name: 'x',
          metric: 'm',
          comparator: 'gt',
          threshold: 1,
          channels: ['slack'],
          slackChannel: '#Bad Channel',
        },
        /slackChannel/,
      ],
      [
        'create_alert',
        { name: 'x', metric: 'm', comparator: 'above', threshold: 1, channels: ['slack'] },
        /comparator/,
      ],
      [
        'create_alert',
        { name: 'x', metric: 'm', comparator: 'gt', threshold: 1, channels: ['pager'] },
        /channels/,
      ],
      [
        'create_alert',
        {
          name: 'line\r\nBcc: x@evil.example',
          metric: 'm',
          comparator: 'gt',
          threshold: 1,
          channels: ['slack'],
        },
        /name: contains the control character CR/,
      ],
      ['delete_alert', { id: 'no-such-rule' }, /id: no alert rule "no-such-rule"/],
    ];
    for (const [tool, args, pattern] of bad) {
      const r = await callTool(n.client, tool, args);
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(pattern);
    }
  });

  test('when dashboard_update gets an invalid metric, then the whole batch is refused and nothing is stored', async () => {
    const before = (await (await fetch(`${n.url}/dashboard/state`)).json()) as { series: unknown[] };
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        {
          dashboard: 'ML Operations',
          metrics: [
            { name: 'ok_metric', value: 1 },
            { name: 'bad name;rm -rf /', value: 1 },
          ],
        },
        /metrics\[1\]\.name|name/,
      ],
      [
        { dashboard: 'ML Operations', metrics: [{ name: 'ok_metric', value: 1, timestamp: 'yesterday' }] },
        /metrics\[0\]\.timestamp/,
      ],
      [
        {
          dashboard: 'ML Operations',
          metrics: [
            { name: 'ok_metric', value: 1, timestamp: new Date(Date.now() + 3_600_000).toISOString() },
          ],
        },
        /in the future/,
      ],
      [{ dashboard: '<script>', metrics: [{ name: 'ok_metric', value: 1 }] }, /dashboard/],
      [{ dashboard: 'ML Operations', metrics: [] }, /metrics/],
    ];
    for (const [args, pattern] of cases) {
      const r = await callTool(n.client, 'dashboard_update', args);
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(pattern);
    }
    const after = (await (await fetch(`${n.url}/dashboard/state`)).json()) as { series: unknown[] };
    expect(after.series.length).toBe(before.series.length);
  });

  test('when a rule is deleted, then it no longer evaluates, while its history stays', async () => {
    const del = await callOk<{ deleted: boolean; remaining: number }>(n.client, 'delete_alert', {
      id: 'gpu-memory-high',
    });
    expect(del.deleted).toBe(true);
    const push = await callOk<PushOut>(n.client, 'dashboard_update', {
      dashboard: 'ML Operations',
      metrics: [{ name: 'gpu_memory_used_gb', value: 99, labels: { host: 'compute-1' } }],
    });
    expect(push.alertsEvaluated).toBe(0);
    const events = await callOk<{ events: EventOut[] }>(n.client, 'list_alert_events', {
      alertId: 'gpu-memory-high',
    });
    expect(events.events.length).toBeGreaterThan(0);
  });

  test('when the server restarts on the same data folder, then rules, their state, history and metrics survive', async () => {
    const before = await callOk<{ alerts: AlertOut[] }>(n.client, 'list_alerts', {});
    const eventsBefore = await callOk<{ totalRecorded: number }>(n.client, 'list_alert_events', {});
    const stateBefore = (await (await fetch(`${n.url}/dashboard/state`)).json()) as {
      series: { key: string; points: unknown[] }[];
    };
    await n.stop();
    n = await startNotification({}, n.dir);
    const after = await callOk<{ alerts: AlertOut[] }>(n.client, 'list_alerts', {});
    expect(after.alerts).toEqual(before.alerts);
    expect((await callOk<{ totalRecorded: number }>(n.client, 'list_alert_events', {})).totalRecorded).toBe(
      eventsBefore.totalRecorded,
    );
    const stateAfter = (await (await fetch(`${n.url}/dashboard/state`)).json()) as {
      series: { key: string; points: unknown[] }[];
    };
    expect(stateAfter.series.map((s) => [s.key, s.points.length])).toEqual(
      stateBefore.series.map((s) => [s.key, s.points.length]),
    );
  });
});
