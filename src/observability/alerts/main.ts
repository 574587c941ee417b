import path from 'node:path';
import { z } from 'zod';
import { tokenSourceFromEnv } from '../../servers/kit/client-auth';
import { DEFAULT_PORTS, SERVER_GROUPS } from '../../shared/constants';
import { readMetricsAnnouncements } from '../metrics/endpoint';
import { AlertEvaluator, type AlertTarget } from './evaluator';
import { mcpNotifier } from './notifier';

/** Services of the local stack besides the MCP groups, with their default ports. */
const EXTRA_SERVICES: Record<string, { env: string; port: number }> = {
  'model-serving': { env: 'MCP_MODEL_SERVING_PORT', port: 8007 },
  workflow: { env: 'MCP_WORKFLOW_PORT', port: 8010 },
};

const configSchema = z.object({
  intervalS: z.coerce.number().positive().max(3600),
  p95Seconds: z.coerce.number().positive(),
  resourceRatio: z.coerce.number().gt(0).max(1),
  notificationUrl: z.string().url(),
  dashboard: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/),
  slackChannel: z.string().max(81).optional(),
  dataRoot: z.string(),
});
export type AlertsConfig = z.infer<typeof configSchema>;

function baseOf(mcpUrl: string): string {
  return mcpUrl.split(',')[0]!.trim().replace(/\/mcp\/?$/, '');
}

/**
 * Reads the evaluator's settings: `MCP_ALERT_INTERVAL_S` (15), `MCP_ALERT_P95_SECONDS` (10),
 * `MCP_ALERT_RESOURCE_RATIO` (0.9), `MCP_ALERT_DASHBOARD` ("Operations"), `MCP_ALERT_SLACK_CHANNEL`,
 * the notification server from `MCP_NOTIFICATION_ENDPOINTS` (as the stack sets it) or
 * `MCP_NOTIFICATION_PORT`, and `MCP_DATA_ROOT` (where workers announce their metrics URLs).
 */
export function alertsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AlertsConfig {
  const notificationBase = env.MCP_NOTIFICATION_ENDPOINTS
    ? baseOf(env.MCP_NOTIFICATION_ENDPOINTS)
    : `http://127.0.0.1:${env.MCP_NOTIFICATION_PORT ?? DEFAULT_PORTS.notification}`;
  const parsed = configSchema.safeParse({
    intervalS: env.MCP_ALERT_INTERVAL_S ?? 15,
    p95Seconds: env.MCP_ALERT_P95_SECONDS ?? 10,
    resourceRatio: env.MCP_ALERT_RESOURCE_RATIO ?? 0.9,
    notificationUrl: `${notificationBase}/mcp`,
    dashboard: env.MCP_ALERT_DASHBOARD ?? 'Operations',
    slackChannel: env.MCP_ALERT_SLACK_CHANNEL || undefined,
    dataRoot: env.MCP_DATA_ROOT ?? path.resolve('.data'),
  });
  if (!parsed.success) {
    const names: Record<string, string> = {
      intervalS: 'MCP_ALERT_INTERVAL_S',
      p95Seconds: 'MCP_ALERT_P95_SECONDS',
      resourceRatio: 'MCP_ALERT_RESOURCE_RATIO',
      notificationUrl: 'MCP_NOTIFICATION_ENDPOINTS/MCP_NOTIFICATION_PORT',
      dashboard: 'MCP_ALERT_DASHBOARD',
      slackChannel: 'MCP_ALERT_SLACK_CHANNEL',
    };
    throw new Error(`invalid alert evaluator settings: ${parsed.error.issues.map((i) => `${names[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/**
 * The stack's targets: every MCP server group and extra service (URL from `MCP_<G>_ENDPOINTS`, else
 * `MCP_<G>_PORT`, else its default port), and every worker that announced a metrics URL under
 * `<dataRoot>/run/` (a killed worker's file stays behind, so it is reported down, not forgotten).
 */
export function stackTargets(dataRoot: string, env: NodeJS.ProcessEnv = process.env): AlertTarget[] {
  const targets: AlertTarget[] = [];
  const server = (name: string, base: string) =>
    targets.push({ kind: 'server', name, healthUrl: `${base}/healthz`, metricsUrl: `${base}/metrics` });
  for (const g of SERVER_GROUPS) {
    const key = g.toUpperCase();
    const endpoints = env[`MCP_${key}_ENDPOINTS`];
    server(g, endpoints ? baseOf(endpoints) : `http://127.0.0.1:${env[`MCP_${key}_PORT`] ?? DEFAULT_PORTS[g]}`);
  }
  for (const [name, s] of Object.entries(EXTRA_SERVICES)) server(name, `http://127.0.0.1:${env[s.env] ?? s.port}`);
  for (const a of readMetricsAnnouncements(dataRoot, { includeDead: true })) targets.push({ kind: 'worker', name: a.group, metricsUrl: a.url });
  return targets;
}

async function run(): Promise<void> {
  const config = alertsConfigFromEnv();
  // The notification group's client (read/write on mcp:notification); MCP_CLIENT_ID/SECRET override it.
  const tokens = tokenSourceFromEnv('orchestrator-notification');
  tokens?.credentials();
  const notifier = mcpNotifier({ mcpUrl: config.notificationUrl, tokens });
  const evaluator = new AlertEvaluator({
    ...config,
    notifier,
    targets: () => stackTargets(config.dataRoot),
    serviceToken: process.env.MCP_SERVICE_TOKEN || undefined,
  });
  process.stderr.write(`alerts: every ${config.intervalS} s → ${config.notificationUrl} (dashboard "${config.dashboard}")\n`);
  evaluator.start();
  const stop = (signal: string) => {
    process.stderr.write(`alerts: ${signal}, stopping\n`);
    const timer = setTimeout(() => process.exit(0), 5000);
    timer.unref();
    void evaluator
      .stop()
      .then(() => notifier.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  run().catch((err: unknown) => {
    process.stderr.write(`alerts failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
