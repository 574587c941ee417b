import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { authSettingsFromEnv, DEFAULT_AUTH_ISSUER } from '../../../src/servers/kit/auth';
import { defaultCredentialsFile, tokenSourceFromEnv } from '../../../src/servers/kit/client-auth';
import { loadBaseServerConfig } from '../../../src/servers/kit/config';

describe('MCP_AUTH settings', () => {
  it('when nothing is set, then JWT auth is on against the local security server', () => {
    expect(authSettingsFromEnv({})).toEqual({
      mode: 'jwt',
      issuer: DEFAULT_AUTH_ISSUER,
      jwksUrl: `${DEFAULT_AUTH_ISSUER}/.well-known/jwks.json`,
    });
  });

  it('when MCP_AUTH=off, then auth is off (the documented switch)', () => {
    expect(authSettingsFromEnv({ MCP_AUTH: 'OFF' })).toEqual({ mode: 'off' });
  });

  it('when MCP_AUTH has a typo, then start-up fails rather than running open', () => {
    expect(() => authSettingsFromEnv({ MCP_AUTH: 'of' })).toThrow(/MCP_AUTH must be 'jwt' or 'off', got 'of'/);
  });

  it('when the issuer and JWKS URL are set, then they are used (trailing slash dropped)', () => {
    expect(
      authSettingsFromEnv({ MCP_AUTH_ISSUER: 'http://127.0.0.1:9005/', MCP_AUTH_JWKS_URL: 'http://127.0.0.1:9005/keys' }),
    ).toEqual({ mode: 'jwt', issuer: 'http://127.0.0.1:9005', jwksUrl: 'http://127.0.0.1:9005/keys' });
  });

  it('when the issuer is not an http URL, then the variable is named', () => {
    expect(() => authSettingsFromEnv({ MCP_AUTH_ISSUER: 'file:///etc/passwd' })).toThrow(/MCP_AUTH_ISSUER/);
    expect(() => authSettingsFromEnv({ MCP_AUTH_JWKS_URL: 'not a url' })).toThrow(/MCP_AUTH_JWKS_URL/);
  });

  it('when MCP_<NAME>_CLIENT_RATE_PER_MIN or MCP_CLIENT_RATE_PER_MIN is set, then the base config carries it', () => {
    expect(loadBaseServerConfig('data', 0, { MCP_CLIENT_RATE_PER_MIN: '30' }).clientRateLimitPerMinute).toBe(30);
    expect(
      loadBaseServerConfig('data', 0, { MCP_CLIENT_RATE_PER_MIN: '30', MCP_DATA_CLIENT_RATE_PER_MIN: '7' }).clientRateLimitPerMinute,
    ).toBe(7);
    expect(loadBaseServerConfig('data', 0, {}).clientRateLimitPerMinute).toBeUndefined();
    expect(() => loadBaseServerConfig('data', 0, { MCP_CLIENT_RATE_PER_MIN: '-3' })).toThrow(/clientRateLimitPerMinute/);
  });
});

describe('worker token source from the environment', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kit-client-auth-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const writeSecrets = (file: string, mode: number) => {
    fs.writeFileSync(
      file,
      JSON.stringify({ clients: [{ clientId: 'orchestrator-data', clientSecret: 's3cret', audiences: ['mcp:data'], scopes: ['data:read'] }] }),
      { mode },
    );
    fs.chmodSync(file, mode);
  };

  it('when MCP_AUTH=off, then workers get no token source', () => {
    expect(tokenSourceFromEnv('orchestrator-data', { MCP_AUTH: 'off' })).toBeUndefined();
  });

  it('when only the data root is set, then credentials come from <root>/security/clients.secret.json', () => {
    expect(defaultCredentialsFile({ MCP_DATA_ROOT: '/srv/mcp' })).toBe('/srv/mcp/security/clients.secret.json');
    const root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'security'), { recursive: true });
    writeSecrets(path.join(root, 'security', 'clients.secret.json'), 0o600);
    const src = tokenSourceFromEnv('orchestrator-data', { MCP_DATA_ROOT: root, MCP_AUTH_ISSUER: 'http://127.0.0.1:1' })!;
    expect(src.opts.tokenUrl).toBe('http://127.0.0.1:1/oauth/token');
    expect(src.credentials()).toEqual({ clientId: 'orchestrator-data', clientSecret: 's3cret' });
  });

  it('when MCP_CLIENT_ID and MCP_CLIENT_SECRET are set, then they win over the file', () => {
    const src = tokenSourceFromEnv('orchestrator-data', { MCP_CLIENT_ID: 'custom', MCP_CLIENT_SECRET: 'xyz' })!;
    expect(src.credentials()).toEqual({ clientId: 'custom', clientSecret: 'xyz' });
  });

  it('when the credentials file is readable by others, then the worker refuses it and names the file and variable', () => {
    const file = path.join(dir, 'loose.json');
    writeSecrets(file, 0o644);
    const src = tokenSourceFromEnv('orchestrator-data', { MCP_CLIENT_CREDENTIALS_FILE: file })!;
    expect(() => src.credentials()).toThrow(/loose\.json.*MCP_CLIENT_CREDENTIALS_FILE.*must be 0600/);
  });

  it('when the client is not in the file, then the error names the client', () => {
    const file = path.join(dir, 'ok.json');
    writeSecrets(file, 0o600);
    const src = tokenSourceFromEnv('orchestrator-storage', { MCP_CLIENT_CREDENTIALS_FILE: file })!;
    expect(() => src.credentials()).toThrow(/orchestrator-storage not found/);
  });

  it('when the token endpoint is unreachable, then tokenFor rejects with the endpoint in the message', async () => {
    const src = tokenSourceFromEnv('x', { MCP_CLIENT_ID: 'x', MCP_CLIENT_SECRET: 'y', MCP_AUTH_ISSUER: 'http://127.0.0.1:1' })!;
    await expect(src.tokenFor('data')).rejects.toThrow(/127\.0\.0\.1:1\/oauth\/token unreachable/);
  });
});
