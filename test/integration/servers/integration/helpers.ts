import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { baseServerConfigSchema } from '../../../../src/servers/kit';
import {
  parseIntegrationSettings,
  type IntegrationConfig,
  type IntegrationSettings,
} from '../../../../src/servers/integration/config';

/** A fresh data dir and an integration config on 127.0.0.1, port 0. */
export function testConfig(settings: Partial<Record<keyof IntegrationSettings, unknown>>): IntegrationConfig {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'integration-it-'));
  return {
    ...baseServerConfigSchema.parse({ host: '127.0.0.1', port: 0, dataDir }),
    ...parseIntegrationSettings(settings),
  };
}

export interface Listener {
  port: number;
  origin: string;
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  connections(): number;
  close(): Promise<void>;
}

/** A 127.0.0.1 HTTP listener recording every request and connection it gets. */
export async function listen(
  handler: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void,
): Promise<Listener> {
  const requests: Listener['requests'] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, body, res);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
