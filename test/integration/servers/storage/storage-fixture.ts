import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectMcp } from '../../../harness/mcp-client';
import { startStorageServer } from '../../../../src/servers/storage/main';
import type { StorageOptions } from '../../../../src/servers/storage/storage-config';

export const TOKEN = 'test-service-token-0123456789';

/** A storage server started in-process on a free loopback port, with a fresh data dir and an MCP client. */
export interface StorageFixture {
  url: string;
  dataDir: string;
  inbox: string;
  client: Client;
  close(): Promise<void>;
}

export async function startFixture(opts: StorageOptions = {}): Promise<StorageFixture> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-it-'));
  const inbox = path.join(dataDir, 'inbox');
  const running = await startStorageServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    allowedHosts: [],
    allowedOrigins: [],
    maxBodyBytes: 4 * 1024 * 1024,
    serviceToken: TOKEN,
    signingSecret: 'test-signing-secret-0123456789',
    ...opts,
  });
  const client = await connectMcp(running.server.mcpUrl);
  return {
    url: running.server.url,
    dataDir,
    inbox,
    client,
    async close() {
      await client.close();
      await running.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A raw HTTP request that keeps the path exactly as given: fetch() would normalise `..` and `%2e%2e`
 * away before sending, which would hide what the server does with them.
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  rawPath: string,
  opts: { headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: rawPath, headers: opts.headers, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const auth = { authorization: `Bearer ${TOKEN}` };
