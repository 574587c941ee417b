import crypto from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { ObjectStoreClient, OBJECT_URI_PREFIX, ToolError, serviceTokenFromEnv } from '../kit';
import {
  type Mailbox,
  UnsafeValueError,
  assertSafeFilename,
  assertSafeHeaders,
  assertSingleLine,
  normaliseBodyText,
  parseMailbox,
} from './header-safety';
import type { DeliveryStats, SendRateLimiter } from './send-limits';

/** An attachment as a caller gives it: inline base64 bytes or a storage object reference. */
export interface AttachmentInput {
  filename: string;
  contentType?: string;
  contentBase64?: string;
  uri?: string;
}

export interface EmailInput {
  to: string[];
  cc?: string[];
  bcc?: string[];
  from?: string;
  replyTo?: string;
  subject: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
  attachments?: AttachmentInput[];
}

export interface EmailResult {
  messageId: string;
  accepted: string[];
  rejected: string[];
  smtpResponse: string;
  smtpServer: string;
  envelope: { from: string; to: string[] };
  sizeBytes: number;
  attachments: {
    filename: string;
    contentType: string;
    size: number;
    sha256: string;
    source: 'base64' | 'storage';
  }[];
  sentAt: string;
}

export interface EmailSenderOptions {
  smtpUrl: string;
  defaultFrom: string;
  maxRecipients: number;
  maxAttachmentBytes: number;
  maxConcurrent: number;
  /** Storage server for `storage://` attachments; absent: such attachments are refused. */
  storageUrl?: string;
  limiter: SendRateLimiter;
  stats: DeliveryStats;
}

const CONTENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_SUBJECT = 998;

/** Host and port of an SMTP URL without its credentials, for reports. */
export function smtpServerLabel(smtpUrl: string): string {
  const u = new URL(smtpUrl);
  return `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'smtps:' ? '465' : '25')}`;
}

function toolErrorFrom(err: unknown): never {
  if (err instanceof UnsafeValueError) throw new ToolError(err.message, 'invalid_argument');
  throw err;
}

function formatMailbox(m: Mailbox): string | { name: string; address: string } {
  return m.name ? { name: m.name, address: m.address } : m.address;
}

/**
 * Sends e-mail over real SMTP through a pooled nodemailer transport (at most `maxConcurrent`
 * connections). Every caller-supplied value is checked before anything reaches the wire, and
 * nodemailer's file and URL access is switched off so no input can make it read a local file.
 */
export class EmailSender {
  private readonly transport: Transporter<SMTPPool.SentMessageInfo>;
  private readonly objects?: ObjectStoreClient;
  readonly server: string;

