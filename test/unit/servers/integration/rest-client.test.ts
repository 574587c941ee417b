import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  performRestCall,
  RestCallError,
  type RestRequest,
} from '../../../../src/servers/integration/rest-client';
import { parseAllowlist, SsrfError, type Resolver } from '../../../../src/servers/integration/ssrf-guard';

/** A 127.0.0.1 listener whose behaviour is chosen per path, recording what reached it. */
async function listen(handler: http.RequestListener) {
  const seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    seen,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const base: Omit<RestRequest, 'url'> = {
  method: 'GET',
  timeoutMs: 5000,
  maxResponseBytes: 1024,
  maxRedirects: 3,
};

describe('performRestCall', () => {
  let target: Awaited<ReturnType<typeof listen>>;
  let outsider: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    outsider = await listen((_req, res) => res.end('should never be reached'));
    target = await listen((req, res) => {
      const url = req.url ?? '/';
      if (url === '/json')
        return void res
          .setHeader('content-type', 'application/json')
          .setHeader('set-cookie', 'sid=1')
          .end('{"a":1}');
      if (url === '/big') return void res.setHeader('content-type', 'text/plain').end('x'.repeat(5000));
      if (url === '/slow') return void setTimeout(() => res.end('late'), 2000).unref();
      if (url === '/hop') return void res.writeHead(302, { location: '/json' }).end();
      if (url === '/loop') return void res.writeHead(302, { location: '/loop' }).end();
      if (url === '/to-outsider') return void res.writeHead(302, { location: `${outsider.origin}/` }).end();
      if (url === '/to-metadata')
        return void res.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (url === '/to-file') return void res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      if (url === '/post-303') return void res.writeHead(303, { location: '/echo' }).end();
      if (url === '/echo') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () =>
          res
            .setHeader('content-type', 'application/json')
            .end(JSON.stringify({ method: req.method, body, host: req.headers.host })),
        );
        return;
      }
      res.end('ok');
    });
  });
  afterAll(async () => {
    await target.close();
    await outsider.close();
  });

  const allow = () => parseAllowlist([target.origin, `http://api.test:${target.port}`]);

  it('when the response is JSON, then it is parsed and set-cookie is filtered out', async () => {
    const r = await performRestCall({ ...base, url: `${target.origin}/json` }, { allow: allow() });
    expect(r).toMatchObject({ status: 200, ok: true, bodyKind: 'json', json: { a: 1 }, truncated: false });
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(r.headers['content-type']).toBe('application/json');
  });

  it('when the body exceeds the cap, then it is truncated with a flag', async () => {
    const r = await performRestCall({ ...base, url: `${target.origin}/big` }, { allow: allow() });
    expect(r.truncated).toBe(true);
    expect(r.bodyBytes).toBe(1024);
    expect(r.text).toHaveLength(1024);
  });

  it('when a name is resolved, then the connection goes to the vetted address with the original Host', async () => {
    let lookups = 0;
    const resolve: Resolver = async (h) => {
      lookups++;
      // A rebinding resolver: the second answer would be somewhere else; it must never be asked again.
      return h === 'api.test' && lookups === 1 ? ['127.0.0.1'] : ['10.9.9.9'];
    };
    const r = await performRestCall(
      { ...base, method: 'POST', url: `http://api.test:${target.port}/echo`, json: { x: 1 } },
      { allow: allow(), resolve },
    );
    expect(r.json).toEqual({ method: 'POST', body: '{"x":1}', host: `api.test:${target.port}` });
    expect(r.connectedAddress).toBe('127.0.0.1');
    expect(lookups).toBe(1);
  });

  it('when redirected within the allowlisted origin, then the hop is followed and recorded', async () => {
    const r = await performRestCall({ ...base, url: `${target.origin}/hop` }, { allow: allow() });
    expect(r.status).toBe(200);
    expect(r.finalUrl).toBe(`${target.origin}/json`);
    expect(r.redirects).toEqual([{ status: 302, location: `${target.origin}/json` }]);
  });

  it('when a POST gets 303, then the next hop is a bodiless GET', async () => {
    const r = await performRestCall(
      { ...base, method: 'POST', url: `${target.origin}/post-303`, text: 'payload' },
      { allow: allow() },
    );
    expect(r.json).toMatchObject({ method: 'GET', body: '' });
  });

  it.each([
    ['/to-outsider', 'not_allowlisted'],
    ['/to-metadata', 'not_allowlisted'],
    ['/to-file', 'scheme_not_allowed'],
  ])('when redirected by %s, then the hop is refused before connecting', async (path, reason) => {
    const before = outsider.connections();
    const err = await performRestCall({ ...base, url: `${target.origin}${path}` }, { allow: allow() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SsrfError);
    expect((err as SsrfError).reason).toBe(reason);
    expect(outsider.connections()).toBe(before);
  });

  it('when redirected to a private address admitted by a wildcard, then the internal block still refuses it', async () => {
    const wide = parseAllowlist(['*:*', target.origin]);
    const err = await performRestCall(
      { ...base, url: `${target.origin}/to-outsider` },
      { allow: wide },
    ).catch((e: unknown) => e);
    expect((err as SsrfError).reason).toBe('blocked_address');
    const err2 = await performRestCall(
      { ...base, url: `${target.origin}/to-metadata` },
      { allow: wide },
    ).catch((e: unknown) => e);
    expect((err2 as SsrfError).reason).toBe('blocked_address');
  });

  it('when redirects loop, then the call fails after maxRedirects', async () => {
    const err = await performRestCall({ ...base, url: `${target.origin}/loop` }, { allow: allow() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RestCallError);
    expect((err as RestCallError).code).toBe('too_many_redirects');
  });

  it('when the upstream is slower than timeoutMs, then the call fails with timeout', async () => {
    const started = Date.now();
    const err = await performRestCall(
      { ...base, url: `${target.origin}/slow`, timeoutMs: 200 },
      { allow: allow() },
    ).catch((e: unknown) => e);
    expect((err as RestCallError).code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('when nothing listens on an allowlisted origin, then the call fails as unreachable', async () => {
    const dead = await listen((_q, s) => s.end());
    await dead.close();
    const err = await performRestCall(
      { ...base, url: `${dead.origin}/` },
      { allow: parseAllowlist([dead.origin]) },
    ).catch((e: unknown) => e);
    expect((err as RestCallError).code).toBe('upstream_unreachable');
  });
});
