import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEml, textOf, decodeWords } from '../../../../src/servers/notification/eml-parse';
import { readSinkIndex } from '../../../../src/servers/notification/smtp-sink';
import { callTool, errorText } from '../../../harness/mcp-client';
import { type Started, startNotification } from './start';

jest.setTimeout(60_000);

/**
 * Security scenario 20: CRLF in e-mail headers or message text, shell metacharacters in arguments →
 * rejected or inert. Each attack is either refused with isError (nothing sent) or, where the value is
 * legitimately free text (bodies, Slack text), delivered verbatim as data with no effect.
 */
describe('notification server: header injection and shell metacharacters (security scenario 20)', () => {
  let n: Started;
  const marker = path.join(os.tmpdir(), `notif-pwned-${process.pid}-${Date.now()}`);
  const tally = { tried: 0, refused: 0, inert: 0 };

  beforeAll(async () => {
    n = await startNotification();
  });
  afterAll(async () => {
    await n?.stop();
    console.log(
      `security scenario 20: attacks tried ${tally.tried}, refused ${tally.refused}, delivered inert ${tally.inert}, succeeded ${tally.tried - tally.refused - tally.inert}`,
    );
  });

  const base = { to: ['ops@example.com'], subject: 'report', text: 'body' };
  const refusedEmail: [string, Record<string, unknown>][] = [
    ['CRLF + Bcc in to', { ...base, to: ['ops@example.com\r\nBcc: leak@evil.example'] }],
    ['bare LF + Bcc in to', { ...base, to: ['ops@example.com\nBcc: leak@evil.example'] }],
    ['bare CR in to', { ...base, to: ['ops@example.com\rBcc: leak@evil.example'] }],
    ['CRLF in cc', { ...base, cc: ['pm@example.com\r\nX-Evil: 1'] }],
    ['CRLF in bcc', { ...base, bcc: ['a@example.com\r\nTo: leak@evil.example'] }],
    ['CRLF in display name', { ...base, to: ['Ops\r\nBcc: leak@evil.example <ops@example.com>'] }],
    ['CRLF in from', { ...base, from: 'me@example.com\r\nBcc: leak@evil.example' }],
    ['CRLF in replyTo', { ...base, replyTo: 'me@example.com\r\nBcc: leak@evil.example' }],
    ['CRLF + Bcc in subject', { ...base, subject: 'hi\r\nBcc: leak@evil.example' }],
    ['CRLFCRLF body smuggling in subject', { ...base, subject: 'hi\r\n\r\nfake body' }],
    ['bare LF in subject', { ...base, subject: 'hi\nBcc: leak@evil.example' }],
    ['NUL in subject', { ...base, subject: 'hi\u0000there' }],
    ['U+2028 line separator in subject', { ...base, subject: 'hi\u2028Bcc: leak@evil.example' }],
    ['U+0085 next line in subject', { ...base, subject: 'hi\u0085Bcc: leak@evil.example' }],
    ['CRLF in custom header value', { ...base, headers: { 'X-Run': 'a\r\nBcc: leak@evil.example' } }],
    ['CRLF in header name', { ...base, headers: { 'X-Run\r\nBcc': 'leak@evil.example' } }],
    ['structural header Bcc via headers', { ...base, headers: { Bcc: 'leak@evil.example' } }],
    ['structural header Content-Type via headers', { ...base, headers: { 'Content-Type': 'text/html' } }],
    [
      'CRLF in attachment filename',
      { ...base, attachments: [{ filename: 'a.txt\r\nContent-Type: text/html', contentBase64: 'aGk=' }] },
    ],
    [
      'path in attachment filename',
      { ...base, attachments: [{ filename: '../../etc/passwd', contentBase64: 'aGk=' }] },
    ],
    [
      'CRLF in attachment contentType',
      {
        ...base,
        attachments: [{ filename: 'a.txt', contentType: 'text/plain\r\nX-Evil: 1', contentBase64: 'aGk=' }],
      },
    ],
    ['address list smuggled in one item', { ...base, to: ['ops@example.com, leak@evil.example'] }],
    ['address list with semicolon', { ...base, to: ['ops@example.com;leak@evil.example'] }],
    ['pipe to shell in address', { ...base, to: ['"|touch /tmp/x"@example.com'] }],
    ['pipe in local part', { ...base, to: ['a|id@example.com'] }],
    ['command substitution in address', { ...base, to: ['$(touch /tmp/x)@example.com'] }],
    ['backticks in address', { ...base, to: ['`id`@example.com'] }],
    ['semicolon command in address', { ...base, to: ['a@example.com;rm -rf /'] }],
    ['sendmail option in address', { ...base, to: ['-oQ/tmp/ -X/tmp/log@example.com'] }],
    [
      'file attachment path (local file read)',
      { ...base, attachments: [{ filename: 'p.txt', uri: '/etc/passwd' }] },
    ],
  ];

  test('when CRLF, NUL or line separators reach e-mail addresses, subject, headers or attachment names, or addresses carry shell syntax, then every attempt is refused and no mail is sent', async () => {
    const before = readSinkIndex(n.sinkDir, 10_000).length;
    const notRefused: string[] = [];
    for (const [label, args] of refusedEmail) {
      tally.tried += 1;
      const r = await callTool(n.client, 'send_email', args);
      if (r.isError) tally.refused += 1;
      else notRefused.push(`${label}: ${JSON.stringify(r.structuredContent)}`);
      if (r.isError) expect(errorText(r)).not.toMatch(/internal error/);
    }
    expect(notRefused).toEqual([]);
    expect(readSinkIndex(n.sinkDir, 10_000).length).toBe(before);
  });

  test('when the body carries CRLF header lines, SMTP end-of-data smuggling, and shell syntax, then exactly one message arrives, headers untouched, the text inert in the body', async () => {
    const before = readSinkIndex(n.sinkDir, 10_000).length;
    const evilBody =
      [
        'line one',
        'Bcc: leak@evil.example',
        '',
        '.',
        'MAIL FROM:<attacker@evil.example>',
        'RCPT TO:<leak@evil.example>',
        'DATA',
        'Subject: smuggled',
        '',
        'smuggled body',
        '.',
        `$(touch ${marker}) ; touch ${marker} | touch ${marker} \`touch ${marker}\``,
      ].join('\r\n') +
      '\r\n.\r\n' +
      'bare LF smuggle\n.\nMAIL FROM:<x@evil.example>\n' +
      'bare CR smuggle\r.\rDATA\r';
    const subject = `weekly $(touch ${marker}); \`touch ${marker}\` | rm -rf / & echo pwned > ${marker}`;
    tally.tried += 3; // header lines in body, SMTP smuggling, shell syntax in subject/body
    const r = await callTool(n.client, 'send_email', { to: ['ops@example.com'], subject, text: evilBody });
    expect(r.isError).toBeFalsy();
    const index = readSinkIndex(n.sinkDir, 10_000);
    expect(index.length).toBe(before + 1);
    const last = index[index.length - 1]!;
    expect(last.rcptTo).toEqual(['ops@example.com']);
    const mail = parseEml(fs.readFileSync(path.join(n.sinkDir, last.file)));
    expect(mail.headers.bcc).toBeUndefined();
    expect(decodeWords(mail.headers.subject ?? '')).toBe(subject);
    const text = textOf(mail);
    expect(text).toContain('MAIL FROM:<attacker@evil.example>');
    expect(text).toContain(`$(touch ${marker})`);
    expect(fs.existsSync(marker)).toBe(false);
    tally.inert += 3;
  });

  const refusedSlack: [string, Record<string, unknown>][] = [
    ['CRLF in channel', { text: 'x', channel: '#ops\r\nX-Evil: 1' }],
    ['shell syntax in channel', { text: 'x', channel: '#ops;rm -rf /' }],
    ['command substitution in channel', { text: 'x', channel: '#$(id)' }],
    ['CRLF in username', { text: 'x', username: 'bot\r\nX-Evil: 1' }],
    ['markup in icon emoji', { text: 'x', iconEmoji: ':x:<script>' }],
  ];

  test('when Slack channel, username or icon carry CRLF or shell syntax, then they are refused; the same in text is delivered verbatim as data', async () => {
    const count = async () =>
      ((await (await fetch(`${n.url}/sinks/slack`)).json()) as { count: number }).count;
    const before = await count();
    const notRefused: string[] = [];
    for (const [label, args] of refusedSlack) {
      tally.tried += 1;
      const r = await callTool(n.client, 'send_slack', args);
      if (r.isError) tally.refused += 1;
      else notRefused.push(label);
    }
    expect(notRefused).toEqual([]);
    expect(await count()).toBe(before);

    tally.tried += 1;
    const text = `deploy done\r\nX-Evil: 1\r\n$(touch ${marker}) \`touch ${marker}\``;
    const ok = await callTool(n.client, 'send_slack', { text });
    expect(ok.isError).toBeFalsy();
    const last = (
      (await (await fetch(`${n.url}/sinks/slack?limit=1`)).json()) as {
        messages: { payload: { text: string } }[];
      }
    ).messages[0];
    expect(last?.payload.text).toBe(text);
    expect(fs.existsSync(marker)).toBe(false);
    tally.inert += 1;
  });

  const refusedMetrics: [string, Record<string, unknown>][] = [
    ['shell syntax in metric name', { dashboard: 'ops', metrics: [{ name: 'cpu;rm -rf /', value: 1 }] }],
    ['CRLF in metric name', { dashboard: 'ops', metrics: [{ name: 'cpu\r\nx', value: 1 }] }],
    ['command substitution in dashboard name', { dashboard: '$(id)', metrics: [{ name: 'cpu', value: 1 }] }],
    ['CRLF in dashboard name', { dashboard: 'ops\r\nx', metrics: [{ name: 'cpu', value: 1 }] }],
    [
      'shell syntax in label key',
      { dashboard: 'ops', metrics: [{ name: 'cpu', value: 1, labels: { 'a;b': 'x' } }] },
    ],
  ];

  test('when metric or dashboard names carry CRLF or shell syntax, then the push is refused', async () => {
    const notRefused: string[] = [];
    for (const [label, args] of refusedMetrics) {
      tally.tried += 1;
      const r = await callTool(n.client, 'dashboard_update', args);
      if (r.isError) tally.refused += 1;
      else notRefused.push(label);
    }
    expect(notRefused).toEqual([]);
  });

  test('when an alert rule carries CRLF in its name or recipients, then create_alert refuses it, so alert mails cannot be turned into injections', async () => {
    const attempts: Record<string, unknown>[] = [
      {
        name: 'cpu\r\nBcc: leak@evil.example',
        metric: 'cpu',
        comparator: 'gt',
        threshold: 1,
        channels: ['email'],
        emailTo: ['ops@example.com'],
      },
      {
        name: 'cpu',
        metric: 'cpu',
        comparator: 'gt',
        threshold: 1,
        channels: ['email'],
        emailTo: ['ops@example.com\r\nBcc: leak@evil.example'],
      },
      {
        name: 'cpu',
        metric: 'cpu',
        comparator: 'gt',
        threshold: 1,
        channels: ['slack'],
        slackChannel: '#ops\nx',
      },
    ];
    for (const args of attempts) {
      tally.tried += 1;
      const r = await callTool(n.client, 'create_alert', args);
      expect(r.isError).toBe(true);
      tally.refused += 1;
    }
  });

  test('then no attack succeeded', () => {
    expect(tally.tried).toBeGreaterThanOrEqual(45);
    expect(tally.refused + tally.inert).toBe(tally.tried);
  });
});
