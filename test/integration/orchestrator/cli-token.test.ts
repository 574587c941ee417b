import { cli } from './helpers';
import { startTestStack, type TestStack } from '../../harness/test-stack';

jest.setTimeout(120_000);

describe('mcp-orch token', () => {
  let stack: TestStack;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    stack = await startTestStack({ groups: ['data'] });
    env = { MCP_AUTH: 'jwt', MCP_AUTH_ISSUER: stack.issuer, MCP_CLIENT_CREDENTIALS_FILE: stack.credentialsFile };
  });
  afterAll(async () => stack?.close());

  async function status(token: string, tool: string): Promise<number> {
    const res = await fetch(stack.serverUrls.data!, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: { sql: 'SELECT 1' } } }),
    });
    return res.status;
  }

  it('when asked for a token, then it prints one the server accepts, read-only unless --write', async () => {
    const ro = await cli(['token', 'data'], env);
    expect(ro.code).toBe(0);
    expect(ro.stderr).toMatch(/token for mcp:data \(client orchestrator, scopes: .*data:read/);
    const token = ro.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const listed = await fetch(stack.serverUrls.data!, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(listed.status).toBe(200);

    const rw = await cli(['token', 'data', '--write'], env);
    expect(rw.code).toBe(0);
    expect(rw.stderr).toMatch(/client orchestrator-data, scopes: .*data:write/);
    expect(await status(rw.stdout.trim(), 'sql_query')).toBe(200);
  });

  it('when the issuer is unreachable or auth is off, then it says so in one line', async () => {
    const down = await cli(['token', 'data'], { ...env, MCP_AUTH_ISSUER: 'http://127.0.0.1:1' });
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(/cannot get a token for 'data'/);
    expect(down.stderr).not.toMatch(/\n\s+at /);
    const off = await cli(['token', 'data'], { ...env, MCP_AUTH: 'off' });
    expect(off.code).not.toBe(0);
    expect(off.stderr).toMatch(/authentication is off/);
  });
});
