import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import { ToolError } from '../kit';
import type { DeliveryStats, SendRateLimiter } from './send-limits';

/** One Block Kit block as sent; only `type` is interpreted here, the rest is Slack's business. */
export type SlackBlock = { type: string; [key: string]: unknown };

/** The JSON body of a Slack incoming-webhook call. */
export interface SlackPayload {
  text: string;
  blocks?: SlackBlock[];
  channel?: string;
  username?: string;
  icon_emoji?: string;
}

export interface SlackInput {
  text: string;
  blocks?: SlackBlock[];
  channel?: string;
  username?: string;
  iconEmoji?: string;
}

export interface SlackResult {
  delivered: boolean;
  destination: 'sink' | 'webhook';
  webhookHost: string;
  httpStatus: number;
  response: string;
  payloadBytes: number;
  blockCount: number;
  channel?: string;
  sentAt: string;
}

/** Channel names as Slack allows them (lower case, digits, `-`, `_`, `.`; ≤ 80) or channel ids. */
const CHANNEL_NAME = /^#?[a-z0-9][a-z0-9._-]{0,79}$/;
const CHANNEL_ID = /^[CGD][A-Z0-9]{8,11}$/;
const EMOJI = /^:[a-z0-9_+-]{1,64}:$/;
/** Slack's own limits, so a message fails here with a clear reason rather than as `invalid_blocks`. */
export const SLACK_LIMITS = {
  maxBlocks: 50,
  sectionText: 3000,
  headerText: 150,
  payloadBytes: 64 * 1024,
} as const;

/** True when `channel` is a valid Slack channel name (`#ops-alerts`) or id (`C0123ABCD`). */
export function isValidChannel(channel: string): boolean {
  return CHANNEL_NAME.test(channel) || CHANNEL_ID.test(channel);
}

/** Escapes `&`, `<`, `>` as Slack's message formatting requires, so text cannot form links or mentions. */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function blockText(block: SlackBlock): string | undefined {
  const t = block.text as { text?: unknown } | undefined;
  return t && typeof t.text === 'string' ? t.text : undefined;
}

/**
 * Checks a message against our cap and Slack's documented limits and builds the webhook payload.
 * Throws ToolError naming the field.
 */
export function buildSlackPayload(input: SlackInput, maxTextChars: number): SlackPayload {
  if (input.text.trim() === '')
    throw new ToolError(
      'text: must not be empty (Slack shows it in notifications and as the fallback for blocks)',
      'invalid_argument',
    );
  if (input.text.length > maxTextChars) {
    throw new ToolError(
      `text: ${input.text.length} characters exceed the cap of ${maxTextChars}; shorten it or attach details by reference`,
      'too_large',
    );
  }
  if (input.channel !== undefined && !isValidChannel(input.channel)) {
    throw new ToolError(
      `channel: "${input.channel}" is not a Slack channel name (lower-case letters, digits, - _ . up to 80, e.g. #ml-team) or id (e.g. C0123ABCD)`,
      'invalid_argument',
    );
  }
  if (input.iconEmoji !== undefined && !EMOJI.test(input.iconEmoji)) {
    throw new ToolError(
      `iconEmoji: "${input.iconEmoji}" is not an emoji code like :robot_face:`,
      'invalid_argument',
    );
  }
  if (
    input.username !== undefined &&
    (/[\u0000-\u001f\u007f]/.test(input.username) || input.username.length > 80)
  ) {
    throw new ToolError('username: must be one line of at most 80 characters', 'invalid_argument');
  }
  const blocks = input.blocks ?? [];
  if (blocks.length > SLACK_LIMITS.maxBlocks)
    throw new ToolError(
      `blocks: ${blocks.length} blocks exceed Slack's limit of ${SLACK_LIMITS.maxBlocks}`,
      'invalid_argument',
    );
  for (const [i, b] of blocks.entries()) {
    const t = blockText(b);
    if (b.type === 'section' && t !== undefined && t.length > SLACK_LIMITS.sectionText) {
      throw new ToolError(
        `blocks[${i}].text.text: ${t.length} characters exceed Slack's section limit of ${SLACK_LIMITS.sectionText}`,
        'invalid_argument',
      );
    }
    if (b.type === 'header' && (t === undefined || t.length > SLACK_LIMITS.headerText)) {
      throw new ToolError(
        `blocks[${i}].text.text: a header needs plain text of at most ${SLACK_LIMITS.headerText} characters`,
        'invalid_argument',
      );
    }
  }
  const payload: SlackPayload = { text: input.text };
  if (blocks.length) payload.blocks = blocks;
  if (input.channel !== undefined) payload.channel = input.channel;
  if (input.username !== undefined) payload.username = input.username;
  if (input.iconEmoji !== undefined) payload.icon_emoji = input.iconEmoji;
  const bytes = Buffer.byteLength(JSON.stringify(payload));
  if (bytes > SLACK_LIMITS.payloadBytes)
    throw new ToolError(
      `blocks/text: payload of ${bytes} bytes exceeds ${SLACK_LIMITS.payloadBytes}`,
      'too_large',
    );
  return payload;
}

