/**
 * Input and output shapes of the notification server's tools. Every field is described: the
 * descriptions are what an agent or the orchestrator's discovery reads.
 */
import { z } from 'zod';
import { AGGREGATIONS, CHANNELS, COMPARATORS, SEVERITIES } from './alert-engine';

const METRIC_NAME = /^[A-Za-z_:][A-Za-z0-9_:.-]{0,127}$/;
const LABEL_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const DASHBOARD_NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;
const ALERT_ID = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

const metricName = z
  .string()
  .regex(METRIC_NAME, 'metric names are letters, digits, _ : . - (start with a letter, _ or :), at most 128');
const labels = z
  .record(
    z.string().regex(LABEL_KEY, 'label keys are letters, digits and _'),
    z.string().max(256).describe('Label value.'),
  )
  .refine((l) => Object.keys(l).length <= 16, 'at most 16 labels');
const dashboardName = z
  .string()
  .regex(DASHBOARD_NAME, 'dashboard names are letters, digits, space _ . - (at most 64)');
const iso = z.string().describe('ISO-8601 time.');

// ---------------------------------------------------------------------------------------------------
// send_email

export const attachmentInput = z.object({
  filename: z
    .string()
    .min(1)
    .max(255)
    .describe('File name shown to the recipient, without any path (e.g. "model_metrics.json").'),
  contentType: z
    .string()
    .max(191)
    .optional()
    .describe('MIME type, e.g. "application/json". Default application/octet-stream.'),
  contentBase64: z.string().optional().describe('The bytes, base64-encoded. Give this or `uri`, not both.'),
  uri: z
    .string()
    .max(1024)
    .optional()
    .describe(
      'A storage object to attach, "storage://<key>", fetched from the storage server. Give this or `contentBase64`.',
    ),
});

export const sendEmailInput = {
  to: z
    .array(z.string().max(320))
    .min(1)
    .max(500)
    .describe('Recipients: "ops@example.com" or "Ops Team <ops@example.com>", one mailbox per item.'),
  cc: z.array(z.string().max(320)).max(500).optional().describe('Carbon-copy recipients, same form as `to`.'),
  bcc: z
    .array(z.string().max(320))
    .max(500)
    .optional()
    .describe('Blind-copy recipients (envelope only, never in headers).'),
  from: z.string().max(320).optional().describe("Sender mailbox; default the server's MCP_SMTP_FROM."),
  replyTo: z.string().max(320).optional().describe('Reply-To mailbox.'),
  subject: z.string().max(998).describe('Subject line: one line, no CR/LF (header injection is refused).'),
  text: z
    .string()
    .max(1_000_000)
    .optional()
    .describe('Plain-text body. Line breaks are fine here: the body cannot reach the headers.'),
  html: z
    .string()
    .max(1_000_000)
    .optional()
    .describe('HTML body (remote resources are not fetched by the server).'),
  headers: z
    .record(z.string(), z.string().max(998))
    .optional()
    .describe('Extra headers; names must be X-… (e.g. {"X-Run-Id": "wf-42"}), values one line.'),
  attachments: z
    .array(attachmentInput)
    .max(20)
    .optional()
    .describe('Files to attach (at most 20; total size capped by MCP_NOTIFY_MAX_ATTACHMENT_BYTES).'),
};

export const sendEmailOutput = {
  messageId: z
    .string()
    .describe('Message-ID header of the sent message (derived from the idempotency key when one is given).'),
  accepted: z.array(z.string()).describe('Recipients the SMTP server accepted.'),
  rejected: z.array(z.string()).describe('Recipients the SMTP server rejected.'),
  smtpResponse: z.string().describe("The SMTP server's final response line."),
  smtpServer: z.string().describe('smtp://host:port the message went through (no credentials).'),
  envelope: z
    .object({
      from: z.string().describe('MAIL FROM address.'),
      to: z.array(z.string()).describe('RCPT TO addresses.'),
    })
    .describe('SMTP envelope.'),
  sizeBytes: z.number().describe('Bytes of the message as streamed to the SMTP server.'),
  attachments: z
    .array(
      z.object({
        filename: z.string().describe('Attached file name.'),
        contentType: z.string().describe('MIME type.'),
        size: z.number().describe('Size in bytes.'),
        sha256: z.string().describe('SHA-256 of the attached bytes, to compare with the source.'),
        source: z.enum(['base64', 'storage']).describe('Where the bytes came from.'),
      }),
    )
    .describe('What was attached.'),
  sentAt: iso.describe('When the SMTP server accepted the message.'),
};

