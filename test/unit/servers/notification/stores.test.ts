import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AlertStore } from '../../../../src/servers/notification/alert-store';
import {
  loadNotificationConfig,
  resolveNotificationConfig,
} from '../../../../src/servers/notification/config';
import { MetricStore, seriesKey } from '../../../../src/servers/notification/metric-store';
import { DeliveryStats, SendRateLimiter } from '../../../../src/servers/notification/send-limits';
import {
  buildSlackPayload,
  escapeSlackText,
  isValidChannel,
} from '../../../../src/servers/notification/slack';
import { attachmentsOf, parseEml } from '../../../../src/servers/notification/eml-parse';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'notif-unit-'));

describe('metric store', () => {
  test('when more samples arrive than the history holds, then only the newest are kept, in time order', () => {
    const m = new MetricStore(tmp(), 5, 10);
    for (let i = 0; i < 12; i++)
      m.push('d', [{ name: 'x', value: i, timestamp: new Date(1_700_000_000_000 + i * 1000).toISOString() }]);
    m.push('d', [{ name: 'x', value: 99, timestamp: new Date(1_700_000_000_000 + 9_500).toISOString() }]);
    const s = m.list()[0]!;
    expect(s.points.map((p) => p.v)).toEqual([8, 9, 99, 10, 11]);
  });

  test('when the series cap would be passed, then the push is refused as a whole', () => {
    const m = new MetricStore(tmp(), 5, 2);
    m.push('d', [{ name: 'a', value: 1 }]);
    expect(() =>
      m.push('d', [
        { name: 'a', value: 2 },
        { name: 'b', value: 1 },
        { name: 'c', value: 1 },
      ]),
    ).toThrow(/cap of 2 series/);
    expect(m.pointCount).toBe(1);
  });

  test('when reopened, then history is restored from the JSON-lines file, and compaction keeps the file bounded', () => {
    const dir = tmp();
    const m = new MetricStore(dir, 3, 10);
    for (let i = 0; i < 1100; i++) m.push('d', [{ name: 'a', value: i, labels: { b: '2', a: '1' } }]);
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').length;
    expect(lines).toBeLessThan(1010);
    const again = new MetricStore(dir, 3, 10);
    expect(again.list()[0]!.points.map((p) => p.v)).toEqual([1097, 1098, 1099]);
    expect(again.list()[0]!.key).toBe(seriesKey('d', 'a', { a: '1', b: '2' }));
  });
});

describe('alert store', () => {
  test('when events pass twice the kept count, then the file is compacted and the newest are listed', () => {
    const dir = tmp();
    const s = new AlertStore(dir, 10);
    for (let i = 0; i < 25; i++) {
      s.append({
        at: '',
        alertId: i % 2 ? 'a' : 'b',
        kind: 'fired',
        seriesKey: 'k',
        labels: {},
        value: i,
        threshold: 0,
        comparator: 'gt',
        sampleAt: '',
        deliveries: [],
      });
    }
    expect(s.eventCount).toBe(25);
    expect(s.listEvents({ limit: 3 }).map((e) => e.seq)).toEqual([23, 24, 25]);
    expect(s.listEvents({ alertId: 'a', afterSeq: 20, limit: 10 }).map((e) => e.seq)).toEqual([22, 24]);
    expect(
      fs.readFileSync(path.join(dir, 'alert-events.jsonl'), 'utf8').trim().split('\n').length,
    ).toBeLessThanOrEqual(20);
    expect(new AlertStore(dir, 10).eventCount).toBe(25);
  });
});

describe('send limits', () => {
  test('when more sends than the per-minute limit are taken, then the next one is refused with a retry time until the window slides', () => {
    let now = 0;
    const l = new SendRateLimiter(3, () => now);
    expect([l.take().ok, l.take().ok, l.take().ok]).toEqual([true, true, true]);
    expect(l.take()).toEqual({ ok: false, retryAfterS: 60 });
    now = 30_000;
    expect(l.take()).toEqual({ ok: false, retryAfterS: 30 });
    now = 60_001;
    expect(l.take().ok).toBe(true);
  });

  test('when counts are bumped, then they survive a reopen', () => {
    const dir = tmp();
    new DeliveryStats(dir).bump('emailsSent');
    const again = new DeliveryStats(dir);
    again.bump('emailsSent');
    expect(again.snapshot.emailsSent).toBe(2);
  });
});

