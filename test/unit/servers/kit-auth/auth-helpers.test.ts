import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  jwtAuthenticator,
  protectedResourceMetadata,
  scopeSatisfied,
  tokenScopes,
  toolScopeFor,
  TokenProvider,
  TokenRequestError,
} from '../../../../src/servers/kit/auth';

describe('scope helpers', () => {
  test('read-only tools accept read, write or the tool scope; other and unknown tools need write or the tool scope', () => {
    const scopeFor = toolScopeFor('data', ['sql_query', 'server_info']);
    expect(scopeFor('sql_query')).toEqual(['data:read', 'data:write', 'data/sql_query']);
    expect(scopeFor('data_export')).toEqual(['data:write', 'data/data_export']);
    expect(scopeFor('')).toEqual(['data:write', 'data/']);
    expect(scopeSatisfied(['data:read'], scopeFor('sql_query'))).toBe(true);
    expect(scopeSatisfied(['data:read'], scopeFor('data_export'))).toBe(false);
    expect(scopeSatisfied(['data/data_export'], scopeFor('data_export'))).toBe(true);
    expect(scopeSatisfied(['compute:write'], scopeFor('data_export'))).toBe(false);
    expect(scopeSatisfied([], undefined)).toBe(true);
  });

  test('token scopes come from the space-separated scope claim or an scp array', () => {
    expect(tokenScopes({ scope: 'a b  c' })).toEqual(['a', 'b', 'c']);
    expect(tokenScopes({ scp: ['a', 1, 'b'] })).toEqual(['a', 'b']);
    expect(tokenScopes({})).toEqual([]);
  });

  test('when configured with none or an HS* algorithm, then jwtAuthenticator refuses to start', () => {
    const base = { issuer: 'http://127.0.0.1:1', jwksUrl: 'http://127.0.0.1:1/jwks', audience: 'mcp:x' };
    expect(() => jwtAuthenticator({ ...base, algorithms: ['ES256', 'HS256'] })).toThrow(
      /HS256 is not allowed/,
    );
    expect(() => jwtAuthenticator({ ...base, algorithms: ['none'] })).toThrow(/none is not allowed/);
    expect(() => jwtAuthenticator(base)).not.toThrow();
  });

  test('protected-resource metadata follows RFC 9728 field names', () => {
    expect(
      protectedResourceMetadata({
        resource: 'mcp:data',
        authorizationServers: () => ['http://127.0.0.1:8005'],
      }),
    ).toEqual({
      resource: 'mcp:data',
      authorization_servers: ['http://127.0.0.1:8005'],
      bearer_methods_supported: ['header'],
      resource_signing_alg_values_supported: ['ES256', 'EdDSA'],
    });
  });
});

describe('TokenProvider', () => {
  let server: http.Server;
  let url: string;
  let issued = 0;
  let lastAuth: string | undefined;
  let lastBody = '';
  let reply: { status: number; body: Record<string, unknown> } | undefined;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        lastAuth = req.headers.authorization;
        lastBody = body;
        const r = reply ?? {
          status: 200,
          body: { access_token: `tok-${++issued}`, token_type: 'Bearer', expires_in: 2 },
        };
        setTimeout(() => {
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(r.body));
        }, 20);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    reply = undefined;
  });

  test('when many callers ask at once, then one request is made; the token is reused until the refresh point, then renewed', async () => {
    const start = issued;
    const tp = new TokenProvider({
      tokenUrl: url,
      clientId: 'orchestrator-data',
      clientSecret: 's3cr:et+/',
      audience: 'mcp:data',
      refreshSkewS: 1,
    });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => tp.getToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(issued - start).toBe(1);
    // client_secret_basic with RFC 6749 form-encoding of id and secret.
    expect(Buffer.from(lastAuth!.replace(/^Basic /, ''), 'base64').toString()).toBe(
      'orchestrator-data:s3cr%3Aet%2B%2F',
    );
    expect(new URLSearchParams(lastBody).get('audience')).toBe('mcp:data');
    expect(await tp.getToken()).toBe(tokens[0]);
    await new Promise((r) => setTimeout(r, 1100));
    const renewed = await tp.getToken();
    expect(renewed).not.toBe(tokens[0]);
    expect(issued - start).toBe(2);
  });

  test('when client_secret_post is chosen, then the credentials go in the form body', async () => {
    const tp = new TokenProvider({
      tokenUrl: url,
      clientId: 'c',
      clientSecret: 's',
      audience: 'mcp:data',
      scope: 'data:read',
      authMethod: 'client_secret_post',
    });
    await tp.getToken();
    expect(lastAuth).toBeUndefined();
    expect(Object.fromEntries(new URLSearchParams(lastBody))).toMatchObject({
      client_id: 'c',
      client_secret: 's',
      scope: 'data:read',
      grant_type: 'client_credentials',
    });
  });

  test('when the endpoint refuses or is unreachable, then TokenRequestError carries the status and OAuth error', async () => {
    reply = { status: 401, body: { error: 'invalid_client', error_description: 'nope' } };
    const tp = new TokenProvider({ tokenUrl: url, clientId: 'c', clientSecret: 's', audience: 'mcp:data' });
    await expect(tp.getToken()).rejects.toMatchObject({ status: 401, error: 'invalid_client' });
    const down = new TokenProvider({
      tokenUrl: 'http://127.0.0.1:1/oauth/token',
      clientId: 'c',
      clientSecret: 's',
      audience: 'mcp:data',
      timeoutMs: 2000,
    });
    await expect(down.getToken()).rejects.toBeInstanceOf(TokenRequestError);
    await expect(down.getToken()).rejects.toMatchObject({ status: 0 });
  });
});
