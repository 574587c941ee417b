import type { Request } from 'express';
import { loadIntegrationConfig } from '../../../../src/servers/integration/config';
import { identifyClient } from '../../../../src/servers/integration/rate-limiter';
import type { RequestAuthenticator } from '../../../../src/servers/kit';

function req(headers: Record<string, string>): Request {
  return { headers, socket: { remoteAddress: '127.0.0.1' } } as unknown as Request;
}

describe('loadIntegrationConfig', () => {
  it('when env vars are set, then they are parsed and the allowlist is kept in order', () => {
    const c = loadIntegrationConfig({
      MCP_INTEGRATION_DATA_DIR: '/tmp/x',
      MCP_INTEGRATION_ALLOW: 'http://127.0.0.1:8007, *.example.com:443',
      TEMPORAL_ADDRESS: '127.0.0.1:7999',
      MCP_INTEGRATION_RATE_CAPACITY: '5',
    });
    expect(c).toMatchObject({
      port: 8004,
      allow: ['http://127.0.0.1:8007', '*.example.com:443'],
      temporalAddress: '127.0.0.1:7999',
      rateCapacity: 5,
    });
    expect(c.temporalNamespace).toBe('default');
  });

  it('when an allowlist entry or number is invalid, then start-up fails naming it', () => {
    expect(() => loadIntegrationConfig({ MCP_INTEGRATION_ALLOW: 'gopher://x' })).toThrow(/gopher:\/\/x/);
    expect(() => loadIntegrationConfig({ MCP_INTEGRATION_RATE_CAPACITY: 'lots' })).toThrow(/rateCapacity/);
  });
});

describe('identifyClient', () => {
  const auth: RequestAuthenticator = async (r) =>
    r.headers.authorization === 'Bearer good'
      ? { ok: true, info: { token: 'good', clientId: 'svc-a', scopes: [] } }
      : { ok: false, status: 401, error: 'invalid_token', description: 'bad' };

  it('when auth exists and the token verifies, then the client is its subject', async () => {
    expect(await identifyClient(req({ authorization: 'Bearer good', 'x-client-id': 'spoof' }), auth)).toBe(
      'sub:svc-a',
    );
  });

  it('when auth exists and the token does not verify, then neither token nor header names the client', async () => {
    expect(await identifyClient(req({ authorization: 'Bearer forged', 'x-client-id': 'svc-a' }), auth)).toBe(
      'ip:127.0.0.1',
    );
  });

  it('when there is no auth, then x-client-id names the client, else the remote address', async () => {
    expect(await identifyClient(req({ 'x-client-id': 'alice' }))).toBe('alice');
    expect(await identifyClient(req({ 'x-client-id': 'bad id with spaces' }))).toBe('ip:127.0.0.1');
    expect(await identifyClient(req({}))).toBe('ip:127.0.0.1');
  });
});
