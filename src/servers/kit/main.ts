import type { RunningServer } from './http-app';
import { logger } from './log';
import { installTracing, shutdownTracing } from '../../observability/tracing/setup';

/**
 * Entry-point helper for a server's `main.ts`: starts it, and on SIGTERM/SIGINT closes it within a
 * grace time. Start-up failures (bad config, port in use) print one line and exit 1.
 */
export function runServerMain(name: string, start: () => Promise<{ server: RunningServer; close?: () => Promise<void> }>): void {
  const log = logger(name);
  installTracing({ service: name });
  start()
    .then(({ server, close }) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info('shutting down', { signal });
        const timer = setTimeout(() => process.exit(0), 5000);
        timer.unref();
        void server
          .close()
          .then(() => close?.())
          .then(() => shutdownTracing())
          .finally(() => process.exit(0));
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    })
    .catch((err: unknown) => {
      log.error('failed to start', { err: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    });
}
