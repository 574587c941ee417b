import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { attachmentsOf, decodeWords, parseEml, textOf } from '../../../../src/servers/notification/eml-parse';
import { startNotificationServer } from '../../../../src/servers/notification/main';
import { startStorageServer } from '../../../../src/servers/storage/main';
import { ObjectStoreClient } from '../../../../src/servers/kit';
import { readSinkIndex } from '../../../../src/servers/notification/smtp-sink';
import { callOk, callTool, connectMcp, errorText } from '../../../harness/mcp-client';
import { type Started, startNotification } from './start';

jest.setTimeout(30_000);

/** The real storage server with the given objects stored through its HTTP object API. */
async function startStorageWith(token: string, objects: Record<string, Buffer>) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'notification-storage-'));
  const started = await startStorageServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    allowedHosts: [],
    allowedOrigins: [],
    maxBodyBytes: 16 * 1024 * 1024,
    serviceToken: token,
  });
  const client = new ObjectStoreClient({ baseUrl: started.server.url, token: async () => token });
  for (const [key, body] of Object.entries(objects)) await client.put(key, body);
  return {
    url: started.server.url,
    close: async () => {
      await started.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function sinkMessages(sinkDir: string) {
  return readSinkIndex(sinkDir, 1000).map((m) => ({
    ...m,
    parsed: parseEml(fs.readFileSync(path.join(sinkDir, m.file))),
  }));
}

describe('notification server: e-mail and Slack over real HTTP, SMTP and webhooks', () => {
  let n: Started;
  let storage: { url: string; close: () => Promise<void> };
  const token = crypto.randomBytes(16).toString('hex');
  // Every byte value, so any text-mode mangling of the attachment shows.
  const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
  const report = crypto.randomBytes(3000);

  beforeAll(async () => {
    process.env.MCP_SERVICE_TOKEN = token;
    storage = await startStorageWith(token, { 'reports/training_report.pdf': report });
    n = await startNotification({ MCP_STORAGE_URL: storage.url });
  });
  afterAll(async () => {
    await n.stop();
    await storage.close();
    delete process.env.MCP_SERVICE_TOKEN;
  });

  test('when send_email is called with base64 and storage attachments, then the mail arrives in the SMTP sink with both attachments byte-identical', async () => {
    const out = await callOk<{
      messageId: string;
      accepted: string[];
      attachments: { sha256: string; size: number; source: string }[];
    }>(n.client, 'send_email', {
      to: ['Data Science <ds-team@example.com>'],
      cc: ['pm@example.com'],
      bcc: ['audit@example.com'],
      subject: 'Model Training Complete – Ready for Production ✓',
      text: 'Accuracy: 0.943\nReady for A/B testing.',
      headers: { 'X-Run-Id': 'wf-42' },
      attachments: [
        {
          filename: 'model_metrics.bin',
          contentType: 'application/octet-stream',
          contentBase64: binary.toString('base64'),
        },
        {
          filename: 'training_report.pdf',
          contentType: 'application/pdf',
          uri: 'storage://reports/training_report.pdf',
        },
      ],
    });
    expect(out.accepted.sort()).toEqual(['audit@example.com', 'ds-team@example.com', 'pm@example.com']);
    expect(out.attachments.map((a) => a.source)).toEqual(['base64', 'storage']);
    expect(out.attachments[1]?.sha256).toBe(crypto.createHash('sha256').update(report).digest('hex'));

    const msgs = sinkMessages(n.sinkDir);
    const msg = msgs.find((m) => m.parsed.headers['message-id'] === out.messageId);
    expect(msg).toBeDefined();
    expect(msg!.rcptTo.sort()).toEqual(['audit@example.com', 'ds-team@example.com', 'pm@example.com']);
    // Bcc travels in the envelope only, never in the headers.
    expect(msg!.parsed.headers.bcc).toBeUndefined();
    expect(decodeWords(msg!.parsed.headers.subject ?? '')).toBe(
      'Model Training Complete – Ready for Production ✓',
    );
    expect(msg!.parsed.headers['x-run-id']).toBe('wf-42');
    expect(textOf(msg!.parsed)).toContain('Accuracy: 0.943');
    const atts = attachmentsOf(msg!.parsed);
    expect(atts.map((a) => a.filename)).toEqual(['model_metrics.bin', 'training_report.pdf']);
    expect(Buffer.compare(atts[0]!.body, binary)).toBe(0);
    expect(Buffer.compare(atts[1]!.body, report)).toBe(0);
  });

  test('when send_email is retried with the same idempotency key, then exactly one mail arrives and the retry replays the first result', async () => {
    const before = readSinkIndex(n.sinkDir, 1000).length;
    const args = { to: ['ops@example.com'], subject: 'once only', text: 'body' };
    const first = await callTool(n.client, 'send_email', args, { idempotencyKey: 'wf-1:step-email' });
    const second = await callTool(n.client, 'send_email', args, { idempotencyKey: 'wf-1:step-email' });
    expect(first.isError).toBeFalsy();
    expect(second._meta?.replayed).toBe(true);
    expect((second.structuredContent as { messageId: string }).messageId).toBe(
      (first.structuredContent as { messageId: string }).messageId,
    );
    expect(readSinkIndex(n.sinkDir, 1000).length).toBe(before + 1);
  });

  test('when send_email gets a bad recipient, a missing body, bad base64 or a missing storage object, then it returns isError naming the field and sends nothing', async () => {
    const before = readSinkIndex(n.sinkDir, 1000).length;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ to: ['not-an-address'], subject: 's', text: 't' }, /to\[0\].*not a valid e-mail address/],
      [{ to: ['a@example.com'], subject: 's' }, /text\/html/],
      [
        {
          to: ['a@example.com'],
          subject: 's',
          text: 't',
          attachments: [{ filename: 'a.txt', contentBase64: '***' }],
        },
        /attachments\[0\]\.contentBase64/,
      ],
      [
        {
          to: ['a@example.com'],
          subject: 's',
          text: 't',
          attachments: [{ filename: 'a.txt', uri: 'storage://nope/missing.bin' }],
        },
        /attachments\[0\]\.uri.*not found/,
      ],
      [
        {
          to: ['a@example.com'],
          subject: 's',
          text: 't',
          attachments: [{ filename: 'a.txt', uri: 'file:///etc/passwd' }],
        },
        /storage:\/\/<key>/,
      ],
      [
        { to: ['a@example.com'], subject: 's', text: 't', attachments: [{ filename: 'a.txt' }] },
        /exactly one of contentBase64 or uri/,
      ],
      [
        { to: Array.from({ length: 51 }, (_, i) => `u${i}@example.com`), subject: 's', text: 't' },
        /51 recipients exceed the limit of 50/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const r = await callTool(n.client, 'send_email', args);
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(pattern);
    }
    expect(readSinkIndex(n.sinkDir, 1000).length).toBe(before);
  });

  test('when send_slack is called with text and blocks, then the sink records the payload in Slack webhook format', async () => {
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'Model v2.1 deployed' } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: '*Accuracy:* 94.3%' },
        fields: [{ type: 'mrkdwn', text: '*Env*\nprod' }],
      },
      { type: 'divider' },
    ];
    const out = await callOk<{
      delivered: boolean;
      destination: string;
      response: string;
      blockCount: number;
    }>(n.client, 'send_slack', {
      text: 'Recommendation model v2.1 deployed successfully.',
      blocks,
      channel: '#ml-team',
      iconEmoji: ':robot_face:',
    });
    expect(out).toMatchObject({ delivered: true, destination: 'sink', response: 'ok', blockCount: 3 });
    const res = await fetch(`${n.url}/sinks/slack?limit=1`);
    const body = (await res.json()) as { messages: { payload: Record<string, unknown> }[] };
    expect(body.messages[0]?.payload).toEqual({
      text: 'Recommendation model v2.1 deployed successfully.',
      blocks,
      channel: '#ml-team',
      icon_emoji: ':robot_face:',
    });
  });

  test('when send_slack is retried with the same idempotency key, then the sink receives one message', async () => {
    const count = async () =>
      ((await (await fetch(`${n.url}/sinks/slack`)).json()) as { count: number }).count;
    const before = await count();
    for (let i = 0; i < 3; i++)
      await callOk(n.client, 'send_slack', { text: 'deploy done' }, { idempotencyKey: 'wf-2:step-slack' });
    expect(await count()).toBe(before + 1);
  });

  test('when send_slack gets an invalid channel, over-long text or an over-long header block, then it returns isError naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ text: 'x', channel: '#ML Team' }, /channel: "#ML Team" is not a Slack channel/],
      [{ text: 'x'.repeat(4001) }, /text: 4001 characters exceed the cap of 4000/],
      [{ text: '   ' }, /text: must not be empty/],
      [
        { text: 'x', blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] },
        /blocks\[0\]\.text\.text/,
      ],
      [{ text: 'x', blocks: [{ type: 'marquee' }] }, /blocks/],
    ];
    for (const [args, pattern] of cases) {
      const r = await callTool(n.client, 'send_slack', args);
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(pattern);
    }
  });

  test('when the Slack sink is posted something that is not a Slack payload, then it answers like Slack (400 no_text / invalid_payload)', async () => {
    const r1 = await fetch(`${n.url}/sinks/slack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ foo: 1 }),
    });
    expect([r1.status, await r1.text()]).toEqual([400, 'no_text']);
    const r2 = await fetch(`${n.url}/sinks/slack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[1,2]',
    });
    expect([r2.status, await r2.text()]).toEqual([400, 'invalid_payload']);
  });

  test('when server_info is called, then it reports channels, limits and live counts measured from what was sent', async () => {
    const info = await callOk<{
      tools: string[];
      capabilities: {
        email: { smtpServer: string; smtpSinkInProcess: boolean; attachmentsFromStorage: boolean };
        slack: { destination: string };
        gpu: boolean;
      };
      limits: { rateLimitPerMinute: number };
      measured: {
        emailsSent: number;
        slackSent: number;
        smtpSinkMessages: number;
        cpuCount: number;
        dataDirFreeBytes: number;
      };
    }>(n.client, 'server_info', {});
    expect(info.tools).toEqual(
      expect.arrayContaining([
        'send_email',
        'send_slack',
        'create_alert',
        'list_alerts',
        'delete_alert',
        'list_alert_events',
        'dashboard_update',
        'record_metric',
        'server_info',
      ]),
    );
    expect(info.capabilities.email).toEqual({
      smtpServer: `smtp://127.0.0.1:${n.running.smtpSink!.port}`,
      smtpSinkInProcess: true,
      attachmentsFromStorage: true,
    });
    expect(info.capabilities.slack.destination).toBe('sink');
    expect(info.capabilities.gpu).toBe(false);
    expect(info.measured.emailsSent).toBe(readSinkIndex(n.sinkDir, 1000).length);
    expect(info.measured.smtpSinkMessages).toBe(info.measured.emailsSent);
    expect(info.measured.slackSent).toBeGreaterThanOrEqual(2);
    expect(info.measured.cpuCount).toBeGreaterThan(0);
    expect(info.measured.dataDirFreeBytes).toBeGreaterThan(0);
  });
});