describe('slack payloads', () => {
  test('when channel names are checked, then Slack names and ids pass and anything else fails', () => {
    for (const c of ['#ml-team', 'ml_team', 'C0123ABCD', '#a.b', 'alerts-2024'])
      expect(isValidChannel(c)).toBe(true);
    for (const c of ['#ML', '#a b', '#a;b', '#' + 'a'.repeat(81), '', '#$(id)'])
      expect(isValidChannel(c)).toBe(false);
  });

  test('when a payload is built, then it carries text, blocks and overrides in webhook field names', () => {
    expect(
      buildSlackPayload(
        { text: 't', blocks: [{ type: 'divider' }], channel: '#x', iconEmoji: ':a:', username: 'bot' },
        100,
      ),
    ).toEqual({
      text: 't',
      blocks: [{ type: 'divider' }],
      channel: '#x',
      icon_emoji: ':a:',
      username: 'bot',
    });
    expect(() => buildSlackPayload({ text: 'x'.repeat(101) }, 100)).toThrow(
      /101 characters exceed the cap of 100/,
    );
    expect(() =>
      buildSlackPayload({ text: 'x', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) }, 100),
    ).toThrow(/51 blocks/);
    expect(() =>
      buildSlackPayload(
        { text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 's'.repeat(3001) } }] },
        100,
      ),
    ).toThrow(/section limit/);
    expect(escapeSlackText('<!channel> & <http://x|y>')).toBe('&lt;!channel&gt; &amp; &lt;http://x|y&gt;');
  });
});

describe('configuration', () => {
  test('when MCP_SMTP_URL is unset, then the in-process sink is enabled by default; when set, it is not unless asked', () => {
    const base = { MCP_NOTIFICATION_DATA_DIR: '/tmp/x' };
    expect(loadNotificationConfig(base).smtpSink).toMatchObject({
      enabled: true,
      port: 2525,
      dir: '/tmp/x/smtp-sink',
    });
    expect(loadNotificationConfig({ ...base, MCP_SMTP_URL: 'smtp://mail:25' }).smtpSink.enabled).toBe(false);
    expect(
      loadNotificationConfig({ ...base, MCP_SMTP_URL: 'smtp://mail:25', MCP_SMTP_SINK: '1' }).smtpSink
        .enabled,
    ).toBe(true);
    expect(loadNotificationConfig(base).base.port).toBe(8006);
  });

  test('when a kit base config with overrides is given, then defaults fill the rest and overrides win', () => {
    const c = resolveNotificationConfig({
      host: '127.0.0.1',
      port: 0,
      dataDir: '/tmp/y',
      allowedHosts: [],
      allowedOrigins: [],
      maxBodyBytes: 1024,
      smtpSink: { port: 0 },
      limits: { sendsPerMinute: 5 },
    });
    expect(c.base).toEqual({
      host: '127.0.0.1',
      port: 0,
      dataDir: '/tmp/y',
      allowedHosts: [],
      allowedOrigins: [],
      maxBodyBytes: 1024,
    });
    expect(c.smtpSink).toEqual({ enabled: true, host: '127.0.0.1', port: 0, dir: '/tmp/y/smtp-sink' });
    expect(c.limits).toMatchObject({ sendsPerMinute: 5, maxRecipients: 50 });
    expect(resolveNotificationConfig({ ...c.base, smtpUrl: 'smtp://mail:25' }).smtpSink.enabled).toBe(false);
  });

  test('when an env value is invalid, then start-up fails naming it', () => {
    expect(() => loadNotificationConfig({ MCP_SMTP_URL: 'http://mail' })).toThrow(/smtpUrl/);
    expect(() => loadNotificationConfig({ MCP_SMTP_SINK: 'yes' })).toThrow(/smtpSink/);
    expect(() => loadNotificationConfig({ MCP_NOTIFY_SENDS_PER_MINUTE: '-1' })).toThrow(/sendsPerMinute/);
  });
});

describe('eml parsing', () => {
  test('when a multipart message with base64 and quoted-printable parts is parsed, then text and attachment bytes come back', () => {
    const raw = [
      'Subject: =?UTF-8?B?w6nDqA==?=',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'caf=C3=A9 =',
      'ok',
      '--b1',
      'Content-Type: application/octet-stream; name=x.bin',
      'Content-Disposition: attachment; filename="x.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      'AAEC/w==',
      '--b1--',
      '',
    ].join('\r\n');
    const m = parseEml(Buffer.from(raw, 'latin1'));
    expect(m.parts[0]!.body.toString('utf8')).toBe('café ok');
    expect([...attachmentsOf(m)[0]!.body]).toEqual([0, 1, 2, 255]);
  });
});