// ---------------------------------------------------------------------------------------------------
// send_slack

const BLOCK_TYPES = [
  'section',
  'header',
  'divider',
  'context',
  'actions',
  'image',
  'rich_text',
  'input',
  'file',
  'video',
  'markdown',
] as const;
export const slackBlock = z
  .looseObject({
    type: z.enum(BLOCK_TYPES).describe('Block Kit block type.'),
    block_id: z.string().max(255).optional().describe('Optional block id.'),
  })
  .describe(
    'A Block Kit block as Slack documents it (e.g. {"type":"section","text":{"type":"mrkdwn","text":"*done*"}}).',
  );

export const sendSlackInput = {
  text: z
    .string()
    .describe(
      'Message text (mrkdwn); also the notification/fallback text when blocks are given. Capped (MCP_NOTIFY_MAX_SLACK_TEXT, default 4000).',
    ),
  blocks: z.array(slackBlock).max(50).optional().describe('Block Kit blocks (at most 50).'),
  channel: z
    .string()
    .max(81)
    .optional()
    .describe(
      'Channel override, e.g. "#ml-team" or "C0123ABCD"; webhooks created for one channel may ignore it.',
    ),
  username: z.string().max(80).optional().describe('Display name override.'),
  iconEmoji: z.string().max(66).optional().describe('Icon override, e.g. ":robot_face:".'),
};

export const sendSlackOutput = {
  delivered: z.boolean().describe('True when the webhook answered 200.'),
  destination: z
    .enum(['sink', 'webhook'])
    .describe('"sink": this server\'s local Slack sink; "webhook": a configured real webhook.'),
  webhookHost: z.string().describe('Host of the webhook URL (the full URL is a secret and not shown).'),
  httpStatus: z.number().describe('HTTP status of the webhook response.'),
  response: z.string().describe('Webhook response body ("ok" from Slack), at most 200 characters.'),
  payloadBytes: z.number().describe('Size of the JSON payload posted.'),
  blockCount: z.number().describe('Number of blocks sent.'),
  channel: z.string().optional().describe('Channel override sent, if any.'),
  sentAt: iso.describe('When the webhook accepted the message.'),
};

// ---------------------------------------------------------------------------------------------------
// alerts

export const createAlertInput = {
  id: z
    .string()
    .regex(ALERT_ID, 'alert ids are lower-case letters, digits, _ . - (at most 64)')
    .optional()
    .describe(
      'Rule id; default derived from the name. Creating a rule with an existing id replaces it (state reset).',
    ),
  name: z.string().min(1).max(200).describe('Human-readable name, one line (used in e-mail subjects).'),
  metric: metricName.describe('Metric name the rule watches, as pushed by dashboard_update/record_metric.'),
  labels: labels
    .optional()
    .describe('Only series with all these label values match; default every series of the metric.'),
  dashboard: dashboardName.optional().describe('Only series on this dashboard match; default any dashboard.'),
  comparator: z
    .enum(COMPARATORS)
    .describe('gt, gte, lt, lte, eq or ne: how the (aggregated) value is compared with the threshold.'),
  threshold: z.number().describe('Threshold value.'),
  aggregation: z
    .enum(AGGREGATIONS)
    .default('last')
    .describe('last, avg, min or max over the window. Default last.'),
  windowS: z
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(0)
    .describe('Aggregation window in seconds ending at the newest sample; 0 = newest sample only.'),
  forS: z
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(0)
    .describe('The condition must hold this many seconds (by sample time) before firing; 0 = fire at once.'),
  cooldownS: z
    .number()
    .int()
    .min(0)
    .max(604_800)
    .default(300)
    .describe(
      'After a notification, a re-firing of the same series within this many seconds is recorded but not sent (de-duplication). A firing alert never re-sends until it resolves.',
    ),
  channels: z
    .array(z.enum(CHANNELS))
    .min(1)
    .max(2)
    .describe('Where firing notifications go: "email" and/or "slack".'),
  emailTo: z
    .array(z.string().max(320))
    .max(50)
    .optional()
    .describe('Recipients for the email channel (required when channels has "email").'),
  slackChannel: z
    .string()
    .max(81)
    .optional()
    .describe('Slack channel override for the slack channel, e.g. "#ml-team".'),
  notifyOnResolve: z.boolean().default(false).describe('Also notify when the alert resolves. Default false.'),
  severity: z
    .enum(SEVERITIES)
    .default('warning')
    .describe('info, warning or critical (shown in notifications).'),
};

