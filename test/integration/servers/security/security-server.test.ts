import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { readClientCredentials } from '../../../../src/servers/kit/auth';
import { startSecurityServer, type StartedSecurityServer } from '../../../../src/servers/security/main';
import { callOk, callTool, connectMcp, errorText } from '../../../harness/mcp-client';

jest.setTimeout(30_000);

let dataDir: string;
let sec: StartedSecurityServer;
let client: Client;
const secrets = () => path.join(dataDir, 'clients.secret.json');
const cred = (id: string) => readClientCredentials(secrets(), id);

async function tokenRequest(
  body: Record<string, string>,
  init: { basic?: [string, string]; json?: boolean } = {},
) {
  const headers: Record<string, string> = {
    'content-type': init.json ? 'application/json' : 'application/x-www-form-urlencoded',
  };
  if (init.basic)
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(init.basic[0])}:${encodeURIComponent(init.basic[1])}`).toString('base64')}`;
  const res = await fetch(`${sec.server.url}/oauth/token`, {
    method: 'POST',
    headers,
    body: init.json ? JSON.stringify(body) : new URLSearchParams(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-int-'));
  sec = await startSecurityServer({ host: '127.0.0.1', port: 0, dataDir, tokenTtlS: 120 });
  client = await connectMcp(sec.server.mcpUrl);
});
afterAll(async () => {
  await client?.close();
  await sec?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('security server: start-up state', () => {
  test('when first started, then keys, clients and secrets exist under dataDir with 0600 permissions and secrets are stored hashed', () => {
    for (const f of [
      'keys/signing-keys.json',
      'keys/master-keys.json',
      'clients.json',
      'clients.secret.json',
      'policy.yaml',
    ]) {
      expect(fs.statSync(path.join(dataDir, f)).mode & 0o777).toBe(0o600);
    }
    const plain = JSON.parse(fs.readFileSync(secrets(), 'utf8')) as {
      clients: { clientId: string; clientSecret: string }[];
    };
    expect(plain.clients.map((c) => c.clientId).sort()).toEqual(
      [
        'orchestrator',
        'orchestrator-compute',
        'orchestrator-data',
        'orchestrator-integration',
        'orchestrator-notification',
        'orchestrator-security',
        'orchestrator-storage',
        'orchestrator-codec',
        'codec-operator',
      ].sort(),
    );
    const hashed = fs.readFileSync(path.join(dataDir, 'clients.json'), 'utf8');
    for (const c of plain.clients) expect(hashed).not.toContain(c.clientSecret);
    expect(hashed).toContain('scrypt$');
  });

  test('tools/list has every tool with title, description, input and output schemas and annotations', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        'audit_log',
        'authenticate',
        'authorize',
        'decrypt',
        'encrypt',
        'query_audit',
        'rotate_master_key',
        'rotate_payload_key',
        'rotate_signing_key',
        'server_info',
        'verify_audit_chain',
      ].sort(),
    );
    for (const t of tools) {
      expect(t.title ?? t.annotations?.title).toBeTruthy();
      expect(t.description).toBeTruthy();
      expect(t.outputSchema).toBeDefined();
      expect(typeof t.annotations?.readOnlyHint).toBe('boolean');
    }
  });
});

