import fs from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { startModelServingServer } from '../../../../src/servers/model-serving/main';
import { ProtoWriter } from '../../../../src/servers/compute/onnx-encoder';
import { baseConfig, randomRecommender, SERVICE_TOKEN, startServingStack } from './fixture';

jest.setTimeout(60_000);

const V1 = randomRecommender(1, 40, 30, 8);
const V2 = randomRecommender(2, 40, 30, 8);
const V3 = randomRecommender(3, 12, 9, 4);

/** Expected top-k of a user from direct dot products (ties to the lower index, as the service does). */
function expectedTop(model: typeof V1, u: number, k: number): number[] {
  const s = model.scores(u);
  return s
    .map((score, i) => ({ score, i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, k)
    .map((x) => x.i);
}

/** An ONNX model with a float input: well-formed, but not the recommender's signature. */
function identityOnnx(): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 8);
  w.string(2, 'test');
  w.message(7, (g) => {
    g.message(1, (n) => n.string(1, 'x').string(2, 'y').string(4, 'Identity'));
    g.string(2, 'identity');
    const vi = (v: ProtoWriter, name: string) =>
      v
        .string(1, name)
        .message(2, (t) =>
          t.message(1, (tt) => tt.int(1, 1).message(2, (sh) => sh.message(1, (d) => d.int(1, 3)))),
        );
    g.message(11, (v) => vi(v, 'x'));
    g.message(12, (v) => vi(v, 'y'));
  });
  w.message(8, (o) => o.string(1, '').int(2, 13));
  return w.finish();
}

