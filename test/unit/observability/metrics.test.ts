import type { IncomingMessage } from 'node:http';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { bucketDelta, histograms, parseExposition, quantile, select } from '../../../src/observability/metrics/parse';
import { isLoopbackAddress, metricsAccess, ServerMetrics } from '../../../src/observability/metrics/server-metrics';
import { errorTypeOf, WorkerMetrics } from '../../../src/observability/metrics/worker-metrics';
import { workerMetricsSettings } from '../../../src/observability/metrics/worker-setup';
import { defaultAlertRules, sameRule } from '../../../src/observability/alerts/rules';
import { alertsConfigFromEnv, stackTargets } from '../../../src/observability/alerts/main';

const req = (remoteAddress: string, authorization?: string) =>
  ({ headers: authorization ? { authorization } : {}, socket: { remoteAddress } }) as unknown as IncomingMessage;

describe('exposition parsing and quantiles', () => {
  const text = [
    '# HELP t_seconds x',
    '# TYPE t_seconds histogram',
    't_seconds_bucket{le="0.1",tool="a"} 2',
    't_seconds_bucket{le="1",tool="a"} 8',
    't_seconds_bucket{le="+Inf",tool="a"} 10',
    't_seconds_count{tool="a"} 10',
    'up{path="C:\\\\x \\"q\\""} 1 1700000000000',
    '',
  ].join('\n');

  it('reads samples with escaped label values and ignores timestamps', () => {
    const s = parseExposition(text);
    expect(select(s, 'up')).toEqual([{ name: 'up', labels: { path: 'C:\\x "q"' }, value: 1 }]);
    expect(select(s, 't_seconds_count', { tool: 'a' })[0]!.value).toBe(10);
  });

  it('names the line of malformed input', () => {
    expect(() => parseExposition('ok 1\nbroken{le=} 2')).toThrow(/line 2/);
  });

  it('interpolates the p95 inside its bucket like histogram_quantile, and caps the +Inf bucket at the last bound', () => {
    const [h] = histograms(parseExposition(text), 't_seconds');
    expect(h!.labels).toEqual({ tool: 'a' });
    // rank 9.5 of 10 lies in (1, +Inf]: the histogram can only say "above 1".
    expect(quantile(0.95, h!.buckets)).toBe(1);
    // rank 5 of 10 lies in (0.1, 1]: 0.1 + 0.9 * (5 - 2) / 6.
    expect(quantile(0.5, h!.buckets)).toBeCloseTo(0.55);
    expect(quantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }])).toBeUndefined();
  });

  it('takes the difference of two scrapes, and treats a counter reset as a fresh start', () => {
    const before = [{ le: 1, count: 3 }, { le: Infinity, count: 4 }];
    expect(bucketDelta([{ le: 1, count: 5 }, { le: Infinity, count: 7 }], before)).toEqual([{ le: 1, count: 2 }, { le: Infinity, count: 3 }]);
    expect(bucketDelta([{ le: 1, count: 1 }, { le: Infinity, count: 1 }], before)).toEqual([{ le: 1, count: 1 }, { le: Infinity, count: 1 }]);
  });
});

describe('/metrics access', () => {
  it('admits loopback peers without a token, in every spelling', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', undefined]) expect(isLoopbackAddress(a)).toBe(false);
    expect(metricsAccess(req('127.0.0.1'), undefined)).toEqual({ ok: true });
  });

  it('admits a remote scraper only with the service token', () => {
    expect(metricsAccess(req('10.0.0.7', 'Bearer s3cret'), 's3cret')).toEqual({ ok: true });
    expect(metricsAccess(req('10.0.0.7'), 's3cret')).toMatchObject({ ok: false, status: 403 });
    expect(metricsAccess(req('10.0.0.7', 'Bearer guess'), 's3cret')).toMatchObject({ ok: false, status: 401 });
    expect(metricsAccess(req('10.0.0.7'), undefined)).toMatchObject({ ok: false, status: 403, message: expect.stringMatching(/loopback only/) });
  });

  it('refuses a wrong bearer even from loopback (a misconfigured scraper should hear about it)', () => {
    expect(metricsAccess(req('127.0.0.1', 'Bearer guess'), 's3cret')).toMatchObject({ ok: false, status: 401 });
  });
});

