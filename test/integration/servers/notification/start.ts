import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { loadNotificationConfig } from '../../../../src/servers/notification/config';
import {
  type RunningNotificationServer,
  startNotificationServer,
} from '../../../../src/servers/notification/main';
import { connectMcp } from '../../../harness/mcp-client';

export interface Started {
  dir: string;
  running: RunningNotificationServer;
  client: Client;
  /** Base URL of the HTTP server. */
  url: string;
  /** Folder where the in-process SMTP sink stores .eml files. */
  sinkDir: string;
  stop(): Promise<void>;
}

/** Starts the notification server in-process on free ports with a fresh data folder (or `dir`). */
export async function startNotification(env: Record<string, string> = {}, dir?: string): Promise<Started> {
  const dataDir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'notif-it-'));
  const config = loadNotificationConfig({
    MCP_NOTIFICATION_PORT: '0',
    MCP_NOTIFICATION_HOST: '127.0.0.1',
    MCP_NOTIFICATION_DATA_DIR: dataDir,
    MCP_SMTP_SINK_PORT: '0',
    ...env,
  });
  const running = await startNotificationServer(config);
  const client = await connectMcp(running.server.mcpUrl);
  return {
    dir: dataDir,
    running,
    client,
    url: running.server.url,
    sinkDir: config.smtpSink.dir,
    async stop() {
      await client.close();
      await running.close();
    },
  };
}

/** Polls `check` every 20 ms until it returns a value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 3000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
