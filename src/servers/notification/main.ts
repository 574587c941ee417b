import fs from 'node:fs';
import path from 'node:path';
import {
  IdempotencyStore,
  type RunningServer,
  logger,
  runServerMain,
  startMcpHttpServer,
} from '../kit';
import { authSettingsFromEnv, type McpAuthOption } from '../kit/auth';
import { AlertService } from './alert-service';
import { AlertStore } from './alert-store';
import { type NotificationServerConfig, loadNotificationConfig, resolveNotificationConfig } from './config';
import { Dashboard } from './dashboard';
import { EmailSender } from './email';
import { MetricStore } from './metric-store';
import { DeliveryStats, SendRateLimiter } from './send-limits';
import {
  NOTIFICATION_SERVER_NAME,
  NOTIFICATION_SERVER_VERSION,
  type NotificationDeps,
  buildServer,
} from './server';
import { SlackSender, SlackSink } from './slack';
import { type RunningSmtpSink, startSmtpSink } from './smtp-sink';

export interface StartNotificationOptions {
  /** Authenticates `/mcp` requests: an authenticator or kit auth settings (entry point: from `MCP_AUTH*`). */
  auth?: McpAuthOption;
}

export interface RunningNotificationServer {
  server: RunningServer;
  /** The in-process SMTP sink, when it runs. */
  smtpSink?: RunningSmtpSink;
  close(): Promise<void>;
}

/**
 * Starts the notification server: MCP tools on `/mcp`, the live dashboard on `/dashboard`, the local
 * Slack sink on `/sinks/slack` (when no real webhook is configured), and, unless disabled, an
 * in-process SMTP sink that `send_email` delivers to. Takes the env-derived config
 * ({@link loadNotificationConfig}) or a kit base config plus overrides; tests pass port 0 for both
 * the server and `smtpSink`.
 */
export async function startNotificationServer(
  input: NotificationServerConfig,
  opts: StartNotificationOptions = {},
): Promise<RunningNotificationServer> {
  const config = resolveNotificationConfig(input);
  const log = logger(NOTIFICATION_SERVER_NAME);
  const dataDir = path.resolve(config.base.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });

  const sink = config.smtpSink.enabled
    ? await startSmtpSink({
        port: config.smtpSink.port,
        dir: path.resolve(config.smtpSink.dir),
        host: config.smtpSink.host,
      })
    : undefined;
  const smtpUrl = config.smtpUrl ?? sink?.url;
  if (!smtpUrl) {
    throw new Error(
      'MCP_SMTP_URL is unset and MCP_SMTP_SINK=0: set MCP_SMTP_URL (e.g. smtp://127.0.0.1:2525) or enable the sink',
    );
  }
  if (config.smtpUrl && sink)
    log.info('SMTP sink runs but MCP_SMTP_URL points elsewhere; mail goes to MCP_SMTP_URL', {
      sink: sink.url,
    });

  let baseUrl = '';
  const stats = new DeliveryStats(dataDir);
  const limiter = new SendRateLimiter(config.limits.sendsPerMinute);
  const email = new EmailSender({
    smtpUrl,
    defaultFrom: config.smtpFrom,
    maxRecipients: config.limits.maxRecipients,
    maxAttachmentBytes: config.limits.maxAttachmentBytes,
    maxConcurrent: config.limits.maxConcurrentSmtp,
    storageUrl: config.storageUrl,
    limiter,
    stats,
  });
  const slackSink = config.slackWebhookUrl ? undefined : new SlackSink(dataDir);
  const slack = new SlackSender({
    webhookUrl: () => config.slackWebhookUrl ?? `${baseUrl}/sinks/slack`,
    destination: config.slackWebhookUrl ? 'webhook' : 'sink',
    maxTextChars: config.limits.maxSlackTextChars,
    limiter,
    stats,
  });
  const metrics = new MetricStore(dataDir, config.limits.historyPoints, config.limits.maxSeries);
  const alerts = new AlertStore(dataDir);
  const alertService = new AlertService(alerts, email, slack);
  const dashboard = new Dashboard(metrics, alerts, alertService);

  const deps: NotificationDeps = {
    version: NOTIFICATION_SERVER_VERSION,
    config,
    email,
    slack,
    metrics,
    alerts,
    alertService,
    dashboard,
    stats,
    limiter,
    idempotency: new IdempotencyStore(path.join(dataDir, 'idempotency')),
    sink,
    baseUrl: () => baseUrl,
    startedAt: Date.now(),
  };

  let server: RunningServer;
  try {
    server = await startMcpHttpServer({
      name: NOTIFICATION_SERVER_NAME,
      version: NOTIFICATION_SERVER_VERSION,
      config: { ...config.base, dataDir },
      buildServer: () => buildServer(deps),
      auth: opts.auth,
      routes: (app) => {
        slackSink?.routes(app);
        dashboard.routes(app);
      },
      health: () => ({
        smtp: email.server,
        slack: slack.destination,
        alertRules: alerts.ruleCount,
        metricSeries: metrics.seriesCount,
      }),
    });
  } catch (err) {
    email.close();
    await sink?.close();
    throw err;
  }
  baseUrl = server.url;
  return {
    server,
    smtpSink: sink,
    close: async () => {
      dashboard.close();
      await server.close();
      email.close();
      await sink?.close();
    },
  };
}

if (require.main === module) {
  runServerMain(NOTIFICATION_SERVER_NAME, () =>
    startNotificationServer(loadNotificationConfig(), { auth: authSettingsFromEnv() }),
  );
}
