import { loadStorageOptions } from '../../../../src/servers/storage/storage-config';
import { Semaphore } from '../../../../src/servers/kit/semaphore';

describe('storage configuration', () => {
  it('when env vars are set, then they are parsed and typed', () => {
    const o = loadStorageOptions({
      MCP_STORAGE_ZONES: '5',
      MCP_SERVICE_TOKEN: 'tok',
      MCP_STORAGE_SIGNING_SECRET: 's'.repeat(32),
      MCP_STORAGE_IMPORT_ROOTS: '/a, /b',
      MCP_STORAGE_MAX_OBJECT_BYTES: '1000',
      MCP_STORAGE_INLINE_MAX_BYTES: '10',
    });
    expect(o).toEqual({
      zones: 5,
      serviceToken: 'tok',
      signingSecret: 's'.repeat(32),
      importRoots: ['/a', '/b'],
      maxObjectBytes: 1000,
      inlineMaxBytes: 10,
    });
  });

  it('when no allowlist is set, then loopback MCP_*_URL origins form it and others are ignored', () => {
    const o = loadStorageOptions({
      MCP_DATA_URL: 'http://127.0.0.1:8001/mcp',
      MCP_COMPUTE_URL: 'http://compute.internal:8002',
      MCP_STORAGE_URL: 'http://localhost:8003',
    });
    expect(o.fetchAllowlist?.sort()).toEqual(['http://127.0.0.1:8001', 'http://localhost:8003']);
  });

  it.each([
    [{ MCP_STORAGE_ZONES: '0' }, /zones/],
    [{ MCP_STORAGE_ZONES: 'three' }, /zones/],
    [{ MCP_STORAGE_SIGNING_SECRET: 'short' }, /at least 16/],
    [{ MCP_STORAGE_FETCH_ALLOWLIST: 'not a url' }, /fetchAllowlist/],
  ])('when %p is given, then start-up fails naming the setting', (env, why) => {
    expect(() => loadStorageOptions(env)).toThrow(why);
  });
});

describe('Semaphore', () => {
  it('when more tasks than slots run, then at most max run at once and all finish', async () => {
    const sem = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const task = () =>
      sem.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return 1;
      });
    const results = await Promise.all(Array.from({ length: 7 }, task));
    expect(results).toHaveLength(7);
    expect(peak).toBe(2);
    expect(sem.inUse).toBe(0);
  });

  it('when a task throws, then its slot is released', async () => {
    const sem = new Semaphore(1);
    await expect(
      sem.run(async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(sem.run(async () => 'ok')).resolves.toBe('ok');
  });
});