  constructor(private readonly opts: EmailSenderOptions) {
    this.server = smtpServerLabel(opts.smtpUrl);
    this.transport = nodemailer.createTransport({
      url: opts.smtpUrl,
      pool: true,
      maxConnections: opts.maxConcurrent,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    if (opts.storageUrl)
      this.objects = new ObjectStoreClient({
        baseUrl: opts.storageUrl,
        token: serviceTokenFromEnv(),
        timeoutMs: 30_000,
      });
  }

  /** Checks every field; returns parsed mailboxes. Throws ToolError naming the offending field. */
  validate(input: EmailInput): {
    from: Mailbox;
    to: Mailbox[];
    cc: Mailbox[];
    bcc: Mailbox[];
    replyTo?: Mailbox;
  } {
    try {
      const list = (field: string, items: string[] | undefined) =>
        (items ?? []).map((v, i) => parseMailbox(`${field}[${i}]`, v));
      const to = list('to', input.to);
      const cc = list('cc', input.cc);
      const bcc = list('bcc', input.bcc);
      if (to.length === 0) throw new ToolError('to: give at least one recipient address', 'invalid_argument');
      const total = to.length + cc.length + bcc.length;
      if (total > this.opts.maxRecipients) {
        throw new ToolError(
          `to/cc/bcc: ${total} recipients exceed the limit of ${this.opts.maxRecipients}; split the mailing`,
          'invalid_argument',
        );
      }
      const from = parseMailbox('from', input.from ?? this.opts.defaultFrom);
      const replyTo = input.replyTo !== undefined ? parseMailbox('replyTo', input.replyTo) : undefined;
      assertSingleLine('subject', input.subject);
      if (input.subject.length > MAX_SUBJECT)
        throw new ToolError(
          `subject: ${input.subject.length} characters exceed ${MAX_SUBJECT}`,
          'invalid_argument',
        );
      if (input.headers) assertSafeHeaders('headers', input.headers);
      if (input.text === undefined && input.html === undefined)
        throw new ToolError('text/html: give a text body, an HTML body, or both', 'invalid_argument');
      for (const [i, a] of (input.attachments ?? []).entries()) {
        assertSafeFilename(`attachments[${i}].filename`, a.filename);
        if (a.contentType !== undefined && !CONTENT_TYPE.test(a.contentType)) {
          throw new ToolError(
            `attachments[${i}].contentType: "${a.contentType}" is not a MIME type like application/pdf`,
            'invalid_argument',
          );
        }
        if ((a.contentBase64 === undefined) === (a.uri === undefined)) {
          throw new ToolError(
            `attachments[${i}]: give exactly one of contentBase64 or uri`,
            'invalid_argument',
          );
        }
      }
      return { from, to, cc, bcc, replyTo };
    } catch (err) {
      return toolErrorFrom(err);
    }
  }

  private async loadAttachments(inputs: AttachmentInput[]) {
    let total = 0;
    const out: {
      filename: string;
      contentType: string;
      content: Buffer;
      sha256: string;
      source: 'base64' | 'storage';
    }[] = [];
    for (const [i, a] of inputs.entries()) {
      let content: Buffer;
      let source: 'base64' | 'storage';
      if (a.contentBase64 !== undefined) {
        const b64 = a.contentBase64.replace(/\s+/g, '');
        if (!BASE64.test(b64))
          throw new ToolError(`attachments[${i}].contentBase64: not valid base64`, 'invalid_argument');
        content = Buffer.from(b64, 'base64');
        source = 'base64';
      } else {
        const uri = a.uri as string;
        if (!uri.startsWith(OBJECT_URI_PREFIX))
          throw new ToolError(
            `attachments[${i}].uri: "${uri}" is not a storage://<key> URI`,
            'invalid_argument',
          );
        if (!this.objects)
          throw new ToolError(
            `attachments[${i}].uri: storage attachments need MCP_STORAGE_URL configured on the notification server`,
            'not_configured',
          );
        try {
          content = Buffer.from((await this.objects.get(uri)).bytes);
        } catch (err) {
          throw new ToolError(
            `attachments[${i}].uri: could not fetch ${uri}: ${err instanceof Error ? err.message : String(err)}`,
            'attachment_unavailable',
          );
        }
        source = 'storage';
      }
      total += content.length;
      if (total > this.opts.maxAttachmentBytes) {
        throw new ToolError(
          `attachments: total size passes the limit of ${this.opts.maxAttachmentBytes} bytes at attachments[${i}]`,
          'too_large',
        );
      }
      out.push({
        filename: a.filename,
        contentType: a.contentType ?? 'application/octet-stream',
        content,
        sha256: crypto.createHash('sha256').update(content).digest('hex'),
        source,
      });
    }
    return out;
  }

  /**
   * Sends one message. With an idempotency key the Message-ID is derived from it, so even a send that
   * is repeated after a crash (before the idempotency record was written) carries the same Message-ID
   * and receivers can drop the duplicate.
   */
  async send(input: EmailInput, idempotencyKey?: string): Promise<EmailResult> {
    const v = this.validate(input);
    const attachments = await this.loadAttachments(input.attachments ?? []);
    const slot = this.opts.limiter.take();
    if (!slot.ok)
      throw new ToolError(
        `rate limit of ${this.opts.limiter.perMinute} messages per minute reached; retry after ${slot.retryAfterS} s`,
        'rate_limited',
      );
    const messageId = idempotencyKey
      ? `<${crypto.createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 40)}@notification.mcp-orchestrator>`
      : undefined;
    let info: SMTPPool.SentMessageInfo;
    try {
      info = await this.transport.sendMail({
        from: formatMailbox(v.from),
        to: v.to.map(formatMailbox),
        cc: v.cc.length ? v.cc.map(formatMailbox) : undefined,
        bcc: v.bcc.length ? v.bcc.map(formatMailbox) : undefined,
        replyTo: v.replyTo ? formatMailbox(v.replyTo) : undefined,
        subject: input.subject,
        text: input.text !== undefined ? normaliseBodyText(input.text) : undefined,
        html: input.html,
        headers: input.headers,
        messageId,
        attachments: attachments.map((a) => ({
          filename: a.filename,
          content: a.content,
          contentType: a.contentType,
        })),
        disableFileAccess: true,
        disableUrlAccess: true,
      });
    } catch (err) {
      this.opts.stats.bump('emailsFailed');
      throw new ToolError(
        `SMTP delivery through ${this.server} failed: ${err instanceof Error ? err.message : String(err)}`,
        'smtp_failed',
      );
    }
    this.opts.stats.bump('emailsSent');
    return {
      messageId: info.messageId,
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
      smtpResponse: info.response,
      smtpServer: this.server,
      envelope: { from: String(info.envelope.from), to: info.envelope.to.map(String) },
      sizeBytes: info.messageSize,
      attachments: attachments.map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        size: a.content.length,
        sha256: a.sha256,
        source: a.source,
      })),
      sentAt: new Date().toISOString(),
    };
  }

  close(): void {
    this.transport.close();
  }
}
