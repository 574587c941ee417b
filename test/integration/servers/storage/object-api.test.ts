import crypto from 'node:crypto';
import { ObjectStoreClient } from '../../../../src/servers/kit';
import { TOKEN, auth, rawRequest, startFixture, type StorageFixture } from './storage-fixture';

describe('storage HTTP object API', () => {
  let fx: StorageFixture;
  let objects: ObjectStoreClient;
  beforeAll(async () => {
    fx = await startFixture({ maxObjectBytes: 64 * 1024 });
    objects = new ObjectStoreClient({ baseUrl: fx.url, token: async () => TOKEN });
  });
  afterAll(async () => {
    await fx.close();
  });

  it('when bytes are PUT with the service token, then 201 returns the StoredObject and GET returns the same bytes and sha256', async () => {
    const body = crypto.randomBytes(3000);
    const stored = await objects.put('datasets/extract.bin', body, { metadata: { rows: 12 } });
    expect(stored).toMatchObject({
      uri: 'storage://datasets/extract.bin',
      key: 'datasets/extract.bin',
      version: 1,
      size: 3000,
      metadata: { rows: 12 },
    });
    expect(stored.sha256).toBe(crypto.createHash('sha256').update(body).digest('hex'));
    const got = await objects.get(stored.uri);
    expect(Buffer.from(got.bytes).equals(body)).toBe(true);
    expect(got.sha256).toBe(stored.sha256);
    expect(got.version).toBe(1);
  });

  it('when a key is PUT twice, then versions 1 and 2 exist and ?version=1 still returns the first bytes', async () => {
    await objects.put('v/file.txt', Buffer.from('one'));
    const second = await objects.put('v/file.txt', Buffer.from('two'));
    expect(second.version).toBe(2);
    const v1 = await rawRequest(fx.url, 'GET', '/objects/v/file.txt?version=1', { headers: auth });
    expect(v1.status).toBe(200);
    expect(v1.body.toString()).toBe('one');
    expect(v1.headers['x-object-version']).toBe('1');
    const latest = await objects.get('v/file.txt');
    expect(Buffer.from(latest.bytes).toString()).toBe('two');
  });

  it('when the same X-Idempotency-Key is sent twice, then one version is created and the replay says so', async () => {
    const first = await rawRequest(fx.url, 'PUT', '/objects/idem/once.txt', {
      headers: { ...auth, 'x-idempotency-key': 'wf-1:step-3' },
      body: Buffer.from('a'),
    });
    const again = await rawRequest(fx.url, 'PUT', '/objects/idem/once.txt', {
      headers: { ...auth, 'x-idempotency-key': 'wf-1:step-3' },
      body: Buffer.from('a'),
    });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(JSON.parse(again.body.toString())).toEqual(JSON.parse(first.body.toString()));
    expect(again.headers['x-idempotent-replayed']).toBe('true');
    const head = await rawRequest(fx.url, 'HEAD', '/objects/idem/once.txt', { headers: auth });
    expect(head.headers['x-object-version']).toBe('1');
  });

  it('when HEAD asks for an existing and a missing key, then 200 with headers and 404', async () => {
    await objects.put('h/x.txt', Buffer.from('xyz'));
    const ok = await rawRequest(fx.url, 'HEAD', '/objects/h/x.txt', { headers: auth });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-object-sha256']).toBe(crypto.createHash('sha256').update('xyz').digest('hex'));
    expect(ok.headers['content-length']).toBe('3');
    const missing = await rawRequest(fx.url, 'HEAD', '/objects/h/nothing.txt', { headers: auth });
    expect(missing.status).toBe(404);
  });

  it('when GET names a missing key, then 404 and the client reports not found', async () => {
    await expect(objects.get('nope/missing.bin')).rejects.toThrow(/not found/);
  });

  it('when the token is missing or wrong, then 401 with WWW-Authenticate and nothing is stored', async () => {
    const none = await rawRequest(fx.url, 'PUT', '/objects/auth/x.txt', { body: Buffer.from('x') });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await rawRequest(fx.url, 'PUT', '/objects/auth/x.txt', {
      headers: { authorization: `Bearer ${TOKEN}x` },
      body: Buffer.from('x'),
    });
    expect(wrong.status).toBe(401);
    const get = await rawRequest(fx.url, 'GET', '/objects/auth/x.txt', {
      headers: { authorization: 'Bearer nope' },
    });
    expect(get.status).toBe(401);
    const head = await rawRequest(fx.url, 'HEAD', '/objects/auth/x.txt', { headers: auth });
    expect(head.status).toBe(404);
  });

  it('when the body is over the object limit, then 413 (declared length and chunked stream alike) and nothing is stored', async () => {
    const big = Buffer.alloc(64 * 1024 + 1);
    const declared = await rawRequest(fx.url, 'PUT', '/objects/big/declared.bin', {
      headers: auth,
      body: big,
    });
    expect(declared.status).toBe(413);
    const res = await fetch(`${fx.url}/objects/big/chunked.bin`, {
      method: 'PUT',
      headers: auth,
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(16 * 1024));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    const head = await rawRequest(fx.url, 'HEAD', '/objects/big/chunked.bin', { headers: auth });
    expect(head.status).toBe(404);
  });

  it('when X-Object-Metadata is not a JSON object, then 400 names the header', async () => {
    const r = await rawRequest(fx.url, 'PUT', '/objects/meta/x.txt', {
      headers: { ...auth, 'x-object-metadata': encodeURIComponent('[1,2]') },
      body: Buffer.from('x'),
    });
    expect(r.status).toBe(400);
    expect(r.body.toString()).toMatch(/X-Object-Metadata/);
  });

  it('when an unsupported method or a bad version is used, then 405 and 400', async () => {
    const del = await rawRequest(fx.url, 'DELETE', '/objects/h/x.txt', { headers: auth });
    expect(del.status).toBe(405);
    const badVersion = await rawRequest(fx.url, 'GET', '/objects/h/x.txt?version=0', { headers: auth });
    expect(badVersion.status).toBe(400);
  });
});
