import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DuckDBInstance } from '@duckdb/node-api';
import { ObjectStoreClient } from '../../../../src/servers/kit';
import { startDataServer, type StartedDataServer } from '../../../../src/servers/data/main';
import { startStorageServer } from '../../../../src/servers/storage/main';
import { connectMcp } from '../../../harness/mcp-client';

export interface DataStack {
  data: StartedDataServer;
  storage?: { server: { url: string }; close(): Promise<void> };
  objects?: ObjectStoreClient;
  client: Client;
  dirs: string[];
  close(): Promise<void>;
}

/** Starts the data server (small seed) on port 0, optionally with a real storage server beside it. */
export async function startDataStack(
  opts: { withStorage?: boolean; seedRows?: number; extra?: Record<string, unknown> } = {},
): Promise<DataStack> {
  const dirs: string[] = [];
  const tmp = (p: string) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const token = randomBytes(24).toString('hex');
  let storage: DataStack['storage'];
  if (opts.withStorage) {
    storage = await startStorageServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: tmp('data-test-storage-'),
      allowedHosts: [],
      allowedOrigins: [],
      maxBodyBytes: 4 * 1024 * 1024,
      serviceToken: token,
      zones: 1,
    });
  }
  const data = await startDataServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: tmp('data-test-'),
    seedRows: opts.seedRows ?? 20_000,
    threads: 2,
    memoryLimit: '512MB',
    storageUrl: storage?.server.url,
    serviceToken: token,
    ...(opts.extra ?? {}),
  });
  const client = await connectMcp(data.server.mcpUrl);
  const objects = storage
    ? new ObjectStoreClient({ baseUrl: storage.server.url, token: async () => token })
    : undefined;
  return {
    data,
    storage,
    objects,
    client,
    dirs,
    async close() {
      await client.close().catch(() => undefined);
      await data.close();
      await storage?.close();
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Reads Parquet/CSV bytes back with a separate, unrestricted in-memory DuckDB and returns row count and columns. */
export async function inspectFile(
  bytes: Uint8Array,
  format: 'parquet' | 'csv',
): Promise<{ rows: number; columns: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'data-inspect-'));
  const file = path.join(dir, `f.${format}`);
  fs.writeFileSync(file, bytes);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const reader = format === 'parquet' ? `read_parquet('${file}')` : `read_csv('${file}', header = true)`;
    const count = await conn.runAndReadAll(`SELECT count(*) FROM ${reader}`);
    const cols = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${reader}`);
    return { rows: Number(count.getRowsJS()[0]?.[0]), columns: cols.getRowsJS().map((r) => String(r[0])) };
  } finally {
    conn.closeSync();
    db.closeSync();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