describe('model-serving service (real storage server, real onnxruntime)', () => {
  let stack: Awaited<ReturnType<typeof startServingStack>>;
  let sha1: string;
  let sha2: string;

  beforeAll(async () => {
    stack = await startServingStack({ keepVersions: 2, maxK: 50 });
    sha1 = (await stack.objects.put('models/rec/v1/model.onnx', V1.bytes)).sha256;
    sha2 = (await stack.objects.put('models/rec/v2/model.onnx', V2.bytes)).sha256;
    await stack.objects.put('models/rec/v3/model.onnx', V3.bytes);
    await stack.objects.put(
      'models/junk/model.onnx',
      new TextEncoder().encode('this is a CSV file, not a model\n1,2,3\n'),
    );
    await stack.objects.put('models/identity/model.onnx', identityOnnx());
  });

  afterAll(async () => {
    await stack?.serving.close();
    await stack?.storage.close();
    if (stack) fs.rmSync(stack.root, { recursive: true, force: true });
  });

  test('when a plaintext ONNX object is deployed with its hash, then it answers 201 serving with the graph signature and endpoint', async () => {
    const r = await stack.call('POST', '/v1/models', {
      name: 'rec',
      version: '1',
      model_uri: 'storage://models/rec/v1/model.onnx',
      sha256: sha1,
      metadata: { accuracy: 0.5 },
      encrypted: false,
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      name: 'rec',
      version: '1',
      status: 'serving',
      created: true,
      sha256: sha1,
      users: 40,
      items: 30,
      inputs: [{ name: 'user_idx', type: 'int64', shape: ['batch'] }],
      outputs: [{ name: 'scores', type: 'float32', shape: ['batch', 30] }],
      endpoint: `${stack.serving.server.url}/v1/models/rec/predict`,
    });
    expect(r.body.loaded_ms).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(stack.servingDir, 'models', `${sha1}.onnx`))).toBe(true);
  });

  test('when every user is scored, then the top-k items and scores equal direct dot products of the factors (1e-4)', async () => {
    let maxDiff = 0;
    for (let u = 0; u < V1.users; u++) {
      const r = await stack.call('POST', '/v1/models/rec/predict', { customer_index: u, k: 5 });
      expect(r.status).toBe(200);
      const items = r.body.items as { item_index: number; score: number }[];
      expect(items.map((x) => x.item_index)).toEqual(expectedTop(V1, u, 5));
      const direct = V1.scores(u);
      for (const x of items) maxDiff = Math.max(maxDiff, Math.abs(x.score - direct[x.item_index]!));
      expect(r.body).toMatchObject({ name: 'rec', version: '1', customer_index: u, k: 5 });
      expect(r.body.latency_ms).toBeGreaterThanOrEqual(r.body.inference_ms);
    }
    expect(maxDiff).toBeLessThan(1e-4);
    const alias = await stack.call('POST', '/v1/models/rec/predict', { user_index: 3 });
    expect(alias.body.items).toHaveLength(10);
    expect(alias.body.items.map((x: { item_index: number }) => x.item_index)).toEqual(expectedTop(V1, 3, 10));
  });

  test('when the same (name, version, object) is deployed again, then it answers 200 created:false; other bytes under that version are a 409', async () => {
    const again = await stack.call('POST', '/v1/models', {
      name: 'rec',
      version: '1',
      model_uri: 'storage://models/rec/v1/model.onnx',
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, version: '1', sha256: sha1, status: 'serving' });
    const conflict = await stack.call('POST', '/v1/models', {
      name: 'rec',
      version: '1',
      model_uri: 'storage://models/rec/v2/model.onnx',
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('version_conflict');
  });

  test('when models are listed, then versions, load time and prediction counts are reported', async () => {
    const list = await stack.call('GET', '/v1/models');
    expect(list.status).toBe(200);
    expect(list.body.models).toHaveLength(1);
    const one = await stack.call('GET', '/v1/models/rec');
    expect(one.body).toMatchObject({ name: 'rec', active_version: '1', predictions: V1.users + 1 });
    expect(one.body.versions[0]).toMatchObject({
      version: '1',
      status: 'serving',
      predictions: V1.users + 1,
      metadata: { accuracy: 0.5 },
    });
    expect(one.body.versions[0].loaded_ms).toBeGreaterThan(0);
    expect((await stack.call('GET', '/v1/models/nope')).status).toBe(404);
  });

  test.each([
    [
      'a wrong sha256',
      { model_uri: 'storage://models/rec/v2/model.onnx', sha256: '0'.repeat(64) },
      400,
      'sha256_mismatch',
    ],
    ['bytes that are not ONNX', { model_uri: 'storage://models/junk/model.onnx' }, 400, 'not_onnx'],
    [
      'an ONNX graph without the scoring signature',
      { model_uri: 'storage://models/identity/model.onnx' },
      400,
      'unsupported_model',
    ],
    ['an unknown object', { model_uri: 'storage://models/missing/model.onnx' }, 404, 'model_not_found'],
    [
      'encrypted: true',
      { model_uri: 'storage://models/rec/v2/model.onnx', encrypted: true },
      400,
      'encrypted_not_served',
    ],
    ['a non-storage URI', { model_uri: 'http://127.0.0.1:1/model.onnx' }, 400, 'bad_request'],
    [
      'an unknown field',
      { model_uri: 'storage://models/rec/v2/model.onnx', replicas: 3 },
      400,
      'bad_request',
    ],
  ])(
    'when a deploy names %s, then it is refused and nothing is deployed',
    async (_what, extra, status, code) => {
      const r = await stack.call('POST', '/v1/models', { name: 'bad', version: '1', ...extra });
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
      expect((await stack.call('GET', '/v1/models/bad')).status).toBe(404);
    },
  );

  test('when a deploy has a bad hash, then the message names the expected and actual hashes', async () => {
    const r = await stack.call('POST', '/v1/models', {
      name: 'bad',
      version: '1',
      model_uri: 'storage://models/rec/v2/model.onnx',
      sha256: 'a'.repeat(64),
    });
    expect(r.body.error.message).toContain('a'.repeat(64));
    expect(r.body.error.message).toContain(sha2);
  });

  test.each([
    ['an unknown model', '/v1/models/ghost/predict', { customer_index: 0 }, 404, 'unknown_model'],
    [
      'an index past the last user',
      '/v1/models/rec/predict',
      { customer_index: 40 },
      400,
      'index_out_of_range',
    ],
    ['a negative index', '/v1/models/rec/predict', { customer_index: -1 }, 400, 'bad_request'],
    ['a fractional index', '/v1/models/rec/predict', { customer_index: 1.5 }, 400, 'bad_request'],
    ['a string index', '/v1/models/rec/predict', { customer_index: '1' }, 400, 'bad_request'],
    ['no index', '/v1/models/rec/predict', { k: 3 }, 400, 'bad_request'],
    [
      'two different indices',
      '/v1/models/rec/predict',
      { customer_index: 1, user_index: 2 },
      400,
      'bad_request',
    ],
    ['k over the limit', '/v1/models/rec/predict', { customer_index: 1, k: 51 }, 400, 'bad_request'],
    [
      'an unknown version',
      '/v1/models/rec/predict',
      { customer_index: 1, version: '9' },
      404,
      'unknown_version',
    ],
  ])(
    'when a prediction asks for %s, then it is refused with a clear error',
    async (_what, p, body, status, code) => {
      const r = await stack.call('POST', p, body);
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
      expect(r.body.error.message.length).toBeGreaterThan(10);
    },
  );

  test('when the same deploy arrives twice at once (an activity retry racing the first), then it loads once: one 201, one 200', async () => {
    const body = { name: 'twin', version: 'a', model_uri: 'storage://models/rec/v2/model.onnx' };
    const [a, b] = await Promise.all([
      stack.call('POST', '/v1/models', body),
      stack.call('POST', '/v1/models', body),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect((await stack.call('GET', '/v1/models/twin')).body.versions).toHaveLength(1);
    expect((await stack.call('DELETE', '/v1/models/twin')).body).toMatchObject({
      removed: true,
      removed_versions: ['a'],
    });
  });

  test('when the inference worker dies, then the next prediction restarts it, reloads the sessions and answers', async () => {
    const host = (
      stack.serving.deployments as unknown as { d: { host: { worker?: { terminate(): Promise<number> } } } }
    ).d.host;
    await host.worker!.terminate();
    const r = await stack.call('POST', '/v1/models/rec/predict', { customer_index: 2, k: 3 });
    expect(r.status).toBe(200);
    expect(r.body.items.map((x: { item_index: number }) => x.item_index)).toEqual(expectedTop(V1, 2, 3));
    const health = await stack.call('GET', '/healthz');
    expect(health.body.runtime.workerRestarts).toBe(1);
  });

  test('when the body is not JSON or too large, then 400 / 413', async () => {
    expect((await stack.call('POST', '/v1/models/rec/predict', '{"customer_index": ')).status).toBe(400);
    const big = JSON.stringify({ customer_index: 1, pad: 'x'.repeat(100 * 1024) });
    expect((await stack.call('POST', '/v1/models/rec/predict', big)).status).toBe(413);
  });

  test('when the bearer token is missing or wrong, then 401 with WWW-Authenticate; /healthz stays open', async () => {
    const none = await stack.call('GET', '/v1/models', undefined, { authorization: '' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const wrong = await stack.call(
      'POST',
      '/v1/models/rec/predict',
      { customer_index: 1 },
      { authorization: `Bearer ${SERVICE_TOKEN}x` },
    );
    expect(wrong.status).toBe(401);
    const health = await stack.call('GET', '/healthz', undefined, { authorization: '' });
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      server: 'model-serving',
      runtime: { executionProvider: 'cpu', gpu: false },
    });
    expect(health.body.measured.predict_latency_ms.samples).toBeGreaterThan(0);
  });

  test('when the Host or Origin is foreign, then 403 (DNS-rebinding protection)', async () => {
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          `${stack.serving.server.url}/v1/models`,
          { headers: { authorization: `Bearer ${SERVICE_TOKEN}`, ...headers } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await status({ host: 'evil.example' })).toBe(403);
    expect(await status({ origin: 'https://evil.example' })).toBe(403);
  });

  test('when v2 is deployed and then undeployed (saga compensation), then v1 serves again with its own scores', async () => {
    const d2 = await stack.call('POST', '/v1/models', {
      name: 'rec',
      version: '2',
      model_uri: 'storage://models/rec/v2/model.onnx',
      sha256: sha2,
    });
    expect(d2.status).toBe(201);
    const p2 = await stack.call('POST', '/v1/models/rec/predict', { customer_index: 7, k: 3 });
    expect(p2.body.version).toBe('2');
    expect(p2.body.items.map((x: { item_index: number }) => x.item_index)).toEqual(expectedTop(V2, 7, 3));
    const pinned = await stack.call('POST', '/v1/models/rec/predict', {
      customer_index: 7,
      k: 3,
      version: '1',
    });
    expect(pinned.body.items.map((x: { item_index: number }) => x.item_index)).toEqual(expectedTop(V1, 7, 3));

    const undo = await stack.call('DELETE', '/v1/models/rec/versions/2');
    expect(undo.body).toMatchObject({ removed: true, active_version: '1' });
    const again = await stack.call('DELETE', '/v1/models/rec/versions/2');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ removed: false, active_version: '1' });
    const p1 = await stack.call('POST', '/v1/models/rec/predict', { customer_index: 7, k: 3 });
    expect(p1.body.version).toBe('1');
    expect(p1.body.items.map((x: { item_index: number }) => x.item_index)).toEqual(expectedTop(V1, 7, 3));
    // v2's local copy went with it; v1's stays.
    expect(fs.existsSync(path.join(stack.servingDir, 'models', `${sha2}.onnx`))).toBe(false);
  });

  test('when more versions are deployed than are kept, then the oldest inactive one is retired', async () => {
    await stack.call('POST', '/v1/models', {
      name: 'rec',
      version: '2',
      model_uri: 'storage://models/rec/v2/model.onnx',
    });
    const d3 = await stack.call('POST', '/v1/models', {
      name: 'rec',
      version: '3',
      model_uri: 'storage://models/rec/v3/model.onnx',
    });
    expect(d3.status).toBe(201);
    expect(d3.body).toMatchObject({ users: 12, items: 9 });
    const one = await stack.call('GET', '/v1/models/rec');
    expect(
      one.body.versions.map((v: { version: string; status: string }) => `${v.version}:${v.status}`),
    ).toEqual(['2:standby', '3:serving']);
    const out = await stack.call('POST', '/v1/models/rec/predict', { customer_index: 12 });
    expect(out.body.error.code).toBe('index_out_of_range');
  });

  test('when the service restarts (storage down), then it reloads the active models from its data dir and keeps counts', async () => {
    const before = await stack.call('GET', '/v1/models/rec');
    await stack.serving.close();
    await stack.storage.close();
    const restarted = await startModelServingServer(baseConfig(stack.servingDir), {
      ...stack.options,
      storageUrl: 'http://127.0.0.1:9',
    });
    try {
      const base = restarted.server.url;
      const got = await stack.call('GET', '/v1/models/rec', undefined, {}, base);
      expect(got.body.active_version).toBe('3');
      expect(got.body.predictions).toBe(before.body.predictions);
      expect(got.body.versions.map((v: { status: string }) => v.status)).toEqual(['standby', 'serving']);
      const p = await stack.call('POST', '/v1/models/rec/predict', { customer_index: 5, k: 4 }, {}, base);
      expect(p.status).toBe(200);
      expect(p.body.items.map((x: { item_index: number }) => x.item_index)).toEqual(expectedTop(V3, 5, 4));

      // Measured on this host: sequential predictions over real HTTP.
      const lat: number[] = [];
      const server: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        const r = await stack.call(
          'POST',
          '/v1/models/rec/predict',
          { customer_index: i % 12, k: 5 },
          {},
          base,
        );
        lat.push(performance.now() - t0);
        server.push(r.body.latency_ms);
      }
      lat.sort((a, b) => a - b);
      server.sort((a, b) => a - b);
      process.stderr.write(
        `model-serving predict latency (200 sequential, 12x9 model): client p50 ${lat[100]!.toFixed(2)} ms p95 ${lat[190]!.toFixed(2)} ms; ` +
          `server p50 ${server[100]!.toFixed(2)} ms p95 ${server[190]!.toFixed(2)} ms\n`,
      );

      const del = await stack.call('DELETE', '/v1/models/rec', undefined, {}, base);
      expect(del.body).toMatchObject({ removed: true, removed_versions: ['2', '3'] });
      expect((await stack.call('DELETE', '/v1/models/rec', undefined, {}, base)).body).toMatchObject({
        removed: false,
      });
      expect(
        (await stack.call('POST', '/v1/models/rec/predict', { customer_index: 1 }, {}, base)).status,
      ).toBe(404);
      expect(fs.readdirSync(path.join(stack.servingDir, 'models'))).toEqual([]);
    } finally {
      await restarted.close();
    }
  });
});