describe('metric registries', () => {
  it('a server registry carries the info metric and counts errors by code', async () => {
    const m = new ServerMetrics({ server: 'x', version: '9.9.9' });
    m.observeTool('t', 0.2, 'ok');
    m.observeTool('t', 0.3, 'tool_error', 'not_found');
    const s = parseExposition((await m.exposition()).body);
    expect(select(s, 'mcp_server_info', { server: 'x', version: '9.9.9' })[0]!.value).toBe(1);
    expect(select(s, 'mcp_server_tool_errors_total', { tool: 't', code: 'not_found' })[0]!.value).toBe(1);
    expect(select(s, 'mcp_server_tool_duration_seconds_count', { tool: 't', outcome: 'ok' })[0]!.value).toBe(1);
  });

  it('a worker registry reports breaker states as numbers and only its own group', async () => {
    const endpoint = (url: string, state: 'closed' | 'open' | 'half-open') => ({
      url,
      priority: 1,
      healthy: state !== 'open',
      breaker: { state, opens: state === 'closed' ? 0 : 1, msUntilHalfOpen: 0 },
      inFlight: 0,
      calls: 3,
      transportFailures: 1,
      rateBudget: { perMinute: 60, available: 12, waiting: 0, source: 'healthz' as const },
    });
    const m = new WorkerMetrics({
      group: 'data',
      taskQueue: 'mcp-data',
      pool: {
        poolStatus: () => ({
          at: '',
          groups: [
            { group: 'data', healthCheckIntervalMs: 1, endpoints: [endpoint('http://a/mcp', 'open'), endpoint('http://b/mcp', 'half-open')] },
            { group: 'storage', healthCheckIntervalMs: 1, endpoints: [endpoint('http://c/mcp', 'closed')] },
          ],
        }),
      },
    });
    m.observeCall({ server: 'data', tool: 'sql_query' }, 0.1, 2, ApplicationFailure.create({ type: 'ServerUnavailable', message: 'x' }));
    const s = parseExposition(await m.registry.metrics());
    expect(select(s, 'mcp_worker_breaker_state').map((x) => [x.labels.endpoint, x.value])).toEqual([['http://a/mcp', 2], ['http://b/mcp', 1]]);
    expect(select(s, 'mcp_worker_rate_budget_tokens', { endpoint: 'http://a/mcp' })[0]!.value).toBe(12);
    expect(select(s, 'mcp_worker_tool_call_errors_total', { type: 'ServerUnavailable' })[0]!.value).toBe(1);
    expect(select(s, 'mcp_worker_tool_call_retries_total', { tool: 'sql_query' })[0]!.value).toBe(1);
  });

  it('names activity errors by their ApplicationFailure type', () => {
    expect(errorTypeOf(ApplicationFailure.create({ type: 'McpToolError', message: 'x' }))).toBe('McpToolError');
    expect(errorTypeOf(new CancelledFailure('gone'))).toBe('Cancelled');
    expect(errorTypeOf(new TypeError('x'))).toBe('TypeError');
  });
});

describe('settings', () => {
  it('worker metrics: a free port by default, off on request, a clear error otherwise', () => {
    expect(workerMetricsSettings({})).toEqual({ enabled: true, host: '127.0.0.1', port: 0 });
    expect(workerMetricsSettings({ MCP_WORKER_METRICS_PORT: 'off' }).enabled).toBe(false);
    expect(() => workerMetricsSettings({ MCP_WORKER_METRICS_PORT: 'ninety' })).toThrow(/MCP_WORKER_METRICS_PORT/);
  });

  it('alerts: defaults from the stack environment, bad values named by variable', () => {
    const c = alertsConfigFromEnv({ MCP_NOTIFICATION_ENDPOINTS: 'http://127.0.0.1:9106/mcp', MCP_DATA_ROOT: '/tmp/x' });
    expect(c).toMatchObject({ intervalS: 15, p95Seconds: 10, resourceRatio: 0.9, notificationUrl: 'http://127.0.0.1:9106/mcp', dashboard: 'Operations' });
    expect(() => alertsConfigFromEnv({ MCP_ALERT_RESOURCE_RATIO: '3' })).toThrow(/MCP_ALERT_RESOURCE_RATIO/);
    const t = stackTargets('/nonexistent', { MCP_DATA_ENDPOINTS: 'http://127.0.0.1:9101/mcp', MCP_STORAGE_PORT: '9103' });
    expect(t.find((x) => x.name === 'data')).toMatchObject({ healthUrl: 'http://127.0.0.1:9101/healthz', metricsUrl: 'http://127.0.0.1:9101/metrics' });
    expect(t.find((x) => x.name === 'storage')?.healthUrl).toBe('http://127.0.0.1:9103/healthz');
  });

  it('rules: a stored copy of a rule is recognised, any difference is not', () => {
    const [down] = defaultAlertRules({ intervalS: 15, p95Seconds: 10, resourceRatio: 0.9 });
    const stored = { ...down!, labels: {}, aggregation: 'last', windowS: 0, emailTo: [], state: 'ok' };
    expect(down!.forS).toBe(15);
    expect(sameRule(stored, down!)).toBe(true);
    expect(sameRule({ ...stored, threshold: 2 }, down!)).toBe(false);
    expect(sameRule({ ...stored, labels: { server: 'data' } }, down!)).toBe(false);
  });
});