describe('authenticate tool and the token endpoint', () => {
  test('when a group client authenticates, then it gets an ES256 JWT for its audience that verifies against the JWKS', async () => {
    const c = cred('orchestrator-data');
    const r = await callOk<{
      accessToken: string;
      audience: string;
      scopes: string[];
      kid: string;
      expiresIn: number;
    }>(client, 'authenticate', { clientId: c.clientId, clientSecret: c.clientSecret });
    expect(r.audience).toBe('mcp:data');
    expect(r.scopes).toEqual(['data:read', 'data:write']);
    expect(r.expiresIn).toBe(120);
    const jwks = createRemoteJWKSet(new URL(`${sec.server.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(r.accessToken, jwks, {
      issuer: sec.server.url,
      audience: 'mcp:data',
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: r.kid, typ: 'at+jwt' });
    expect(payload).toMatchObject({
      sub: 'orchestrator-data',
      client_id: 'orchestrator-data',
      scope: 'data:read data:write',
    });
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  test('when the secret is wrong, the client unknown, the audience not allowed or a scope not held, then authenticate refuses with the OAuth error code', async () => {
    const c = cred('orchestrator-data');
    const o = cred('orchestrator');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ clientId: c.clientId, clientSecret: 'wrong' }, /client authentication failed/],
      [{ clientId: 'ghost', clientSecret: 'x' }, /client authentication failed/],
      [
        { clientId: c.clientId, clientSecret: c.clientSecret, audience: 'mcp:compute' },
        /may not request audience mcp:compute/,
      ],
      [
        { clientId: c.clientId, clientSecret: c.clientSecret, scope: 'data:admin' },
        /scope data:admin not granted/,
      ],
      [{ clientId: o.clientId, clientSecret: o.clientSecret }, /audience is required/],
      [
        { clientId: o.clientId, clientSecret: o.clientSecret, audience: 'mcp:data', scope: 'data:write' },
        /scope data:write not granted/,
      ],
    ];
    for (const [args, msg] of cases) {
      const r = await callTool(client, 'authenticate', args);
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(msg);
    }
    const ok = await callOk<{ scopes: string[] }>(client, 'authenticate', {
      clientId: o.clientId,
      clientSecret: o.clientSecret,
      audience: 'mcp:storage',
    });
    expect(ok.scopes).toEqual(['storage:read']);
  });

  test('when POST /oauth/token uses Basic auth with a form body, or client_secret_post with JSON, then it returns a no-store bearer token', async () => {
    const c = cred('orchestrator-compute');
    const a = await tokenRequest(
      { grant_type: 'client_credentials', scope: 'compute:read' },
      { basic: [c.clientId, c.clientSecret] },
    );
    expect(a.status).toBe(200);
    expect(a.headers.get('cache-control')).toBe('no-store');
    expect(a.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 120,
      scope: 'compute:read',
      audience: 'mcp:compute',
    });
    const b = await tokenRequest(
      {
        grant_type: 'client_credentials',
        client_id: c.clientId,
        client_secret: c.clientSecret,
        resource: 'mcp:compute',
      },
      { json: true },
    );
    expect(b.status).toBe(200);
    expect(typeof b.body.access_token).toBe('string');
  });

  test('when the token request is malformed or the client fails authentication, then RFC 6749 errors come back', async () => {
    const c = cred('orchestrator-compute');
    const wrongSecret = await tokenRequest(
      { grant_type: 'client_credentials' },
      { basic: [c.clientId, 'nope'] },
    );
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body.error).toBe('invalid_client');
    expect(wrongSecret.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await tokenRequest({ grant_type: 'password', username: 'a', password: 'b' })).body.error).toBe(
      'unsupported_grant_type',
    );
    expect((await tokenRequest({})).body.error).toBe('invalid_request');
    const both = await tokenRequest(
      { grant_type: 'client_credentials', client_secret: c.clientSecret },
      { basic: [c.clientId, c.clientSecret] },
    );
    expect(both).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const target = await tokenRequest({
      grant_type: 'client_credentials',
      client_id: c.clientId,
      client_secret: c.clientSecret,
      audience: 'mcp:data',
    });
    expect(target).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
  });

  test('when the metadata document is fetched, then it names the token endpoint, JWKS, grant and ES256', async () => {
    const res = await fetch(`${sec.server.url}/.well-known/oauth-authorization-server`);
    const m = (await res.json()) as Record<string, unknown>;
    expect(m).toMatchObject({
      issuer: sec.server.url,
      token_endpoint: `${sec.server.url}/oauth/token`,
      jwks_uri: `${sec.server.url}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      access_token_signing_alg_values_supported: ['ES256'],
    });
    const jwks = (await (await fetch(`${sec.server.url}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, unknown>[];
    };
    for (const k of jwks.keys) expect(k.d).toBeUndefined();
    const prm = (await (
      await fetch(`${sec.server.url}/.well-known/oauth-protected-resource`)
    ).json()) as Record<string, unknown>;
    expect(prm).toMatchObject({ resource: 'mcp:security', authorization_servers: [sec.server.url] });
  });

  test('when the signing key is rotated, then new tokens carry the new kid and tokens signed with the old kid still verify', async () => {
    const c = cred('orchestrator-data');
    const before = await callOk<{ accessToken: string; kid: string }>(client, 'authenticate', {
      clientId: c.clientId,
      clientSecret: c.clientSecret,
    });
    const rot = await callOk<{ kid: string; previousKid: string; jwksKids: string[] }>(
      client,
      'rotate_signing_key',
      { reason: 'test' },
    );
    expect(rot.previousKid).toBe(before.kid);
    expect(rot.jwksKids).toEqual(expect.arrayContaining([before.kid, rot.kid]));
    const after = await callOk<{ accessToken: string; kid: string }>(client, 'authenticate', {
      clientId: c.clientId,
      clientSecret: c.clientSecret,
    });
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(rot.kid);
    const jwks = createRemoteJWKSet(new URL(`${sec.server.url}/.well-known/jwks.json`));
    await expect(
      jwtVerify(before.accessToken, jwks, { issuer: sec.server.url, audience: 'mcp:data' }),
    ).resolves.toBeDefined();
    await expect(
      jwtVerify(after.accessToken, jwks, { issuer: sec.server.url, audience: 'mcp:data' }),
    ).resolves.toBeDefined();
  });

  test('every token issue and refusal is audited without secrets or tokens', async () => {
    const c = cred('orchestrator-integration');
    await callOk(client, 'authenticate', { clientId: c.clientId, clientSecret: c.clientSecret });
    await callTool(client, 'authenticate', { clientId: c.clientId, clientSecret: 'bad' });
    const q = await callOk<{ entries: { outcome: string; details: Record<string, unknown> }[] }>(
      client,
      'query_audit',
      { actor: c.clientId, action: 'token.issue' },
    );
    expect(q.entries.map((e) => e.outcome)).toEqual(['success', 'failure']);
    const log = fs.readFileSync(path.join(dataDir, 'audit', 'audit.jsonl'), 'utf8');
    for (const s of JSON.parse(fs.readFileSync(secrets(), 'utf8')).clients as { clientSecret: string }[])
      expect(log).not.toContain(s.clientSecret);
    expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  });
});

describe('authorize tool', () => {
  test('when the default policy allows the product-flow request, then allow is returned with the rule, and audited', async () => {
    const r = await callOk<{ allowed: boolean; permissions: { rule?: string }[]; auditSeq: number }>(
      client,
      'authorize',
      {
        subject: 'orchestrator-compute',
        resource: 'ml_model_training_job_892341',
        permissions: ['read_training_data', 'write_model_artifacts'],
      },
    );
    expect(r.allowed).toBe(true);
    expect(r.permissions[1]!.rule).toBe('roles.pipeline-runner.allow[pipeline-data]');
    const q = await callOk<{ entries: { seq: number; outcome: string; action: string }[] }>(
      client,
      'query_audit',
      { sinceSeq: r.auditSeq, limit: 1 },
    );
    expect(q.entries[0]).toMatchObject({ seq: r.auditSeq, outcome: 'allow', action: 'authorize' });
  });

  test('when allowed and denied decisions are made (with retries), then each is audited exactly once with its outcome', async () => {
    const startSeq = (await callOk<{ headSeq: number }>(client, 'verify_audit_chain', {})).headSeq;
    const requests = [
      {
        subject: 'orchestrator-data',
        resource: 'datasets/a.parquet',
        permissions: ['read_rows'],
        expect: 'allow',
      },
      { subject: 'orchestrator-data', resource: 'keys/master', permissions: ['read_rows'], expect: 'deny' },
      { subject: 'mallory', resource: 'datasets/a.parquet', permissions: ['read_rows'], expect: 'deny' },
      { subject: 'orchestrator', resource: 'models/m', permissions: ['delete'], expect: 'deny' },
      { subject: 'admin:ops', resource: 'models/m', permissions: ['delete'], expect: 'allow' },
    ];
    for (const [i, r] of requests.entries()) {
      const meta = { idempotencyKey: `wf-1/authz-${i}` };
      const first = await callOk<{ decision: string; auditSeq: number }>(
        client,
        'authorize',
        { subject: r.subject, resource: r.resource, permissions: r.permissions },
        meta,
      );
      const retry = await callTool(
        client,
        'authorize',
        { subject: r.subject, resource: r.resource, permissions: r.permissions },
        meta,
      );
      expect(first.decision).toBe(r.expect);
      expect(retry._meta?.replayed).toBe(true);
      expect((retry.structuredContent as { auditSeq: number }).auditSeq).toBe(first.auditSeq);
    }
    const q = await callOk<{ entries: { actor: string; outcome: string; action: string }[] }>(
      client,
      'query_audit',
      { sinceSeq: startSeq + 1, action: 'authorize' },
    );
    expect(q.entries.map((e) => [e.actor, e.outcome])).toEqual(requests.map((r) => [r.subject, r.expect]));
  });

  test('when the policy file is edited, then the next decision uses it; when it is invalid, then decisions are refused with a message naming the file', async () => {
    const file = path.join(dataDir, 'policy.yaml');
    const original = fs.readFileSync(file, 'utf8');
    try {
      fs.writeFileSync(
        file,
        JSON.stringify({
          version: 1,
          roles: { r: { allow: [{ resources: ['x/*'], permissions: ['go'] }] } },
          bindings: { bob: ['r'] },
        }),
      );
      expect(
        (
          await callOk<{ allowed: boolean }>(client, 'authorize', {
            subject: 'bob',
            resource: 'x/1',
            permissions: ['go'],
          })
        ).allowed,
      ).toBe(true);
      fs.writeFileSync(file, 'version: 1\nroles: {}\nbindings:\n  bob: [missing]\n');
      const r = await callTool(client, 'authorize', { subject: 'bob', resource: 'x/1', permissions: ['go'] });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/policy\.yaml is invalid: bindings\.bob: role missing is not defined/);
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  test('when permissions are empty, then the call is rejected as invalid input', async () => {
    const r = await callTool(client, 'authorize', { subject: 's', resource: 'r', permissions: [] });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toMatch(/permissions/);
  });
});

describe('audit tools', () => {
  test('when entries are appended, then query_audit returns them and verify_audit_chain is ok at the new head', async () => {
    const a = await callOk<{ seq: number; hash: string; prevHash: string }>(client, 'audit_log', {
      actor: 'wf-42',
      action: 'data.access',
      resource: 'table:customer_transactions',
      outcome: 'success',
      details: { rows: 1200000 },
    });
    const b = await callOk<{ seq: number; prevHash: string }>(client, 'audit_log', {
      actor: 'wf-42',
      action: 'data.export',
      resource: 'storage://x',
      outcome: 'failure',
    });
    expect(b.seq).toBe(a.seq + 1);
    expect(b.prevHash).toBe(a.hash);
    const q = await callOk<{ entries: { seq: number; details: Record<string, unknown> }[] }>(
      client,
      'query_audit',
      { actor: 'wf-42' },
    );
    expect(q.entries.map((e) => e.seq)).toEqual([a.seq, b.seq]);
    expect(q.entries[0]!.details).toEqual({ rows: 1200000 });
    expect(await callOk(client, 'verify_audit_chain', {})).toMatchObject({
      ok: true,
      headSeq: b.seq,
      lastGoodSeq: b.seq,
    });
  });

  test('when audit_log is retried with the same idempotency key, then one entry is appended', async () => {
    const meta = { idempotencyKey: 'wf-7/step-audit' };
    const args = { actor: 'wf-7', action: 'data.access', resource: 'r', outcome: 'info' };
    const a = await callOk<{ seq: number }>(client, 'audit_log', args, meta);
    const b = await callOk<{ seq: number }>(client, 'audit_log', args, meta);
    expect(b.seq).toBe(a.seq);
    expect(
      (await callOk<{ entries: unknown[] }>(client, 'query_audit', { actor: 'wf-7' })).entries,
    ).toHaveLength(1);
  });

  test('when the input is invalid (bad outcome, oversized details, bad time filter), then the tools refuse with what to fix', async () => {
    const badOutcome = await callTool(client, 'audit_log', {
      actor: 'a',
      action: 'b',
      resource: 'c',
      outcome: 'maybe',
    });
    expect(badOutcome.isError).toBe(true);
    expect(errorText(badOutcome)).toMatch(/outcome/);
    const big = await callTool(client, 'audit_log', {
      actor: 'a',
      action: 'b',
      resource: 'c',
      outcome: 'info',
      details: { blob: 'x'.repeat(9000) },
    });
    expect(big.isError).toBe(true);
    expect(errorText(big)).toMatch(/details is \d+ bytes serialized; the limit is 8192/);
    const badTs = await callTool(client, 'query_audit', { fromTs: 'yesterday' });
    expect(badTs.isError).toBe(true);
    expect(errorText(badTs)).toMatch(/fromTs/);
    const badLimit = await callTool(client, 'query_audit', { limit: 100000 });
    expect(badLimit.isError).toBe(true);
  });

  test('when the log file is edited, an entry deleted or two entries reordered, then verify_audit_chain names the first bad seq', async () => {
    for (let i = 0; i < 4; i++)
      await callOk(client, 'audit_log', {
        actor: 'tamper-test',
        action: 'x',
        resource: `r${i}`,
        outcome: 'info',
      });
    const file = path.join(dataDir, 'audit', 'audit.jsonl');
    const original = fs.readFileSync(file, 'utf8');
    const ls = original.trimEnd().split('\n');
    const seqAt = (i: number) => (JSON.parse(ls[i]!) as { seq: number }).seq;
    let tried = 0;
    let detected = 0;
    const attempt = async (content: string, firstBadSeq: number) => {
      tried++;
      fs.writeFileSync(file, content);
      const v = await callOk<{ ok: boolean; firstBadSeq?: number; problem?: string }>(
        client,
        'verify_audit_chain',
        {},
      );
      expect(v).toMatchObject({ ok: false, firstBadSeq });
      detected++;
    };
    try {
      const n = ls.length;
      const edited = [...ls];
      edited[n - 3] = edited[n - 3]!.replace('"outcome":"info"', '"outcome":"success"');
      await attempt(edited.join('\n') + '\n', seqAt(n - 3));
      await attempt(ls.filter((_, i) => i !== n - 2).join('\n') + '\n', seqAt(n - 2));
      const swapped = [...ls];
      [swapped[n - 4], swapped[n - 3]] = [swapped[n - 3]!, swapped[n - 4]!];
      await attempt(swapped.join('\n') + '\n', seqAt(n - 4));
      await attempt(ls.slice(0, n - 1).join('\n') + '\n', seqAt(n - 1));
      await attempt(ls.slice(1).join('\n') + '\n', 1);
    } finally {
      fs.writeFileSync(file, original);
      console.log(`audit log tampering over MCP: attacks tried ${tried}, detected ${detected}`);
    }
    expect(await callOk(client, 'verify_audit_chain', {})).toMatchObject({ ok: true });
  });
});

describe('keys and server_info', () => {
  test('when the master key is rotated, then the old key id is retained and the new one is active', async () => {
    const info1 = await callOk<{ measured: { activeMasterKid: string } }>(client, 'server_info', {});
    const r = await callOk<{ kid: string; previousKid: string; retainedKids: string[] }>(
      client,
      'rotate_master_key',
      {},
    );
    expect(r.previousKid).toBe(info1.measured.activeMasterKid);
    expect(r.retainedKids).toEqual([info1.measured.activeMasterKid, r.kid]);
  });

  test('server_info reports algorithms, key ids, clients, audit count, chain head and measurements', async () => {
    const info = await callOk<{
      server: string;
      tools: string[];
      capabilities: Record<string, unknown>;
      limits: Record<string, unknown>;
      measured: Record<string, unknown>;
    }>(client, 'server_info', {});
    const chain = await callOk<{ headSeq: number; headHash: string }>(client, 'verify_audit_chain', {});
    expect(info.server).toBe('security');
    expect(info.tools).toContain('verify_audit_chain');
    expect(info.capabilities).toMatchObject({
      tokenSigningAlg: 'ES256',
      nonceBits: 96,
      tagBytes: 16,
      gpu: false,
      issuer: sec.server.url,
      storageConfigured: false,
    });
    expect(info.limits).toMatchObject({ tokenTtlS: 120, queryAuditMaxLimit: 500 });
    expect(info.measured).toMatchObject({
      clients: 9,
      auditEntries: chain.headSeq,
      chainHead: { seq: chain.headSeq, hash: chain.headHash },
    });
    expect(info.measured.aesGcmMBpsAtStart as number).toBeGreaterThan(0);
    expect((info.measured.signingKids as string[]).length).toBeGreaterThanOrEqual(2);
  });

  test('when storage is not configured, then encrypt refuses and says which variable to set', async () => {
    const r = await callTool(client, 'encrypt', { uri: 'storage://a/b.bin' });
    expect(r.isError).toBe(true);
    expect(errorText(r)).toMatch(/MCP_STORAGE_URL/);
    const bad = await callTool(client, 'encrypt', { uri: 'storage://../etc/passwd' });
    expect(bad.isError).toBe(true);
    expect(errorText(bad)).toMatch(/uri/);
  });

  test('when the server restarts on the same dataDir, then clients, keys and the audit chain carry over and secrets are not rewritten', async () => {
    const secretsBefore = fs.readFileSync(secrets(), 'utf8');
    const before = await callOk<{
      measured: { activeSigningKid: string; masterKids: string[]; chainHead: { seq: number } };
    }>(client, 'server_info', {});
    await client.close();
    await sec.close();
    sec = await startSecurityServer({ host: '127.0.0.1', port: 0, dataDir, tokenTtlS: 120 });
    client = await connectMcp(sec.server.mcpUrl);
    const after = await callOk<{
      measured: { activeSigningKid: string; masterKids: string[]; chainHead: { seq: number } };
    }>(client, 'server_info', {});
    expect(after.measured.activeSigningKid).toBe(before.measured.activeSigningKid);
    expect(after.measured.masterKids).toEqual(before.measured.masterKids);
    expect(after.measured.chainHead.seq).toBe(before.measured.chainHead.seq);
    expect(fs.readFileSync(secrets(), 'utf8')).toBe(secretsBefore);
    const c = cred('orchestrator-data');
    expect(
      (
        await callOk<{ kid: string }>(client, 'authenticate', {
          clientId: c.clientId,
          clientSecret: c.clientSecret,
        })
      ).kid,
    ).toBe(before.measured.activeSigningKid);
    expect(await callOk(client, 'verify_audit_chain', {})).toMatchObject({ ok: true });
  });
});

describe('token endpoint rate limit', () => {
  test('when a client floods /oauth/token, then it gets 429 with Retry-After', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-rl-'));
    const s = await startSecurityServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: dir,
      tokenRequestsPerMinute: 3,
      serverGroups: ['data'],
    });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${s.server.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials&client_id=x&client_secret=y',
        });
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers.get('retry-after');
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    } finally {
      await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
