import { topK } from '../../../../src/servers/model-serving/top-k';
import { bearerMatches } from '../../../../src/servers/model-serving/service-auth';
import {
  loadModelServingBaseConfig,
  loadModelServingOptions,
} from '../../../../src/servers/model-serving/config';

describe('topK', () => {
  test('when scores are given, then the k best indices come back best first, ties to the lower index', () => {
    expect(topK([0.1, 0.9, 0.5, 0.9, -1], 3)).toEqual([1, 3, 2]);
    expect(topK([3, 2, 1], 10)).toEqual([0, 1, 2]);
    expect(topK([1, 2], 0)).toEqual([]);
  });

  test('when compared with a full sort on random data, then it agrees', () => {
    let x = 12345;
    const rand = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 50; trial++) {
      const s = Array.from({ length: 200 }, () => Math.round(rand() * 50) / 10);
      const want = s
        .map((v, i) => ({ v, i }))
        .sort((a, b) => b.v - a.v || a.i - b.i)
        .slice(0, 17)
        .map((e) => e.i);
      expect(topK(s, 17)).toEqual(want);
    }
  });
});

describe('bearerMatches', () => {
  test.each([
    ['Bearer secret-token', true],
    ['bearer secret-token', true],
    ['Bearer secret-tokenx', false],
    ['Bearer secret', false],
    ['Basic secret-token', false],
    ['secret-token', false],
    ['Bearer ', false],
    [undefined, false],
  ])('when the header is %p, then it matches: %p', (header, ok) => {
    expect(bearerMatches(header, 'secret-token')).toBe(ok);
  });
});

describe('model-serving config', () => {
  test('when nothing is set, then defaults apply: port 8007, storage on 8003, data dir under MCP_DATA_ROOT', () => {
    const base = loadModelServingBaseConfig({ MCP_DATA_ROOT: '/tmp/root' });
    expect(base).toMatchObject({ port: 8007, host: '127.0.0.1', dataDir: '/tmp/root/model-serving' });
    expect(loadModelServingOptions({})).toMatchObject({
      storageUrl: 'http://127.0.0.1:8003',
      keepVersions: 2,
      maxK: 100,
    });
  });

  test('when MCP_MODEL_SERVING_PORT is set, then it is used (the hyphenated kit name is not shell-friendly)', () => {
    expect(loadModelServingBaseConfig({ MCP_MODEL_SERVING_PORT: '9107' }).port).toBe(9107);
  });

  test('when a variable is invalid, then start-up fails naming it', () => {
    expect(() => loadModelServingOptions({ MCP_MODEL_SERVING_MAX_K: 'lots' })).toThrow(
      /MCP_MODEL_SERVING_MAX_K/,
    );
    expect(() => loadModelServingOptions({ MCP_STORAGE_URL: 'not a url' })).toThrow(/MCP_STORAGE_URL/);
  });
});