describe('notification server: failing channels', () => {
  let n: Started;
  let webhook: http.Server;
  let webhookUrl = '';

  beforeAll(async () => {
    // A "real" webhook that refuses everything, as Slack does for a revoked URL.
    webhook = http.createServer((_req, res) =>
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no_service'),
    );
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', () => r()));
    webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/services/T000/B000/secret`;
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    n = await startNotification({
      MCP_SMTP_URL: 'smtp://127.0.0.1:1',
      MCP_SMTP_SINK: '0',
      MCP_SLACK_WEBHOOK_URL: webhookUrl,
    });
  });
  afterAll(async () => {
    await n.stop();
    await new Promise((r) => webhook.close(r));
  });

  test('when the SMTP server is unreachable, then send_email returns isError smtp_failed and counts the failure', async () => {
    const r = await callTool(n.client, 'send_email', { to: ['a@example.com'], subject: 's', text: 't' });
    expect(r.isError).toBe(true);
    expect(r._meta?.code).toBe('smtp_failed');
    expect(errorText(r)).toMatch(/SMTP delivery through smtp:\/\/127\.0\.0\.1:1 failed/);
    const info = await callOk<{
      measured: { emailsFailed: number; smtpSinkMessages?: number };
      capabilities: { slack: { destination: string; webhookHost: string } };
    }>(n.client, 'server_info', {});
    expect(info.measured.emailsFailed).toBe(1);
    expect(info.measured.smtpSinkMessages).toBeUndefined();
    expect(info.capabilities.slack.destination).toBe('webhook');
    // The webhook path is a secret: only the host is reported.
    expect(JSON.stringify(info)).not.toContain('secret');
  });

  test('when the configured Slack webhook refuses the message, then send_slack returns isError with its status and body', async () => {
    const r = await callTool(n.client, 'send_slack', { text: 'hello' });
    expect(r.isError).toBe(true);
    expect(r._meta?.code).toBe('slack_rejected');
    expect(errorText(r)).toMatch(/HTTP 404: no_service/);
  });

  test('when no real webhook is configured elsewhere, then the local Slack sink route is not mounted', async () => {
    expect((await fetch(`${n.url}/sinks/slack`)).status).toBe(404);
  });
});

describe('notification server: send rate limit (started from a kit base config)', () => {
  test('when more messages are sent than the per-minute limit, then the extra call returns isError rate_limited with a retry time and nothing more is sent', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'notif-rate-'));
    const running = await startNotificationServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: dir,
      allowedHosts: [],
      allowedOrigins: [],
      maxBodyBytes: 1024 * 1024,
      smtpSink: { port: 0 },
      limits: { sendsPerMinute: 2 },
    });
    const client = await connectMcp(running.server.mcpUrl);
    try {
      await callOk(client, 'send_email', { to: ['a@example.com'], subject: '1', text: 't' });
      await callOk(client, 'send_slack', { text: '2' });
      const r = await callTool(client, 'send_email', { to: ['a@example.com'], subject: '3', text: 't' });
      expect(r.isError).toBe(true);
      expect(r._meta?.code).toBe('rate_limited');
      expect(errorText(r)).toMatch(/rate limit of 2 messages per minute reached; retry after \d+ s/);
      expect(running.smtpSink!.received).toBe(1);
      const info = await callOk<{
        limits: { rateLimitPerMinute: number };
        measured: { sendsInLastMinute: number };
      }>(client, 'server_info', {});
      expect(info.limits.rateLimitPerMinute).toBe(2);
      expect(info.measured.sendsInLastMinute).toBe(2);
    } finally {
      await client.close();
      await running.close();
    }
  });
});