const seriesState = z.object({
  seriesKey: z.string().describe('Series identity "dashboard|metric|labels".'),
  state: z.enum(['ok', 'pending', 'firing']).describe('State of this series under the rule.'),
  since: iso.describe('When the state began (sample time).'),
  lastValue: z.number().optional().describe('Last evaluated (aggregated) value.'),
  lastNotifiedAt: iso.optional().describe('When a notification last went out for this series.'),
  fireCount: z.number().describe('Times this series fired (sent or suppressed).'),
});

export const alertView = z.object({
  id: z.string().describe('Rule id.'),
  name: z.string().describe('Rule name.'),
  metric: z.string().describe('Watched metric.'),
  labels: z.record(z.string(), z.string()).describe('Label matcher.'),
  dashboard: z.string().optional().describe('Dashboard filter, if any.'),
  comparator: z.enum(COMPARATORS).describe('Comparator.'),
  threshold: z.number().describe('Threshold.'),
  aggregation: z.enum(AGGREGATIONS).describe('Aggregation over the window.'),
  windowS: z.number().describe('Window in seconds.'),
  forS: z.number().describe('Hold time in seconds before firing.'),
  cooldownS: z.number().describe('Notification cooldown in seconds.'),
  channels: z.array(z.enum(CHANNELS)).describe('Notification channels.'),
  emailTo: z.array(z.string()).describe('E-mail recipients.'),
  slackChannel: z.string().optional().describe('Slack channel override.'),
  notifyOnResolve: z.boolean().describe('Whether resolutions are notified.'),
  severity: z.enum(SEVERITIES).describe('Severity.'),
  createdAt: iso.describe('When the rule was created.'),
  state: z
    .enum(['ok', 'pending', 'firing'])
    .describe("Worst state over the rule's series (firing > pending > ok)."),
  fireCount: z.number().describe('Firings over all series since the rule was created.'),
  series: z.array(seriesState).describe('Per-series state (at most 20 listed).'),
  seriesCount: z.number().describe('Number of series the rule has evaluated.'),
});

export const createAlertOutput = {
  alert: alertView.describe('The stored rule and its (fresh) state.'),
  replaced: z.boolean().describe('True when a rule with this id existed and was replaced.'),
};

export const listAlertsInput = {
  state: z.enum(['ok', 'pending', 'firing']).optional().describe('Only rules in this state.'),
  limit: z.number().int().min(1).max(100).default(50).describe('At most this many rules (max 100).'),
};

export const listAlertsOutput = {
  alerts: z.array(alertView).describe('Rules with their state, sorted by id.'),
  total: z.number().describe('Rules stored (before the state filter and limit).'),
  truncated: z.boolean().describe('True when more rules matched than were returned.'),
};

export const deleteAlertInput = {
  id: z.string().max(64).describe('Id of the rule to delete.'),
};

