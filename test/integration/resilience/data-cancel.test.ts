import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { McpClientPool } from '../../../src/mcp/pool';
import { startDataServer, type StartedDataServer } from '../../../src/servers/data/main';
import { registryFor, sleep } from './fixture';

/** Cross join DuckDB needs minutes for on two cores: only an interrupt ends it early. */
const SLOW_SQL = 'SELECT sum(a.range * b.range) FROM range(3000000) a, range(3000000) b';

describe('cancellation interrupts a DuckDB query on the data server', () => {
  let data: StartedDataServer;
  let dir: string;
  let pool: McpClientPool;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resilience-data-'));
    // One connection: if the cancelled query kept running, the next query would have to wait for it.
    data = await startDataServer({ host: '127.0.0.1', port: 0, dataDir: dir, seedRows: 1000, threads: 1, memoryLimit: '256MB', maxConcurrent: 1 });
    pool = new McpClientPool(registryFor([{ url: data.server.mcpUrl }]));
  }, 60_000);
  afterAll(async () => {
    await pool.close();
    await data.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('when the caller aborts a running sql_query, then DuckDB stops it and the single connection is free at once', async () => {
    const warm = await pool.callTool('t', 'sql_query', { sql: 'SELECT 1 AS x' });
    expect(warm.result.isError).toBeFalsy();

    const ac = new AbortController();
    const slow = pool.callTool('t', 'sql_query', { sql: SLOW_SQL, timeout_ms: 120_000 }, { signal: ac.signal });
    await sleep(700);
    const abortedAt = Date.now();
    ac.abort();
    await expect(slow).rejects.toThrow();

    const t0 = Date.now();
    const next = await pool.callTool('t', 'sql_query', { sql: 'SELECT 42 AS x', timeout_ms: 5000 });
    const waitedMs = Date.now() - t0;
    expect(next.result.isError).toBeFalsy();
    expect((next.result.structuredContent as { rows: Array<{ x: number }> }).rows[0]?.x).toBe(42);
    expect(waitedMs).toBeLessThan(4000);
    process.stderr.write(`data-cancel: next query answered ${waitedMs} ms after the abort (${Date.now() - abortedAt} ms total)\n`);
  }, 60_000);

  test('when many calls carry their own signal, then the connection keeps nothing of them (no AbortSignal.any leak)', async () => {
    for (let i = 0; i < 200; i++) {
      const r = await pool.callTool('t', 'sql_query', { sql: 'SELECT 1 AS x' }, { signal: new AbortController().signal });
      expect(r.result.isError).toBeFalsy();
    }
    // The transport's lifelong signal: AbortSignal.any left a weak reference per call in it, never pruned.
    const eps = (pool as unknown as { endpoints: Map<string, Array<{ transport?: { _abortController?: AbortController } }>> }).endpoints;
    const signal = [...eps.values()].flat()[0]!.transport!._abortController!.signal;
    const dependants = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
    const held = dependants ? ((signal as unknown as Record<symbol, Set<unknown> | undefined>)[dependants]?.size ?? 0) : 0;
    expect(held).toBe(0);
  }, 60_000);
});
