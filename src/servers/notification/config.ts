import path from 'node:path';
import { z } from 'zod';
import { type BaseServerConfig, loadBaseServerConfig } from '../kit';

/** Default TCP port of the notification MCP server. */
export const NOTIFICATION_DEFAULT_PORT = 8006;
/** Default port of the in-process SMTP sink. */
export const SMTP_SINK_DEFAULT_PORT = 2525;

const flag = z
  .enum(['0', '1', 'true', 'false'])
  .transform((v) => v === '1' || v === 'true')
  .optional();

const notificationEnvSchema = z.object({
  smtpUrl: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/, 'must look like smtp://host:port or smtps://host:port')
    .optional(),
  smtpFrom: z.string().default('mcp-orchestrator@localhost'),
  smtpSink: flag,
  smtpSinkHost: z.string().default('127.0.0.1'),
  smtpSinkPort: z.coerce.number().int().min(0).max(65535).default(SMTP_SINK_DEFAULT_PORT),
  smtpSinkDir: z.string().optional(),
  slackWebhookUrl: z.string().url().optional(),
  storageUrl: z.string().url().optional(),
  sendsPerMinute: z.coerce.number().int().positive().default(120),
  maxConcurrentSmtp: z.coerce.number().int().positive().max(20).default(2),
  maxRecipients: z.coerce.number().int().positive().max(500).default(50),
  maxAttachmentBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  maxSlackTextChars: z.coerce.number().int().positive().max(40_000).default(4000),
  historyPoints: z.coerce.number().int().min(2).max(10_000).default(240),
  maxSeries: z.coerce.number().int().positive().max(10_000).default(200),
  maxAlertRules: z.coerce.number().int().positive().max(10_000).default(200),
});

/** Everything the notification server needs, validated at start-up. */
export interface NotificationConfig {
  base: BaseServerConfig;
  /** SMTP server to send through; when absent and the sink runs, the sink's own URL. */
  smtpUrl?: string;
  /** Default sender address. */
  smtpFrom: string;
  /** Run the SMTP sink inside this process. */
  smtpSink: { enabled: boolean; host: string; port: number; dir: string };
  /** Slack incoming-webhook URL; absent: this server's own `POST /sinks/slack`. */
  slackWebhookUrl?: string;
  /** Storage server base URL for `storage://` attachments. */
  storageUrl?: string;
  limits: {
    sendsPerMinute: number;
    maxConcurrentSmtp: number;
    maxRecipients: number;
    maxAttachmentBytes: number;
    maxSlackTextChars: number;
    historyPoints: number;
    maxSeries: number;
    maxAlertRules: number;
  };
}

/**
 * Reads the notification server's configuration: the kit's `MCP_NOTIFICATION_*` base settings plus the
 * variables documented in this folder's README.md. The SMTP sink runs in-process unless
 * `MCP_SMTP_SINK=0`, or unless `MCP_SMTP_URL` points elsewhere and `MCP_SMTP_SINK` is not set.
 */
export function loadNotificationConfig(env: NodeJS.ProcessEnv = process.env): NotificationConfig {
  const base = loadBaseServerConfig('notification', NOTIFICATION_DEFAULT_PORT, env);
  const blank = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);
  const parsed = notificationEnvSchema.safeParse({
    smtpUrl: blank(env.MCP_SMTP_URL),
    smtpFrom: blank(env.MCP_SMTP_FROM),
    smtpSink: blank(env.MCP_SMTP_SINK),
    smtpSinkHost: blank(env.MCP_SMTP_SINK_HOST),
    smtpSinkPort: blank(env.MCP_SMTP_SINK_PORT),
    smtpSinkDir: blank(env.MCP_SMTP_SINK_DIR),
    slackWebhookUrl: blank(env.MCP_SLACK_WEBHOOK_URL),
    storageUrl: blank(env.MCP_STORAGE_URL),
    sendsPerMinute: blank(env.MCP_NOTIFY_SENDS_PER_MINUTE),
    maxConcurrentSmtp: blank(env.MCP_NOTIFY_MAX_CONCURRENT_SMTP),
    maxRecipients: blank(env.MCP_NOTIFY_MAX_RECIPIENTS),
    maxAttachmentBytes: blank(env.MCP_NOTIFY_MAX_ATTACHMENT_BYTES),
    maxSlackTextChars: blank(env.MCP_NOTIFY_MAX_SLACK_TEXT),
    historyPoints: blank(env.MCP_NOTIFY_HISTORY_POINTS),
    maxSeries: blank(env.MCP_NOTIFY_MAX_SERIES),
    maxAlertRules: blank(env.MCP_NOTIFY_MAX_ALERT_RULES),
  });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid notification server configuration: ${issues}`);
  }
  const e = parsed.data;
  return {
    base,
    smtpUrl: e.smtpUrl,
    smtpFrom: e.smtpFrom,
    smtpSink: {
      enabled: e.smtpSink ?? e.smtpUrl === undefined,
      host: e.smtpSinkHost,
      port: e.smtpSinkPort,
      dir: e.smtpSinkDir ?? path.join(base.dataDir, 'smtp-sink'),
    },
    slackWebhookUrl: e.slackWebhookUrl,
    storageUrl: e.storageUrl,
    limits: {
      sendsPerMinute: e.sendsPerMinute,
      maxConcurrentSmtp: e.maxConcurrentSmtp,
      maxRecipients: e.maxRecipients,
      maxAttachmentBytes: e.maxAttachmentBytes,
      maxSlackTextChars: e.maxSlackTextChars,
      historyPoints: e.historyPoints,
      maxSeries: e.maxSeries,
      maxAlertRules: e.maxAlertRules,
    },
  };
}

/** Overrides for in-process starts (tests, the test stack) on top of a kit base config. */
export interface NotificationOverrides {
  smtpUrl?: string;
  smtpFrom?: string;
  smtpSink?: Partial<NotificationConfig['smtpSink']>;
  slackWebhookUrl?: string;
  storageUrl?: string;
  limits?: Partial<NotificationConfig['limits']>;
}

/** What `startNotificationServer` accepts: a full config, or a kit base config plus overrides. */
export type NotificationServerConfig = NotificationConfig | (BaseServerConfig & NotificationOverrides);

/**
 * Normalises either form to a full {@link NotificationConfig}; unset fields take the documented
 * defaults (env is not read for them), so `{ host, port: 0, dataDir, smtpSink: { port: 0 } }` is enough.
 */
export function resolveNotificationConfig(c: NotificationServerConfig): NotificationConfig {
  if ('base' in c) return c;
  const { smtpUrl, smtpFrom, smtpSink, slackWebhookUrl, storageUrl, limits, ...base } = c;
  const defaults = loadNotificationConfig({
    MCP_NOTIFICATION_DATA_DIR: base.dataDir,
    MCP_NOTIFICATION_PORT: String(base.port),
    ...(smtpUrl ? { MCP_SMTP_URL: smtpUrl } : {}),
  });
  return {
    ...defaults,
    base,
    smtpUrl,
    smtpFrom: smtpFrom ?? defaults.smtpFrom,
    smtpSink: { ...defaults.smtpSink, ...smtpSink },
    slackWebhookUrl,
    storageUrl,
    limits: { ...defaults.limits, ...limits },
  };
}
