import path from 'node:path';
import { advertisedCapacity, workerConcurrency } from '../../../src/mcp/capacity';
import { parseRetryAfter } from '../../../src/mcp/call-error';
import { loadRegistry, registrySchema, resilienceOf } from '../../../src/registry/registry';
import { faultsFromEnv } from '../../../src/servers/kit/faults';

describe('resilience configuration', () => {
  test('when config/servers.yaml is loaded, then every group gets the brief defaults', () => {
    const reg = loadRegistry(path.resolve(__dirname, '../../../config/servers.yaml'), {});
    expect(resilienceOf(reg, 'data')).toEqual({
      breaker: { failure_threshold: 5, recovery_timeout: 30_000, half_open_max_calls: 3, success_threshold: 2 },
      health_check_interval: 30_000,
      rate_limit_per_minute: undefined,
      concurrency: { min: 2, max: 50 },
    });
  });

  test('when a group overrides some breaker keys, then the others keep the defaults', () => {
    const reg = registrySchema.parse({
      defaults: { breaker: { failure_threshold: 5, recovery_timeout: '30s' }, health_check_interval: 30 },
      groups: { data: { endpoints: [{ transport: 'http', url: 'http://127.0.0.1:1/mcp' }], breaker: { recovery_timeout: '500ms' }, health_check_interval: '2m' } },
    });
    expect(resilienceOf(reg, 'data').breaker).toEqual({ failure_threshold: 5, recovery_timeout: 500 });
    expect(resilienceOf(reg, 'data').health_check_interval).toBe(120_000);
  });

  test('when a breaker key is misspelled or a duration unreadable, then parsing fails naming it', () => {
    const bad = (extra: Record<string, unknown>) =>
      registrySchema.safeParse({ groups: { d: { endpoints: [{ transport: 'http', url: 'http://127.0.0.1:1/mcp' }], ...extra } } });
    expect(bad({ breaker: { failure_treshold: 3 } }).success).toBe(false);
    const r = bad({ health_check_interval: '30 seconds' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(/health_check_interval/);
  });
});

describe('Retry-After', () => {
  test('when given seconds, then milliseconds; when given an HTTP date, then the time until it', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(1_000_000 + 5000).toUTCString(), 1_000_000)).toBe(5000);
  });
  test('when absent, unreadable, past or huge, then undefined, 0 or capped at an hour', () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(new Date(0).toUTCString(), 1_000_000)).toBe(0);
    expect(parseRetryAfter('999999')).toBe(3_600_000);
  });
});

describe('resource-aware worker concurrency', () => {
  test('when a server advertises maxConcurrent or max_concurrent_jobs, then that is its capacity', () => {
    expect(advertisedCapacity({ limits: { maxConcurrent: 4 } })).toBe(4);
    expect(advertisedCapacity({ limits: { max_concurrent_jobs: 1, rate_limit_per_minute: null } })).toBe(1);
    expect(advertisedCapacity({ limits: { rateLimitPerMinute: 60 } })).toBeUndefined();
    expect(advertisedCapacity(undefined)).toBeUndefined();
  });
  test('when capacity is known, then concurrency is capacity × endpoints within the floor and ceiling', () => {
    expect(workerConcurrency(4, 2)).toBe(8);
    expect(workerConcurrency(1, 1)).toBe(2);
    expect(workerConcurrency(1, 1, { min: 1 })).toBe(1);
    expect(workerConcurrency(64, 2, { max: 20 })).toBe(20);
    expect(workerConcurrency(undefined, 3)).toBe(50);
  });
});

describe('MCP_FAULTS', () => {
  test('when unset, then no faults; when valid JSON, then the settings with defaults', () => {
    expect(faultsFromEnv({})).toBeUndefined();
    expect(faultsFromEnv({ MCP_FAULTS: '{"failRate":0.05,"tools":["sql_query"]}' })).toEqual({ failRate: 0.05, latencyMs: 0, hangRate: 0, tools: ['sql_query'] });
  });
  test('when invalid, then start-up fails naming the variable and the field', () => {
    expect(() => faultsFromEnv({ MCP_FAULTS: '{failRate' })).toThrow(/MCP_FAULTS/);
    expect(() => faultsFromEnv({ MCP_FAULTS: '{"failRate":1.5}' })).toThrow(/failRate/);
    expect(() => faultsFromEnv({ MCP_FAULTS: '{"failrate":0.1}' })).toThrow(/MCP_FAULTS/);
  });
});
