import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { devServerSearchAttributeArgs } from '../../shared/search-attributes';
import { PACKAGE_ROOT } from './entry';

/**
 * Finds the Temporal CLI (which embeds the dev server), installing it into the per-user cache through
 * scripts/install-temporal.sh the first time. Never an in-process imitation: the real server.
 */
export function temporalCliPath(): string {
  const script = path.join(PACKAGE_ROOT, 'scripts', 'install-temporal.sh');
  try {
    return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch {
    throw new Error(`blocked: the Temporal CLI could not be installed (see the output of ${script} above)`);
  }
}

export interface DevServerOptions {
  dbFile: string;
  port: number;
  uiPort: number;
  namespace?: string;
  /** Extra `--dynamic-config-value` entries. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** Remote codec endpoint Temporal Web UI decodes payloads with (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
}

/** Low-latency settings for a single-machine dev server (see shared/PERFORMANCE.md). */
export const LOW_LATENCY_DYNAMIC_CONFIG = {
  'system.enableActivityEagerExecution': true,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
  // History reads each shard's task queues at most 20 times a second by default. The dev server has one
  // shard, so a chain of steps (two transfer tasks each: the activity, then the workflow task it wakes)
  // waited ~50 ms per task: a bare 30-step chain took 101 ms a step, 22 ms with this (bench/results).
  'history.transferProcessorMaxPollRPS': 1000,
  // The same limit on timers (retry back-off, timeouts, waits) and on visibility (search attributes, list).
  'history.timerProcessorMaxPollRPS': 1000,
  'history.visibilityProcessorMaxPollRPS': 1000,
} as const;

/** Arguments of `temporal server start-dev`: persistent SQLite DB in WAL mode, UI port, low-latency knobs. */
export function devServerArgs(o: DevServerOptions): string[] {
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    o.dbFile,
    '--port',
    String(o.port),
    '--ui-port',
    String(o.uiPort),
    '--ip',
    '127.0.0.1',
    '--namespace',
    o.namespace ?? 'default',
    '--log-level',
    'warn',
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    ...devServerSearchAttributeArgs(),
  ];
  if (o.uiCodecEndpoint) args.push('--ui-codec-endpoint', o.uiCodecEndpoint);
  for (const [k, v] of Object.entries({ ...LOW_LATENCY_DYNAMIC_CONFIG, ...o.dynamicConfig })) {
    args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  }
  return args;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
