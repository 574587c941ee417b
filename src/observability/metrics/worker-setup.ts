import type { TelemetryOptions } from '@temporalio/worker';
import { freeLocalPort } from './endpoint';

/** Worker metrics settings from the environment. */
export interface WorkerMetricsSettings {
  enabled: boolean;
  /** Interface of the merged `/metrics` endpoint and of core's exporter. */
  host: string;
  /** Port of the merged endpoint; 0 picks a free one (announced in the run file). */
  port: number;
}

/**
 * `MCP_WORKER_METRICS_PORT`: a port, `0` (default: several workers share a host, so each picks a free
 * one and announces it) or `off`; `MCP_WORKER_METRICS_HOST` (default 127.0.0.1).
 */
export function workerMetricsSettings(env: NodeJS.ProcessEnv = process.env): WorkerMetricsSettings {
  const raw = (env.MCP_WORKER_METRICS_PORT ?? '0').trim();
  const host = env.MCP_WORKER_METRICS_HOST?.trim() || '127.0.0.1';
  if (raw === 'off') return { enabled: false, host, port: 0 };
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`MCP_WORKER_METRICS_PORT must be a port number, 0 (pick a free one) or "off"; got "${raw}"`);
  }
  return { enabled: true, host, port };
}

/**
 * The `telemetryOptions.metrics` part of `Runtime.install` that makes Temporal core serve its own
 * Prometheus endpoint on a free loopback port (core needs a concrete port; it cannot report one it
 * picked), with durations in seconds like ours. Returns the URL to append to the worker's `/metrics`.
 */
export async function coreMetricsTelemetry(settings: WorkerMetricsSettings): Promise<{ metrics: NonNullable<TelemetryOptions['metrics']>; coreUrl: string }> {
  const port = await freeLocalPort(settings.host);
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return {
    metrics: { prometheus: { bindAddress: `${host}:${port}`, useSecondsForDurations: true } },
    coreUrl: `http://${host}:${port}/metrics`,
  };
}
