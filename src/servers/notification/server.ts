import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type IdempotencyStore, ToolError, registerTool, MCP_SERVER_OPTIONS } from '../kit';
import { AGGREGATIONS, type AlertRule, type AlertStateName, CHANNELS, COMPARATORS } from './alert-engine';
import type { AlertService } from './alert-service';
import type { AlertEvent, AlertStore } from './alert-store';
import type { NotificationConfig } from './config';
import type { Dashboard } from './dashboard';
import type { EmailSender } from './email';
import { UnsafeValueError, assertSingleLine, parseMailbox } from './header-safety';
import { DEFAULT_DASHBOARD, type MetricInput, type MetricStore } from './metric-store';
import type { DeliveryStats, SendRateLimiter } from './send-limits';
import { type SlackSender, isValidChannel } from './slack';
import type { RunningSmtpSink } from './smtp-sink';
import * as s from './schemas';

export const NOTIFICATION_SERVER_NAME = 'notification';
export const NOTIFICATION_SERVER_VERSION = '0.1.0';

/** Backends created once per process and shared by every per-request McpServer. */
export interface NotificationDeps {
  version: string;
  config: NotificationConfig;
  email: EmailSender;
  slack: SlackSender;
  metrics: MetricStore;
  alerts: AlertStore;
  alertService: AlertService;
  dashboard: Dashboard;
  stats: DeliveryStats;
  limiter: SendRateLimiter;
  idempotency: IdempotencyStore;
  /** The in-process SMTP sink, when it runs. */
  sink?: RunningSmtpSink;
  /** Base URL of this server once it listens (e.g. http://127.0.0.1:8006). */
  baseUrl: () => string;
  startedAt: number;
}

const TOOL_NAMES = [
  'send_email',
  'send_slack',
  'create_alert',
  'list_alerts',
  'delete_alert',
  'list_alert_events',
  'dashboard_update',
  'record_metric',
  'server_info',
] as const;

const STATE_RANK: Record<AlertStateName, number> = { ok: 0, pending: 1, firing: 2 };

