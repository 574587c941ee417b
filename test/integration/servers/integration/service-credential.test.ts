import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startIntegrationServer } from '../../../../src/servers/integration/main';
import { callOk, callTool, connectMcp, errorText } from '../../../harness/mcp-client';
import { listen, testConfig, type Listener } from './helpers';

/** The gateway attaches the stack's service credential itself, so no secret travels in pipeline args. */
describe('rest_call credential "service"', () => {
  let allowed: Listener;
  let other: Listener;
  let server: Awaited<ReturnType<typeof startIntegrationServer>>;
  let client: Client;

  beforeAll(async () => {
    allowed = await listen((_req, _body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    other = await listen((_req, _body, res) => res.writeHead(200).end('x'));
    server = await startIntegrationServer(testConfig({ allow: [allowed.origin, `127.0.0.1:${other.port}`], serviceToken: 'svc-secret-123' }));
    client = await connectMcp(server.server.mcpUrl);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    await allowed?.close();
    await other?.close();
  });

  it('when asked for, then the service token reaches an exactly-allowlisted origin as a bearer token', async () => {
    const r = await callOk<{ status: number }>(client, 'rest_call', { method: 'POST', url: `${allowed.origin}/v1/models`, json: { a: 1 }, credential: 'service' });
    expect(r.status).toBe(200);
    expect(allowed.requests.at(-1)!.headers.authorization).toBe('Bearer svc-secret-123');
  });

  it('when not asked for, then no authorization header is sent', async () => {
    await callOk(client, 'rest_call', { url: `${allowed.origin}/plain` });
    expect(allowed.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('when the origin is allowed only by a pattern, then the credential is refused and nothing is sent', async () => {
    const before = other.requests.length;
    const r = await callTool(client, 'rest_call', { url: `${other.origin}/x`, credential: 'service' });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toContain('only to origins listed exactly in the allowlist');
    expect(other.requests.length).toBe(before);
  });

  it('when expectStatus is given and the answer differs, then the call fails with the status and body', async () => {
    const ok = await callOk<{ status: number }>(client, 'rest_call', { url: `${allowed.origin}/x`, expectStatus: [200] });
    expect(ok.status).toBe(200);
    const r = await callTool(client, 'rest_call', { url: `${allowed.origin}/x`, expectStatus: [201] });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toMatch(/answered HTTP 200 \(expected 201\): \{"ok":true\}/);
  });

  it('when the caller also sets authorization, then the call is refused', async () => {
    const r = await callTool(client, 'rest_call', { url: `${allowed.origin}/x`, headers: { Authorization: 'Bearer mine' }, credential: 'service' });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toContain('not both');
  });
});
