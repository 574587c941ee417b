import { EventEmitter } from 'node:events';
import { logger } from '../kit';
import { type AlertRule, COMPARATOR_SYMBOL, evaluateRule, ruleMatches } from './alert-engine';
import type { AlertEvent, AlertStore, DeliveryOutcome } from './alert-store';
import type { EmailSender } from './email';
import type { MetricSeries } from './metric-store';
import { type SlackSender, escapeSlackText } from './slack';

const log = logger('notification');

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/**
 * Evaluates alert rules against every accepted metric sample and sends firing (and, when asked,
 * resolved) notifications through the real e-mail and Slack senders. State transitions are decided
 * synchronously, before any await, so two concurrent pushes cannot both fire the same series.
 * Emits `event` for each recorded {@link AlertEvent} (the dashboard streams them).
 */
export class AlertService extends EventEmitter {
  constructor(
    private readonly store: AlertStore,
    private readonly email: EmailSender,
    private readonly slack: SlackSender,
  ) {
    super();
  }

  /** Evaluates the rules matching the touched series; resolves once notifications are delivered or failed. */
  async evaluate(touched: readonly MetricSeries[]): Promise<{ evaluated: number; events: AlertEvent[] }> {
    const unique = [...new Map(touched.map((s) => [s.key, s])).values()];
    const pending: {
      rule: AlertRule;
      series: MetricSeries;
      kind: Exclude<ReturnType<typeof evaluateRule>['transition'], null>;
      value: number;
      sampleAt: number;
    }[] = [];
    let evaluated = 0;
    for (const rule of this.store.list()) {
      const states = this.store.statesOf(rule.id);
      for (const series of unique) {
        if (!ruleMatches(rule, series)) continue;
        evaluated += 1;
        const { next, transition, value } = evaluateRule(rule, states.get(series.key), series.points);
        states.set(series.key, next);
        if (transition && value !== undefined)
          pending.push({
            rule,
            series,
            kind: transition,
            value,
            sampleAt: next.lastEvaluatedAt ?? Date.now(),
          });
      }
    }
    if (evaluated > 0) this.store.commitStates();
    const events: AlertEvent[] = [];
    for (const p of pending) {
      const notify = p.kind === 'fired' || (p.kind === 'resolved' && p.rule.notifyOnResolve);
      const deliveries = notify ? await this.deliver(p.rule, p.series, p.kind, p.value) : [];
      const event = this.store.append({
        at: new Date().toISOString(),
        alertId: p.rule.id,
        kind: p.kind,
        seriesKey: p.series.key,
        labels: p.series.labels,
        value: p.value,
        threshold: p.rule.threshold,
        comparator: p.rule.comparator,
        sampleAt: new Date(p.sampleAt).toISOString(),
        deliveries,
      });
      events.push(event);
      this.emit('event', event);
    }
    return { evaluated, events };
  }

  private async deliver(
    rule: AlertRule,
    series: MetricSeries,
    kind: 'fired' | 'resolved' | 'suppressed' | 'pending',
    value: number,
  ): Promise<DeliveryOutcome[]> {
    const tag = kind === 'fired' ? 'FIRING' : 'RESOLVED';
    const cond = `${rule.metric}${labelText(series.labels)} ${COMPARATOR_SYMBOL[rule.comparator]} ${rule.threshold}`;
    const aggregated =
      rule.aggregation === 'last' || rule.windowS === 0
        ? 'value'
        : `${rule.aggregation} over ${rule.windowS}s`;
    const summary = `[${tag}] ${rule.name}: ${cond} (${aggregated} ${value})`;
    const jobs: Promise<DeliveryOutcome>[] = [];
    if (rule.channels.includes('email')) {
      jobs.push(
        this.email
          .send({
            to: rule.emailTo,
            subject: summary.slice(0, 900),
            text: [
              summary,
              '',
              `Alert:     ${rule.name} (${rule.id}), severity ${rule.severity}`,
              `Condition: ${cond}, ${aggregated}${rule.forS ? `, for ${rule.forS}s` : ''}`,
              `Value:     ${value}`,
              `Dashboard: ${series.dashboard}`,
            ].join('\n'),
            headers: { 'X-Alert-Id': rule.id, 'X-Alert-State': tag.toLowerCase() },
          })
          .then((r): DeliveryOutcome => ({ channel: 'email', ok: true, detail: r.messageId }))
          .catch((err: unknown): DeliveryOutcome => ({
            channel: 'email',
            ok: false,
            detail: err instanceof Error ? err.message : String(err),
          })),
      );
    }
    if (rule.channels.includes('slack')) {
      const icon = kind === 'fired' ? ':rotating_light:' : ':white_check_mark:';
      jobs.push(
        this.slack
          .send({
            text: `${icon} ${escapeSlackText(summary)}`,
            channel: rule.slackChannel,
            blocks: [
              { type: 'header', text: { type: 'plain_text', text: `${tag}: ${rule.name}`.slice(0, 150) } },
              {
                type: 'section',
                fields: [
                  { type: 'mrkdwn', text: `*Condition*\n${escapeSlackText(cond)}` },
                  { type: 'mrkdwn', text: `*Value*\n${value}` },
                  { type: 'mrkdwn', text: `*Severity*\n${rule.severity}` },
                  { type: 'mrkdwn', text: `*Dashboard*\n${escapeSlackText(series.dashboard)}` },
                ],
              },
              {
                type: 'context',
                elements: [{ type: 'mrkdwn', text: `alert \`${escapeSlackText(rule.id)}\`` }],
              },
            ],
          })
          .then((r): DeliveryOutcome => ({ channel: 'slack', ok: true, detail: r.response }))
          .catch((err: unknown): DeliveryOutcome => ({
            channel: 'slack',
            ok: false,
            detail: err instanceof Error ? err.message : String(err),
          })),
      );
    }
    const outcomes = await Promise.all(jobs);
    for (const o of outcomes)
      if (!o.ok)
        log.warn('alert delivery failed', { alertId: rule.id, channel: o.channel, detail: o.detail });
    return outcomes;
  }
}
