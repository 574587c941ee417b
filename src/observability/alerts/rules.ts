/** The pushed gauges the rules watch (names on the notification server). */
export const ALERT_METRICS = {
  /** 1 when the server's `/healthz` answered 200 this tick, else 0 (label `server`). */
  serverUp: 'mcp_server_up',
  /** 1 when the worker's `/metrics` answered this tick, else 0 (label `worker`). */
  workerUp: 'mcp_worker_up',
  /** p95 of tool latency over the last tick's calls, seconds (labels `target`, `tool`, `side`). */
  toolP95: 'mcp_tool_latency_p95_seconds',
  /** Fraction of a resource in use, 0..1 (labels `target`, `resource`, maybe `endpoint`). */
  resourceUsage: 'mcp_resource_usage_ratio',
  /** Breaker per worker endpoint: 0 closed, 1 half-open, 2 open (dashboard only). */
  breakerState: 'mcp_breaker_state',
} as const;

export interface AlertThresholds {
  /** Seconds between samples: "for two samples" means `forS` = one interval. */
  intervalS: number;
  /** Tool p95 latency above this many seconds alerts. */
  p95Seconds: number;
  /** Resource usage above this ratio (RSS vs memory limit, heap vs heap limit, disk, rate budget) alerts. */
  resourceRatio: number;
  /** Slack channel override for the notifications. */
  slackChannel?: string;
}

/** A `create_alert` input. */
export type AlertRuleInput = {
  id: string;
  name: string;
  metric: string;
  comparator: 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'ne';
  threshold: number;
  forS: number;
  cooldownS: number;
  channels: Array<'slack' | 'email'>;
  notifyOnResolve: boolean;
  severity: 'info' | 'warning' | 'critical';
  slackChannel?: string;
};

/**
 * The operator's rules: server or worker down for two samples in a row, tool p95 above the
 * threshold for two samples, a resource above the ratio for two samples. All go to Slack and
 * announce their resolution. `forS` = one interval: the condition must hold on the sample that
 * started it and on the next one, an interval later.
 */
export function defaultAlertRules(t: AlertThresholds): AlertRuleInput[] {
  const common = {
    // create_alert takes whole seconds.
    forS: Math.max(1, Math.ceil(t.intervalS)),
    channels: ['slack' as const],
    notifyOnResolve: true,
    ...(t.slackChannel ? { slackChannel: t.slackChannel } : {}),
  };
  return [
    { id: 'mcp-server-down', name: 'MCP server down', metric: ALERT_METRICS.serverUp, comparator: 'lt', threshold: 1, cooldownS: 60, severity: 'critical', ...common },
    { id: 'mcp-worker-down', name: 'Worker down', metric: ALERT_METRICS.workerUp, comparator: 'lt', threshold: 1, cooldownS: 60, severity: 'critical', ...common },
    { id: 'mcp-tool-latency-high', name: 'Tool latency high (p95)', metric: ALERT_METRICS.toolP95, comparator: 'gt', threshold: t.p95Seconds, cooldownS: 300, severity: 'warning', ...common },
    {
      id: 'mcp-resource-exhaustion',
      name: 'Resource exhaustion (memory, heap, disk, rate budget)',
      metric: ALERT_METRICS.resourceUsage,
      comparator: 'gt',
      threshold: t.resourceRatio,
      cooldownS: 300,
      severity: 'warning',
      ...common,
    },
  ];
}

/** True when a stored rule (list_alerts view) already says what `want` says, so it is left alone (and keeps its state). */
export function sameRule(stored: Record<string, unknown>, want: AlertRuleInput): boolean {
  const channels = Array.isArray(stored.channels) ? [...(stored.channels as string[])].sort().join(',') : '';
  const labels = stored.labels && typeof stored.labels === 'object' ? Object.keys(stored.labels).length : 0;
  return (
    stored.metric === want.metric &&
    stored.name === want.name &&
    stored.comparator === want.comparator &&
    stored.threshold === want.threshold &&
    stored.forS === want.forS &&
    stored.cooldownS === want.cooldownS &&
    stored.notifyOnResolve === want.notifyOnResolve &&
    stored.severity === want.severity &&
    (stored.slackChannel ?? undefined) === want.slackChannel &&
    (stored.aggregation ?? 'last') === 'last' &&
    (stored.windowS ?? 0) === 0 &&
    stored.dashboard === undefined &&
    labels === 0 &&
    channels === [...want.channels].sort().join(',')
  );
}