export const deleteAlertOutput = {
  id: z.string().describe('Deleted rule id.'),
  deleted: z.boolean().describe('True: the rule and its state are gone (its history stays).'),
  remaining: z.number().describe('Rules left.'),
};

const delivery = z.object({
  channel: z.enum(CHANNELS).describe('Channel.'),
  ok: z.boolean().describe('Delivered.'),
  detail: z.string().describe('Message-ID / webhook response, or the error.'),
});

export const alertEvent = z.object({
  seq: z.number().describe('Sequence number (increasing).'),
  at: iso.describe('When the event was recorded.'),
  alertId: z.string().describe('Rule id.'),
  kind: z
    .enum(['pending', 'fired', 'suppressed', 'resolved'])
    .describe(
      'pending: condition started holding; fired: notified; suppressed: fired within cooldown, not sent; resolved: back to normal.',
    ),
  seriesKey: z.string().describe('Series identity.'),
  labels: z.record(z.string(), z.string()).describe('Series labels.'),
  value: z.number().describe('Evaluated value.'),
  threshold: z.number().describe('Rule threshold at the time.'),
  comparator: z.string().describe('Rule comparator at the time.'),
  sampleAt: iso.describe('Sample time that caused the event.'),
  deliveries: z.array(delivery).describe('Notifications sent for this event (empty when none were due).'),
});

export const listAlertEventsInput = {
  alertId: z.string().max(64).optional().describe('Only events of this rule.'),
  afterSeq: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Only events with a larger sequence number (for paging/polling).'),
  limit: z.number().int().min(1).max(200).default(50).describe('At most this many (newest), max 200.'),
};

export const listAlertEventsOutput = {
  events: z.array(alertEvent).describe('Events, oldest first.'),
  totalRecorded: z.number().describe('Events recorded since the data folder was created.'),
};

// ---------------------------------------------------------------------------------------------------
// metrics and dashboard

export const metricInput = z.object({
  name: metricName.describe('Metric name, e.g. "training_progress".'),
  value: z.number().describe('Sample value (finite).'),
  labels: labels.optional().describe('Labels, e.g. {"job": "train_job_892341"} (at most 16).'),
  timestamp: iso.optional().describe('Sample time; default now. At most 5 minutes in the future.'),
});

export const dashboardUpdateInput = {
  dashboard: dashboardName.describe('Dashboard to update, e.g. "ML Operations". Created on first use.'),
  metrics: z.array(metricInput).min(1).max(500).describe('Samples to push (at most 500 per call).'),
};

const firedSummary = z.object({
  alertId: z.string().describe('Rule id.'),
  kind: z.enum(['pending', 'fired', 'suppressed', 'resolved']).describe('Transition.'),
  seriesKey: z.string().describe('Series.'),
  value: z.number().describe('Evaluated value.'),
  deliveries: z.array(delivery).describe('Notifications sent.'),
});

const pushOutput = {
  accepted: z.number().describe('Samples stored.'),
  series: z
    .array(
      z.object({
        key: z.string().describe('Series identity.'),
        points: z.number().describe('Samples held for the series now.'),
        last: z.number().describe('Newest value.'),
      }),
    )
    .describe('Touched series (at most 50 listed).'),
  alertsEvaluated: z.number().describe('Rule × series evaluations this push caused.'),
  alertEvents: z.array(firedSummary).describe('Alert transitions this push caused, with their deliveries.'),
  dashboardUrl: z.string().describe('Where the live dashboard is served.'),
};

export const dashboardUpdateOutput = {
  dashboard: z.string().describe('Dashboard updated.'),
  ...pushOutput,
};

export const recordMetricInput = {
  name: metricName.describe('Metric name.'),
  value: z.number().describe('Sample value (finite).'),
  labels: labels.optional().describe('Labels (at most 16).'),
  timestamp: iso.optional().describe('Sample time; default now.'),
  dashboard: dashboardName.optional().describe('Dashboard to show it on; default "default".'),
};