export interface SlackSenderOptions {
  /** Resolved at send time: the default sink URL is known only once the HTTP server listens. */
  webhookUrl: () => string;
  destination: 'sink' | 'webhook';
  maxTextChars: number;
  limiter: SendRateLimiter;
  stats: DeliveryStats;
}

/** POSTs Slack incoming-webhook payloads, exactly as Slack documents them, to the configured URL. */
export class SlackSender {
  constructor(private readonly opts: SlackSenderOptions) {}

  get destination(): 'sink' | 'webhook' {
    return this.opts.destination;
  }

  /** Host of the webhook URL (never the full URL: its path is the secret). */
  get webhookHost(): string {
    try {
      return new URL(this.opts.webhookUrl()).host;
    } catch {
      return '(not yet listening)';
    }
  }

  async send(input: SlackInput): Promise<SlackResult> {
    const payload = buildSlackPayload(input, this.opts.maxTextChars);
    const slot = this.opts.limiter.take();
    if (!slot.ok)
      throw new ToolError(
        `rate limit of ${this.opts.limiter.perMinute} messages per minute reached; retry after ${slot.retryAfterS} s`,
        'rate_limited',
      );
    const body = JSON.stringify(payload);
    let res: Response;
    try {
      res = await fetch(this.opts.webhookUrl(), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        // A webhook that redirects is misconfigured or hostile; never follow it elsewhere.
        redirect: 'error',
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      this.opts.stats.bump('slackFailed');
      throw new ToolError(
        `Slack webhook at ${this.webhookHost} unreachable: ${err instanceof Error ? err.message : String(err)}`,
        'slack_unreachable',
      );
    }
    const text = (await res.text()).slice(0, 200);
    if (res.status !== 200) {
      this.opts.stats.bump('slackFailed');
      throw new ToolError(
        `Slack webhook at ${this.webhookHost} answered HTTP ${res.status}: ${text}`,
        'slack_rejected',
      );
    }
    this.opts.stats.bump('slackSent');
    return {
      delivered: true,
      destination: this.opts.destination,
      webhookHost: this.webhookHost,
      httpStatus: res.status,
      response: text,
      payloadBytes: Buffer.byteLength(body),
      blockCount: payload.blocks?.length ?? 0,
      channel: payload.channel,
      sentAt: new Date().toISOString(),
    };
  }
}

/** A message the local Slack sink received. */
export interface SlackSinkRecord {
  seq: number;
  receivedAt: string;
  payload: SlackPayload;
}

/**
 * Stands in for Slack: records each webhook payload as a JSON line under the data folder and answers
 * like Slack (`200 ok`, or `400 invalid_payload` / `no_text`).
 */
export class SlackSink {
  private readonly file: string;
  private readonly recent: SlackSinkRecord[] = [];
  private seq = 0;

  constructor(
    dataDir: string,
    private readonly keep = 500,
  ) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.file = path.join(dataDir, 'slack-sink.jsonl');
    if (fs.existsSync(this.file)) {
      for (const line of fs.readFileSync(this.file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const r = JSON.parse(line) as SlackSinkRecord;
          this.remember(r);
          this.seq = Math.max(this.seq, r.seq);
        } catch {
          // torn line after a crash
        }
      }
    }
  }

  private remember(r: SlackSinkRecord) {
    this.recent.push(r);
    if (this.recent.length > this.keep) this.recent.shift();
  }

  /** Messages received (all runs). */
  get count(): number {
    return this.seq;
  }

  list(limit: number): SlackSinkRecord[] {
    return this.recent.slice(-Math.max(0, limit));
  }

  /** Adds `POST /sinks/slack` and `GET /sinks/slack?limit=N` to the server's HTTP app. */
  routes(app: express.Express): void {
    app.post('/sinks/slack', express.json({ limit: SLACK_LIMITS.payloadBytes * 2 }), (req, res) => {
      const body = req.body as Partial<SlackPayload> | undefined;
      if (!body || typeof body !== 'object' || Array.isArray(body)) {
        res.status(400).type('text/plain').send('invalid_payload');
        return;
      }
      if (typeof body.text !== 'string' && !Array.isArray(body.blocks)) {
        res.status(400).type('text/plain').send('no_text');
        return;
      }
      this.seq += 1;
      const record: SlackSinkRecord = {
        seq: this.seq,
        receivedAt: new Date().toISOString(),
        payload: body as SlackPayload,
      };
      fs.appendFileSync(this.file, JSON.stringify(record) + '\n');
      this.remember(record);
      res.status(200).type('text/plain').send('ok');
    });
    app.get('/sinks/slack', (req, res) => {
      const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 500);
      res.json({ count: this.count, messages: this.list(limit) });
    });
  }
}
