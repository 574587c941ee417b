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
 * self-hosted cluster or Temporal Cloud. Without any setting: the dev server on 127.0.0.1:7233.
 */
export function temporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const cfg = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  const connectionOptions = { ...cfg.connectionOptions };
  connectionOptions.address ??= '127.0.0.1:7233';
  return { connectionOptions, namespace: cfg.namespace ?? 'default' };
}
