import { loadSecurityConfig } from '../../../../src/servers/security/config';

describe('security server configuration', () => {
  test('when env variables are set, then they are parsed into typed config with defaults for the rest', () => {
    const cfg = loadSecurityConfig({
      MCP_SECURITY_PORT: '0',
      MCP_SECURITY_DATA_DIR: '/tmp/sec-cfg',
      MCP_SECURITY_TOKEN_TTL_S: '90',
      MCP_SECURITY_SERVER_GROUPS: 'data, compute',
      MCP_STORAGE_URL: 'http://127.0.0.1:8003',
      MCP_SECURITY_REQUIRE_AUTH: 'true',
    });
    expect(cfg).toMatchObject({
      port: 0,
      dataDir: '/tmp/sec-cfg',
      tokenTtlS: 90,
      serverGroups: ['data', 'compute'],
      storageUrl: 'http://127.0.0.1:8003',
      requireAuth: true,
      maxConcurrentCrypto: 2,
      tokenRequestsPerMinute: 120,
    });
    expect(loadSecurityConfig({ MCP_SECURITY_DATA_DIR: '/tmp/x' })).toMatchObject({
      port: 8005,
      requireAuth: false,
    });
  });

  test('when a value is out of range or malformed, then start-up fails naming the field', () => {
    expect(() => loadSecurityConfig({ MCP_SECURITY_TOKEN_TTL_S: '86400' })).toThrow(/tokenTtlS/);
    expect(() => loadSecurityConfig({ MCP_SECURITY_SERVER_GROUPS: 'Data Server' })).toThrow(/serverGroups/);
    expect(() => loadSecurityConfig({ MCP_STORAGE_URL: 'not a url' })).toThrow(/storageUrl/);
  });
});
