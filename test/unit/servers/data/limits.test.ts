import { Mutex, RateLimiter, ResourcePool } from '../../../../src/servers/data/connection-pool';
import { loadDataServerConfig } from '../../../../src/servers/data/config';

describe('RateLimiter', () => {
  it('when the per-minute budget is spent, then the next call is refused until the window slides', () => {
    const rl = new RateLimiter(2);
    rl.take(1000);
    rl.take(2000);
    expect(() => rl.take(3000)).toThrow(/rate limit of 2 calls per minute reached; retry in 58 s/);
    expect(() => rl.take(61_001)).not.toThrow();
    expect(rl.used(61_001)).toBe(2);
  });
});

describe('ResourcePool', () => {
  it('when all resources are busy, then callers wait in order and get one when released', async () => {
    const pool = new ResourcePool(['a'], 4);
    const order: string[] = [];
    let release!: () => void;
    const first = pool.use(
      1000,
      undefined,
      (r) =>
        new Promise<void>((res) => {
          order.push(`1:${r}`);
          release = res;
        }),
    );
    const second = pool.use(1000, undefined, async (r) => {
      order.push(`2:${r}`);
    });
    await new Promise((r) => setImmediate(r));
    expect(pool.busy).toBe(1);
    expect(pool.queued).toBe(1);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['1:a', '2:a']);
    expect(pool.busy).toBe(0);
  });

  it('when no resource frees up in time or the queue is full, then the caller gets a busy error', async () => {
    const pool = new ResourcePool(['a'], 1);
    let release!: () => void;
    const held = pool.use(1000, undefined, () => new Promise<void>((res) => (release = res)));
    await new Promise((r) => setImmediate(r));
    const waiting = pool.use(50, undefined, async () => 'never');
    await expect(pool.use(50, undefined, async () => 'never')).rejects.toThrow(/server busy/);
    await expect(waiting).rejects.toThrow(/no database connection free within 50 ms/);
    release();
    await held;
  });

  it('when the caller cancels while waiting, then it leaves the queue', async () => {
    const pool = new ResourcePool(['a'], 4);
    let release!: () => void;
    const held = pool.use(1000, undefined, () => new Promise<void>((res) => (release = res)));
    await new Promise((r) => setImmediate(r));
    const ac = new AbortController();
    const waiting = pool.use(1000, ac.signal, async () => 'never');
    ac.abort();
    await expect(waiting).rejects.toThrow(/cancelled/);
    expect(pool.queued).toBe(0);
    release();
    await held;
  });
});

describe('Mutex', () => {
  it('when two sections run, then they never overlap', async () => {
    const m = new Mutex();
    let inside = 0;
    let maxInside = 0;
    const section = () =>
      m.run(async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((r) => setTimeout(r, 5));
        inside--;
      });
    await Promise.all([section(), section(), section()]);
    expect(maxInside).toBe(1);
  });
});

describe('loadDataServerConfig', () => {
  it('when env vars are set, then they are parsed with defaults for the rest', () => {
    const cfg = loadDataServerConfig({
      MCP_DATA_DATA_DIR: '/tmp/x',
      MCP_DATA_SEED_ROWS: '5000',
      MCP_DATA_ETL_SCHEMAS: 'etl, Work',
      MCP_STORAGE_URL: 'http://127.0.0.1:8003',
    });
    expect(cfg).toMatchObject({
      port: 8001,
      dataDir: '/tmp/x',
      seedRows: 5000,
      seed: 42,
      etlSchemas: ['etl', 'work'],
      storageUrl: 'http://127.0.0.1:8003',
      maxRowsHardCap: 10_000,
    });
  });

  it('when a value is invalid, then start-up fails naming the field', () => {
    expect(() => loadDataServerConfig({ MCP_DATA_SEED_ROWS: 'lots' })).toThrow(/seedRows/);
    expect(() => loadDataServerConfig({ MCP_DATA_MEMORY_LIMIT: 'huge' })).toThrow(/memoryLimit/);
  });
});