function alertIdFromName(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return slug || `alert-${crypto.createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

function viewAlert(rule: AlertRule, alerts: AlertStore) {
  const states = [...alerts.statesOf(rule.id).entries()];
  let worst: AlertStateName = 'ok';
  let fireCount = 0;
  for (const [, st] of states) {
    if (STATE_RANK[st.state] > STATE_RANK[worst]) worst = st.state;
    fireCount += st.fireCount;
  }
  return {
    ...rule,
    state: worst,
    fireCount,
    seriesCount: states.length,
    series: states
      .sort(([, a], [, b]) => STATE_RANK[b.state] - STATE_RANK[a.state])
      .slice(0, 20)
      .map(([seriesKey, st]) => ({
        seriesKey,
        state: st.state,
        since: new Date(st.since).toISOString(),
        lastValue: st.lastValue,
        lastNotifiedAt:
          st.lastNotifiedAt !== undefined ? new Date(st.lastNotifiedAt).toISOString() : undefined,
        fireCount: st.fireCount,
      })),
  };
}

function summariseEvent(e: AlertEvent) {
  return {
    alertId: e.alertId,
    kind: e.kind,
    seriesKey: e.seriesKey,
    value: e.value,
    deliveries: e.deliveries,
  };
}

/** Stores samples, evaluates alert rules on them (sending what fires), and reports what happened. */
async function push(deps: NotificationDeps, dashboard: string, metrics: MetricInput[]) {
  const added = deps.metrics.push(dashboard, metrics);
  const touched = [...new Map(added.map((a) => [a.series.key, a.series])).values()];
  const { evaluated, events } = await deps.alertService.evaluate(touched);
  return {
    dashboard,
    accepted: added.length,
    series: touched
      .slice(0, 50)
      .map((t) => ({ key: t.key, points: t.points.length, last: t.points[t.points.length - 1]?.v ?? 0 })),
    alertsEvaluated: evaluated,
    alertEvents: events.map(summariseEvent),
    dashboardUrl: `${deps.baseUrl()}/dashboard`,
  };
}

/**
 * Builds the notification MCP server: e-mail over SMTP, Slack webhooks, alert rules evaluated on
 * pushed metrics, and the live dashboard's data. Called per HTTP request; all state lives in `deps`.
 */
export function buildServer(deps: NotificationDeps): McpServer {
  const server = new McpServer({ name: NOTIFICATION_SERVER_NAME, version: deps.version }, MCP_SERVER_OPTIONS);
  const idempotency = deps.idempotency;

  registerTool(
    server,
    'send_email',
    {
      title: 'Send e-mail',
      description:
        'Sends an e-mail over SMTP (the configured server; by default the local SMTP sink, which stores each message as .eml). ' +
        'Attachments come inline as base64 or by reference as storage://<key>. CR/LF in addresses, subject or headers is refused. ' +
        'Send _meta.idempotencyKey so a retried call sends one message.',
      inputSchema: s.sendEmailInput,
      outputSchema: s.sendEmailOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
      idempotency,
    },
    async (args, ctx) => deps.email.send(args, ctx.idempotencyKey),
  );

  registerTool(
    server,
    'send_slack',
    {
      title: 'Send Slack message',
      description:
        'Posts a Slack incoming-webhook message (text plus optional Block Kit blocks) to the configured webhook; by default the ' +
        "server's own Slack sink (GET /sinks/slack lists what arrived). Send _meta.idempotencyKey so a retried call posts once.",
      inputSchema: s.sendSlackInput,
      outputSchema: s.sendSlackOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
      idempotency,
    },
    async (args) => deps.slack.send(args),
  );

  registerTool(
    server,
    'create_alert',
    {
      title: 'Create alert rule',
      description:
        'Creates (or replaces, by id) an alert rule on a metric: comparator and threshold over the newest value or an aggregation ' +
        'window, an optional hold time (forS) and a notification cooldown. Every dashboard_update/record_metric push evaluates ' +
        'the rules; a firing rule sends e-mail and/or Slack once until it resolves.',
      inputSchema: s.createAlertInput,
      outputSchema: s.createAlertOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
      idempotency,
    },
    async (args) => {
      const id = args.id ?? alertIdFromName(args.name);
      try {
        assertSingleLine('name', args.name);
      } catch (err) {
        throw new ToolError((err as UnsafeValueError).message, 'invalid_argument');
      }
      const channels = [...new Set(args.channels)];
      const emailTo = args.emailTo ?? [];
      if (channels.includes('email')) {
        if (emailTo.length === 0)
          throw new ToolError(
            'emailTo: give at least one recipient when channels includes "email"',
            'invalid_argument',
          );
        for (const [i, addr] of emailTo.entries()) {
          try {
            parseMailbox(`emailTo[${i}]`, addr);
          } catch (err) {
            if (err instanceof UnsafeValueError) throw new ToolError(err.message, 'invalid_argument');
            throw err;
          }
        }
      }
      if (args.slackChannel !== undefined && !isValidChannel(args.slackChannel)) {
        throw new ToolError(
          `slackChannel: "${args.slackChannel}" is not a Slack channel name (e.g. #ml-team) or id`,
          'invalid_argument',
        );
      }
      if (!deps.alerts.get(id) && deps.alerts.ruleCount >= deps.config.limits.maxAlertRules) {
        throw new ToolError(
          `create_alert: ${deps.alerts.ruleCount} rules stored, the cap is ${deps.config.limits.maxAlertRules}; delete some first`,
          'too_many_rules',
        );
      }
      const rule: AlertRule = {
        id,
        name: args.name,
        metric: args.metric,
        labels: args.labels ?? {},
        dashboard: args.dashboard,
        comparator: args.comparator,
        threshold: args.threshold,
        aggregation: args.aggregation,
        windowS: args.windowS,
        forS: args.forS,
        cooldownS: args.cooldownS,
        channels,
        emailTo,
        slackChannel: args.slackChannel,
        notifyOnResolve: args.notifyOnResolve,
        severity: args.severity,
        createdAt: new Date().toISOString(),
      };
      const { replaced } = deps.alerts.put(rule);
      return { alert: viewAlert(rule, deps.alerts), replaced };
    },
  );

  registerTool(
    server,
    'list_alerts',
    {
      title: 'List alert rules',
      description:
        'Lists alert rules with their current state (ok/pending/firing per series), fire counts and last notification.',
      inputSchema: s.listAlertsInput,
      outputSchema: s.listAlertsOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const all = deps.alerts
        .list()
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((r) => viewAlert(r, deps.alerts));
      const matching = args.state ? all.filter((a) => a.state === args.state) : all;
      return {
        alerts: matching.slice(0, args.limit),
        total: all.length,
        truncated: matching.length > args.limit,
      };
    },
  );

  registerTool(
    server,
    'delete_alert',
    {
      title: 'Delete alert rule',
      description: 'Deletes an alert rule and its state; its firing history stays in list_alert_events.',
      inputSchema: s.deleteAlertInput,
      outputSchema: s.deleteAlertOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      idempotency,
    },
    async (args) => {
      if (!deps.alerts.delete(args.id)) {
        const known = deps.alerts
          .list()
          .map((r) => r.id)
          .slice(0, 10);
        throw new ToolError(
          `id: no alert rule "${args.id}"; known ids: ${known.length ? known.join(', ') : '(none)'}`,
          'not_found',
        );
      }
      return { id: args.id, deleted: true, remaining: deps.alerts.ruleCount };
    },
  );

  registerTool(
    server,
    'list_alert_events',
    {
      title: 'List alert events',
      description:
        'Firing history: pending, fired (with delivery results per channel), suppressed (cooldown) and resolved events, oldest first.',
      inputSchema: s.listAlertEventsInput,
      outputSchema: s.listAlertEventsOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => ({
      events: deps.alerts.listEvents({ alertId: args.alertId, afterSeq: args.afterSeq, limit: args.limit }),
      totalRecorded: deps.alerts.eventCount,
    }),
  );

  registerTool(
    server,
    'dashboard_update',
    {
      title: 'Update dashboard',
      description:
        'Pushes metric samples (name, value, labels, optional timestamp) to a named dashboard. The live page at GET /dashboard ' +
        'updates within a second over SSE; samples are kept (bounded) and persisted. Every push evaluates the alert rules and ' +
        'sends what fires.',
      inputSchema: s.dashboardUpdateInput,
      outputSchema: s.dashboardUpdateOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
      idempotency,
    },
    async (args) => push(deps, args.dashboard, args.metrics),
  );

  registerTool(
    server,
    'record_metric',
    {
      title: 'Record metric',
      description: `Records one metric sample (on the "${DEFAULT_DASHBOARD}" dashboard unless one is named) and evaluates the alert rules on it.`,
      inputSchema: s.recordMetricInput,
      outputSchema: s.recordMetricOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
      idempotency,
    },
    async (args) =>
      push(deps, args.dashboard ?? DEFAULT_DASHBOARD, [
        { name: args.name, value: args.value, labels: args.labels, timestamp: args.timestamp },
      ]),
  );

  registerTool(
    server,
    'server_info',
    {
      title: 'Server info',
      description:
        'Version, tools, configured channels (SMTP host, Slack sink or webhook), limits as enforced, and live counts measured now.',
      inputSchema: s.serverInfoInput,
      outputSchema: s.serverInfoOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      const c = deps.config;
      const counts = deps.stats.snapshot;
      const firing = deps.alerts.list().filter((r) => viewAlert(r, deps.alerts).state === 'firing').length;
      const fsStats = fs.statfsSync(c.base.dataDir);
      return {
        server: NOTIFICATION_SERVER_NAME,
        version: deps.version,
        tools: [...TOOL_NAMES],
        capabilities: {
          email: {
            smtpServer: deps.email.server,
            smtpSinkInProcess: deps.sink !== undefined,
            attachmentsFromStorage: c.storageUrl !== undefined,
          },
          slack: { destination: deps.slack.destination, webhookHost: deps.slack.webhookHost },
          dashboard: { url: `${deps.baseUrl()}/dashboard`, eventsUrl: `${deps.baseUrl()}/dashboard/events` },
          alerting: {
            comparators: [...COMPARATORS],
            aggregations: [...AGGREGATIONS],
            channels: [...CHANNELS],
          },
          gpu: false,
        },
        limits: {
          rateLimitPerMinute: c.limits.sendsPerMinute,
          maxConcurrent: c.limits.maxConcurrentSmtp,
          maxRecipients: c.limits.maxRecipients,
          maxAttachmentBytes: c.limits.maxAttachmentBytes,
          maxSlackTextChars: c.limits.maxSlackTextChars,
          maxSeries: c.limits.maxSeries,
          historyPointsPerSeries: c.limits.historyPoints,
          maxAlertRules: c.limits.maxAlertRules,
          maxBodyBytes: c.base.maxBodyBytes,
        },
        measured: {
          alertRules: deps.alerts.ruleCount,
          alertsFiring: firing,
          alertEventsRecorded: deps.alerts.eventCount,
          metricSeries: deps.metrics.seriesCount,
          metricPoints: deps.metrics.pointCount,
          dashboards: deps.metrics.dashboards.length,
          dashboardClients: deps.dashboard.clientCount,
          emailsSent: counts.emailsSent,
          emailsFailed: counts.emailsFailed,
          slackSent: counts.slackSent,
          slackFailed: counts.slackFailed,
          smtpSinkMessages: deps.sink ? deps.sink.list(1_000_000).length : undefined,
          sendsInLastMinute: deps.limiter.used,
          dataDirFreeBytes: Number(fsStats.bavail) * Number(fsStats.bsize),
          cpuCount: os.cpus().length,
          loadAvg1m: os.loadavg()[0] ?? 0,
          uptimeS: (Date.now() - deps.startedAt) / 1000,
        },
      };
    },
  );

  return server;
}
