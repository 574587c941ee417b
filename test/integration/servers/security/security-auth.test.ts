import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readClientCredentials, TokenProvider } from '../../../../src/servers/kit/auth';
import { startSecurityServer, type StartedSecurityServer } from '../../../../src/servers/security/main';
import { callOk, callTool, connectMcp } from '../../../harness/mcp-client';

jest.setTimeout(30_000);

let dir: string;
let sec: StartedSecurityServer;
const tokenFor = (clientId: string, audience = 'mcp:security') =>
  new TokenProvider({
    tokenUrl: `${sec.server.url}/oauth/token`,
    clientId,
    clientSecret: readClientCredentials(path.join(dir, 'clients.secret.json'), clientId).clientSecret,
    audience,
  }).getToken();

async function rawCall(token: string | undefined, tool: string) {
  const res = await fetch(sec.server.mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: tool, arguments: {} },
    }),
  });
  await res.text();
  return { status: res.status, wwwAuth: res.headers.get('www-authenticate') ?? '' };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-authn-'));
  sec = await startSecurityServer({ host: '127.0.0.1', port: 0, dataDir: dir, requireAuth: true });
});
afterAll(async () => {
  await sec?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('security server with MCP_SECURITY_REQUIRE_AUTH', () => {
  test('when the security group client calls tools with its token, then they run and the audit names it as actor', async () => {
    const client = await connectMcp(sec.server.mcpUrl, await tokenFor('orchestrator-security'));
    try {
      const rot = await callOk<{ kid: string }>(client, 'rotate_master_key', { reason: 'auth test' });
      const e = await callOk<{ seq: number }>(client, 'audit_log', {
        actor: 'wf-1',
        action: 'data.access',
        resource: 'table:t',
        outcome: 'success',
      });
      const q = await callOk<{
        entries: { actor: string; action: string; details: Record<string, unknown> }[];
      }>(client, 'query_audit', { action: 'key.rotate_master' });
      expect(q.entries.at(-1)).toMatchObject({ actor: 'orchestrator-security', details: { kid: rot.kid } });
      const mine = await callOk<{ entries: { seq: number; details: Record<string, unknown> }[] }>(
        client,
        'query_audit',
        { sinceSeq: e.seq, limit: 1 },
      );
      expect(mine.entries[0]!.details.submittedBy).toBe('orchestrator-security');
    } finally {
      await client.close();
    }
  });

  test('when a token is missing, for another audience, or read-only on a write tool, then 401/403; each call is audited once', async () => {
    const before = sec.deps.audit.count;
    const readOnly = await tokenFor('orchestrator');
    const dataToken = await tokenFor('orchestrator-data', 'mcp:data');
    const writer = await tokenFor('orchestrator-security');
    const plan = [
      { token: undefined, tool: 'server_info', status: 401, outcome: 'deny', actor: 'anonymous' },
      { token: dataToken, tool: 'server_info', status: 401, outcome: 'deny', actor: 'anonymous' },
      { token: readOnly, tool: 'rotate_master_key', status: 403, outcome: 'deny', actor: 'orchestrator' },
      { token: readOnly, tool: 'server_info', status: 200, outcome: 'allow', actor: 'orchestrator' },
      {
        token: writer,
        tool: 'verify_audit_chain',
        status: 200,
        outcome: 'allow',
        actor: 'orchestrator-security',
      },
    ];
    for (const p of plan) {
      const r = await rawCall(p.token, p.tool);
      expect({ tool: p.tool, status: r.status }).toEqual({ tool: p.tool, status: p.status });
      if (p.status !== 200) expect(r.wwwAuth).toMatch(/^Bearer error="(invalid_token|insufficient_scope)"/);
    }
    const calls = sec.deps.audit.query({ sinceSeq: before + 1, action: 'mcp.call' }, 100).entries;
    expect(calls.map((c) => [c.actor, c.resource, c.outcome])).toEqual(
      plan.map((p) => [p.actor, `mcp:security/${p.tool}`, p.outcome]),
    );
    expect(sec.deps.audit.verify().ok).toBe(true);
  });

  test('when the MCP client connects without a token, then it is refused; a read-only client cannot call authenticate', async () => {
    await expect(connectMcp(sec.server.mcpUrl)).rejects.toThrow(/missing bearer token/);
    const client = await connectMcp(sec.server.mcpUrl, await tokenFor('orchestrator'));
    try {
      await expect(callTool(client, 'authenticate', { clientId: 'x', clientSecret: 'y' })).rejects.toThrow(
        /tool authenticate requires scope security:write/,
      );
    } finally {
      await client.close();
    }
  });
});