export const recordMetricOutput = {
  dashboard: z.string().describe('Dashboard the sample landed on.'),
  ...pushOutput,
};

// ---------------------------------------------------------------------------------------------------
// server_info

export const serverInfoInput = {};

export const serverInfoOutput = {
  server: z.string().describe('Server name.'),
  version: z.string().describe('Server version.'),
  tools: z.array(z.string()).describe('Tool names.'),
  capabilities: z
    .object({
      email: z
        .object({
          smtpServer: z.string().describe('smtp://host:port used (no credentials).'),
          smtpSinkInProcess: z
            .boolean()
            .describe('True when this process runs the local SMTP sink and sends to it.'),
          attachmentsFromStorage: z
            .boolean()
            .describe('True when MCP_STORAGE_URL is configured for storage:// attachments.'),
        })
        .describe('E-mail channel.'),
      slack: z
        .object({
          destination: z
            .enum(['sink', 'webhook'])
            .describe('"sink" (local POST /sinks/slack) or "webhook" (configured URL).'),
          webhookHost: z.string().describe('Host the payloads go to.'),
        })
        .describe('Slack channel.'),
      dashboard: z
        .object({
          url: z.string().describe('Live dashboard page.'),
          eventsUrl: z.string().describe('SSE stream.'),
        })
        .describe('Dashboard.'),
      alerting: z
        .object({
          comparators: z.array(z.string()).describe('Supported comparators.'),
          aggregations: z.array(z.string()).describe('Supported aggregations.'),
          channels: z.array(z.string()).describe('Notification channels.'),
        })
        .describe('Alert rules.'),
      gpu: z.boolean().describe('False: nothing here uses a GPU, and this machine has none.'),
    })
    .describe('What the server can do.'),
  limits: z
    .object({
      rateLimitPerMinute: z
        .number()
        .describe('Outgoing messages (e-mail + Slack) per rolling minute, enforced.'),
      maxConcurrent: z.number().describe('Simultaneous SMTP connections (pool size), enforced.'),
      maxRecipients: z.number().describe('Recipients per e-mail.'),
      maxAttachmentBytes: z.number().describe('Total attachment bytes per e-mail.'),
      maxSlackTextChars: z.number().describe('Slack text cap.'),
      maxSeries: z.number().describe('Metric series held.'),
      historyPointsPerSeries: z.number().describe('Samples kept per series.'),
      maxAlertRules: z.number().describe('Alert rules stored.'),
      maxBodyBytes: z.number().describe('Largest HTTP request body.'),
    })
    .describe('Limits, as enforced.'),
  measured: z
    .object({
      alertRules: z.number().describe('Rules stored now.'),
      alertsFiring: z.number().describe('Rules with at least one firing series now.'),
      alertEventsRecorded: z.number().describe('Alert events recorded so far.'),
      metricSeries: z.number().describe('Series held now.'),
      metricPoints: z.number().describe('Samples held in memory now.'),
      dashboards: z.number().describe('Dashboards with at least one series.'),
      dashboardClients: z.number().describe('Live SSE clients connected now.'),
      emailsSent: z.number().describe('E-mails accepted by the SMTP server (persisted count).'),
      emailsFailed: z.number().describe('E-mail sends that failed.'),
      slackSent: z.number().describe('Slack messages accepted by the webhook.'),
      slackFailed: z.number().describe('Slack sends that failed.'),
      smtpSinkMessages: z
        .number()
        .optional()
        .describe('Messages stored by the in-process SMTP sink (all runs), when it runs.'),
      sendsInLastMinute: z.number().describe('Rate-limit slots used in the current window.'),
      dataDirFreeBytes: z.number().describe("Free bytes on the data folder's file system (statfs)."),
      cpuCount: z.number().describe('CPUs on this machine.'),
      loadAvg1m: z.number().describe('1-minute load average.'),
      uptimeS: z.number().describe('Seconds since the server started.'),
    })
    .describe('Facts measured live on this machine.'),
};
