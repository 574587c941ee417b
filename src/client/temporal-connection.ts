import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

export interface TemporalTarget {
  connectionOptions: NativeConnectionOptions;
  namespace: string;
}

/**
 * Temporal connection settings in Temporal's own convention: `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
 * `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`, and the `temporal.toml` profiles (`TEMPORAL_PROFILE`,
 * `TEMPORAL_CONFIG_FILE`). The same workers and CLI then run against the local dev server, a
 * self-hosted cluster or Temporal Cloud. Without any setting: the local dev server (127.0.0.1:7233, or
 * `TEMPORAL_DEV_PORT`).
 */
export function temporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const cfg = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  const connectionOptions = { ...cfg.connectionOptions };
  // The local stack's dev server (`mcp-orch up`), on TEMPORAL_DEV_PORT when that is moved.
  connectionOptions.address ??= `127.0.0.1:${env.TEMPORAL_DEV_PORT ?? 7233}`;
  return { connectionOptions, namespace: cfg.namespace ?? 'default' };
}
