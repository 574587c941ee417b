import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { signWebhook, WEBHOOK_HEADERS } from '../../../../src/servers/kit';
import { startIntegrationServer } from '../../../../src/servers/integration/main';
import type { SignalTarget, Signaler } from '../../../../src/servers/integration/temporal-signaler';
import { callOk, callTool, connectMcp, errorText } from '../../../harness/mcp-client';
import { listen, testConfig, type Listener } from './helpers';

/** A signaler that records signals and fails while `failing` is set (Temporal itself: webhook-temporal.test.ts). */
class RecordingSignaler implements Signaler {
  readonly sent: { target: SignalTarget; payload: unknown }[] = [];
  failing = false;
  readonly connected = false;
  async signal(target: SignalTarget, payload: unknown): Promise<void> {
    if (this.failing) throw new Error('workflow not found');
    this.sent.push({ target, payload });
  }
  async close(): Promise<void> {}
}

describe('integration server over real HTTP and MCP', () => {
  let target: Listener;
  let outsider: Listener;
  let storage: Listener;
  let running: Awaited<ReturnType<typeof startIntegrationServer>>;
  let client: Client;
  const signaler = new RecordingSignaler();
  const tally = {
    ssrfTried: 0,
    ssrfRefused: 0,
    webhookTried: 0,
    webhookRefused: 0,
    floodSent: 0,
    flood429: 0,
  };

  beforeAll(async () => {
    outsider = await listen((_req, _body, res) => res.end('outsider reached'));
    // Stands in for the storage server's object API (kit/objects.ts contract).
    storage = await listen((req, body, res) => {
      const key = decodeURIComponent((req.url ?? '').replace(/^\/objects\//, ''));
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          uri: `storage://${key}`,
          key,
          version: 1,
          sha256: crypto.createHash('sha256').update(body).digest('hex'),
          size: Buffer.byteLength(body),
        }),
      );
    });
    target = await listen((req, body, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/redirect') {
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
        return;
      }
      if (url.pathname === '/slow') {
        setTimeout(() => res.end('late'), 1500).unref();
        return;
      }
      if (url.pathname === '/big') {
        res.setHeader('content-type', 'text/plain');
        res.end('y'.repeat(10_000));
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', 'session=secret');
      res.end(
        JSON.stringify({
          method: req.method,
          path: url.pathname,
          body,
          authorization: req.headers.authorization ?? null,
        }),
      );
    });
    const config = testConfig({
      // The target is an exact loopback origin (admitted); the outsider's port is reachable only through
      // patterns, which never open internal addresses.
      allow: [target.origin, `localhost:${outsider.port}`, `*:${outsider.port}`],
      rateCapacity: 10_000,
      rateRefillPerSecond: 10_000,
      maxResponseBytes: 4096,
      webhookMaxBytes: 2048,
      storageUrl: storage.origin,
    });
    running = await startIntegrationServer(config, { signaler, storageToken: async () => 'service-token' });
    // The inbound bearer token must never be forwarded by rest_call.
    client = await connectMcp(running.server.mcpUrl, 'inbound-secret-token');
  });

  afterAll(async () => {
    await client?.close();
    await running?.close();
    await target?.close();
    await outsider?.close();
    await storage?.close();
    if (running) fs.rmSync(running.deps.config.dataDir, { recursive: true, force: true });
    process.stderr.write(
      `integration security tally: SSRF attacks tried ${tally.ssrfTried}, refused ${tally.ssrfRefused}; ` +
        `webhook attacks tried ${tally.webhookTried}, refused ${tally.webhookRefused}; ` +
        `flood requests ${tally.floodSent}, answered 429 ${tally.flood429}\n`,
    );
  });

  it('when tools are listed, then all ten are there with output schemas, matching server_info', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    expect(names).toEqual([
      'api_key_mgmt',
      'delete_webhook',
      'get_rate_limit',
      'list_deliveries',
      'list_webhooks',
      'rate_limit',
      'rest_call',
      'server_info',
      'verify_api_key',
      'webhook_setup',
    ]);
    expect(tools.every((t) => t.outputSchema && t.annotations)).toBe(true);
    const info = await callOk<{ tools: string[] }>(client, 'server_info', {});
    expect([...info.tools].sort()).toEqual(names);
  });

  describe('rest_call', () => {
    it('when calling an allowlisted loopback origin, then the JSON answer returns without set-cookie and without the inbound Authorization', async () => {
      const r = await callOk<Record<string, any>>(client, 'rest_call', {
        method: 'POST',
        url: `${target.origin}/echo`,
        json: { hello: 'world' },
        headers: { 'X-Trace': 'abc' },
      });
      expect(r).toMatchObject({
        status: 200,
        ok: true,
        bodyKind: 'json',
        truncated: false,
        connectedAddress: '127.0.0.1',
      });
      expect(r.json).toEqual({
        method: 'POST',
        path: '/echo',
        body: '{"hello":"world"}',
        authorization: null,
      });
      expect(r.headers['set-cookie']).toBeUndefined();
      expect(r.elapsedMs).toBeGreaterThan(0);
      const seen = target.requests.at(-1)!;
      expect(seen.headers.authorization).toBeUndefined();
      expect(seen.headers['x-trace']).toBe('abc');
    });

    it('when the same idempotency key is sent twice, then the upstream sees one request', async () => {
      const before = target.requests.length;
      const meta = { idempotencyKey: 'wf-9:step-rest' };
      const first = await callTool(
        client,
        'rest_call',
        { method: 'POST', url: `${target.origin}/charge`, json: { n: 1 } },
        meta,
      );
      const second = await callTool(
        client,
        'rest_call',
        { method: 'POST', url: `${target.origin}/charge`, json: { n: 1 } },
        meta,
      );
      expect(first.isError).toBeFalsy();
      expect(second._meta?.replayed).toBe(true);
      expect(target.requests.length - before).toBe(1);
    });

    it('when the body is larger than maxResponseBytes, then it is truncated and flagged', async () => {
      const r = await callOk<Record<string, any>>(client, 'rest_call', {
        url: `${target.origin}/big`,
        maxResponseBytes: 100,
      });
      expect(r).toMatchObject({ truncated: true, bodyBytes: 100, bodyKind: 'text' });
    });

    it.each([
      [{ url: 'http://x/', json: {}, text: 'a', method: 'POST' }, /either json or text/],
      [{ url: 'http://x/', text: 'a', method: 'GET' }, /cannot carry a body/],
      [{ url: 'http://x/', headers: { Host: 'evil' } }, /header "Host" may not be set/],
      [{ url: 'http://x/', headers: { 'bad header': 'v' } }, /not a valid HTTP token/],
      [{ url: 'http://x/', maxResponseBytes: 1_000_000 }, /maxResponseBytes=1000000 exceeds/],
    ])(
      'when the arguments are invalid (%j), then the call is an error naming the field',
      async (args, message) => {
        const r = await callTool(client, 'rest_call', args);
        expect(r.isError).toBe(true);
        expect(errorText(r)).toMatch(message);
      },
    );

    it('when the upstream is slower than timeoutMs, then the call fails with a timeout error', async () => {
      const r = await callTool(client, 'rest_call', { url: `${target.origin}/slow`, timeoutMs: 200 });
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(/within timeoutMs=200/);
    });

    it('when every SSRF variant is tried, then each is refused before any connection to the internal listener', async () => {
      const p = outsider.port;
      const redirect = (to: string) => `${target.origin}/redirect?to=${encodeURIComponent(to)}`;
      const attacks = [
        `http://127.0.0.1:${p}/`,
        `http://127.1:${p}/`,
        `http://0x7f000001:${p}/`,
        `http://2130706433:${p}/`,
        `http://017700000001:${p}/`,
        `http://0177.0.0.1:${p}/`,
        `http://[::1]:${p}/`,
        `http://[::ffff:127.0.0.1]:${p}/`,
        `http://[0:0:0:0:0:ffff:7f00:1]:${p}/`,
        `http://localhost:${p}/`,
        `http://localhost.:${p}/`,
        `http://0.0.0.0:${p}/`,
        `http://0:${p}/`,
        `http://169.254.169.254:${p}/latest/meta-data/`,
        'http://169.254.169.254/latest/meta-data/',
        `http://10.0.0.1:${p}/`,
        `http://172.16.0.1:${p}/`,
        `http://192.168.1.1:${p}/`,
        `http://[fc00::1]:${p}/`,
        `http://[fe80::1]:${p}/`,
        'file:///etc/passwd',
        `gopher://127.0.0.1:${p}/_INFO`,
        'ftp://127.0.0.1/',
        'data:text/plain,hello',
        `http://user:pass@127.0.0.1:${p}/`,
        'https://example.com/',
        redirect(`http://127.0.0.1:${p}/`),
        redirect(`http://localhost:${p}/`),
        redirect(`http://169.254.169.254:${p}/latest/meta-data/`),
        redirect('file:///etc/passwd'),
      ];
      const refused: string[] = [];
      for (const url of attacks) {
        tally.ssrfTried++;
        const r = await callTool(client, 'rest_call', { url });
        if (r.isError && /refused by SSRF guard/.test(errorText(r))) {
          tally.ssrfRefused++;
          refused.push(url);
        }
      }
      expect(refused).toEqual(attacks);
      expect(outsider.connections()).toBe(0);
      const info = await callOk<{ measured: Record<string, number> }>(client, 'server_info', {});
      expect(info.measured.restCallsRefusedBySsrfGuard).toBeGreaterThanOrEqual(attacks.length);
    });

    it('when storeAs is given, then the body goes to the storage server and only a reference comes back', async () => {
      const r = await callOk<Record<string, any>>(
        client,
        'rest_call',
        { url: `${target.origin}/big`, storeAs: 'downloads/big.txt' },
        { idempotencyKey: 'wf-1:dl' },
      );
      expect(r).toMatchObject({
        bodyKind: 'stored',
        truncated: false,
        bodyBytes: 10_000,
        stored: { uri: 'storage://downloads/big.txt', size: 10_000 },
      });
      expect(r.text).toBeUndefined();
      const put = storage.requests.at(-1)!;
      expect(put).toMatchObject({ method: 'PUT', url: '/objects/downloads/big.txt' });
      expect(put.headers).toMatchObject({
        authorization: 'Bearer service-token',
        'x-idempotency-key': 'rest_call:wf-1:dl',
      });
      expect(put.body).toBe('y'.repeat(10_000));
      const bad = await callTool(client, 'rest_call', {
        url: `${target.origin}/big`,
        storeAs: '../escape',
      }).catch((e: Error) => e);
      expect(bad instanceof Error ? bad.message : errorText(bad)).toMatch(/storeAs|\.\./);
    });

    it('when a redirect stays on the allowlisted origin, then it is followed', async () => {
      const r = await callOk<Record<string, any>>(client, 'rest_call', {
        url: `${target.origin}/redirect?to=/landed`,
      });
      expect(r.redirects).toHaveLength(1);
      expect(r.json.path).toBe('/landed');
    });
  });

  describe('webhooks', () => {
    const post = (url: string, body: string, headers: Record<string, string>) =>
      fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    const signed = (secret: string, body: string, eventId: string, nowS?: number) => ({
      [WEBHOOK_HEADERS.signature]: signWebhook(secret, body, nowS),
      [WEBHOOK_HEADERS.id]: eventId,
    });

    it('when a webhook is set up, then signed deliveries are accepted and bad HMAC, stale, replayed and malformed ones are refused', async () => {
      const hook = await callOk<Record<string, any>>(client, 'webhook_setup', { name: 'partner-events' });
      expect(hook.secret).toMatch(/^whsec_/);
      expect(hook.url).toBe(`${running.server.url}/webhooks/${hook.id}`);
      const body = JSON.stringify({ type: 'order.paid', id: 42 });

      const ok = await post(hook.url, body, signed(hook.secret, body, 'evt-1'));
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ verdict: 'accepted' });

      const now = Math.floor(Date.now() / 1000);
      const attacks: [string, Promise<Response>, number][] = [
        ['wrong secret', post(hook.url, body, signed('whsec_wrong', body, 'evt-2')), 401],
        ['tampered body', post(hook.url, body.replace('42', '43'), signed(hook.secret, body, 'evt-3')), 401],
        ['stale timestamp', post(hook.url, body, signed(hook.secret, body, 'evt-4', now - 3600)), 401],
        ['future timestamp', post(hook.url, body, signed(hook.secret, body, 'evt-5', now + 3600)), 401],
        ['replayed event id', post(hook.url, body, signed(hook.secret, body, 'evt-1')), 409],
        ['no signature', post(hook.url, body, { [WEBHOOK_HEADERS.id]: 'evt-6' }), 400],
        [
          'malformed signature',
          post(hook.url, body, { [WEBHOOK_HEADERS.signature]: 't=abc,v1=zz', [WEBHOOK_HEADERS.id]: 'evt-7' }),
          400,
        ],
        [
          'no event id',
          post(hook.url, body, { [WEBHOOK_HEADERS.signature]: signWebhook(hook.secret, body) }),
          400,
        ],
      ];
      // A captured delivery re-sent under a fresh id is caught by its MAC.
      const body2 = JSON.stringify({ type: 'order.paid', id: 43 });
      const captured = signed(hook.secret, body2, 'evt-8');
      expect((await post(hook.url, body2, captured)).status).toBe(200);
      attacks.push([
        'same signature, new id',
        post(hook.url, body2, { ...captured, [WEBHOOK_HEADERS.id]: 'evt-9' }),
        409,
      ]);
      for (const [what, pending, expected] of attacks) {
        tally.webhookTried++;
        const res = await pending;
        if (res.status === expected) tally.webhookRefused++;
        expect({ what, status: res.status }).toEqual({ what, status: expected });
      }

      const d = await callOk<{ deliveries: { verdict: string; eventId?: string }[]; total: number }>(
        client,
        'list_deliveries',
        { webhookId: hook.id },
      );
      const verdicts = d.deliveries.map((x) => x.verdict);
      expect(verdicts.filter((v) => v === 'accepted')).toHaveLength(2);
      expect(verdicts).toEqual(expect.arrayContaining(['bad_signature', 'stale', 'replayed', 'malformed']));
      expect(d.total).toBe(11);
      const onlyStale = await callOk<{ deliveries: unknown[] }>(client, 'list_deliveries', {
        webhookId: hook.id,
        verdict: 'stale',
      });
      expect(onlyStale.deliveries).toHaveLength(2);
    });

    it('when a bound webhook gets a verified delivery, then its workflow is signalled with the payload; a failed signal lets the retry through', async () => {
      const hook = await callOk<Record<string, any>>(client, 'webhook_setup', {
        name: 'training-done',
        binding: { workflowId: 'wf-train-1', signalName: 'trainingDone' },
      });
      const body = JSON.stringify({ jobId: 'j-1', accuracy: 0.91 });
      signaler.failing = true;
      const failed = await post(hook.url, body, signed(hook.secret, body, 'evt-a'));
      expect(failed.status).toBe(502);
      expect(await failed.json()).toMatchObject({ verdict: 'signal_failed' });
      signaler.failing = false;
      const retry = await post(hook.url, body, signed(hook.secret, body, 'evt-a'));
      expect(retry.status).toBe(200);
      expect(signaler.sent).toHaveLength(1);
      expect(signaler.sent[0]).toMatchObject({
        target: { workflowId: 'wf-train-1', signalName: 'trainingDone' },
        payload: { webhookId: hook.id, eventId: 'evt-a', body: { jobId: 'j-1', accuracy: 0.91 } },
      });
      const again = await post(hook.url, body, signed(hook.secret, body, 'evt-a'));
      expect(again.status).toBe(409);
      expect(signaler.sent).toHaveLength(1);
    });

    it('when a body exceeds the webhook limit, then it is refused with 413', async () => {
      const hook = await callOk<Record<string, any>>(client, 'webhook_setup', { name: 'big' });
      const body = JSON.stringify({ pad: 'z'.repeat(5000) });
      const res = await post(hook.url, body, signed(hook.secret, body, 'evt-big'));
      expect(res.status).toBe(413);
    });

    it('when webhooks are listed and deleted, then secrets never show and deleted endpoints answer 404', async () => {
      const hook = await callOk<Record<string, any>>(client, 'webhook_setup', { name: 'temp' });
      const listed = await callTool(client, 'list_webhooks', {});
      expect(JSON.stringify(listed)).not.toContain(hook.secret);
      expect(
        (listed.structuredContent as { webhooks: { id: string }[] }).webhooks.map((w) => w.id),
      ).toContain(hook.id);
      expect(await callOk(client, 'delete_webhook', { id: hook.id })).toEqual({ id: hook.id, deleted: true, existed: true });
      const body = '{}';
      expect((await post(hook.url, body, signed(hook.secret, body, 'evt-x'))).status).toBe(404);
      // Idempotent, so it is safe as a compensation that may run after the step already cleaned up.
      expect(await callOk(client, 'delete_webhook', { id: hook.id })).toEqual({ id: hook.id, deleted: true, existed: false });
    });

    it('when the binding is incomplete, then webhook_setup is an invalid-params error', async () => {
      const r = await callTool(client, 'webhook_setup', { name: 'x', binding: { workflowId: 'w' } }).catch(
        (e: Error) => e,
      );
      expect(r instanceof Error ? r.message : errorText(r)).toMatch(/signalName/);
    });
  });

  describe('api_key_mgmt and verify_api_key', () => {
    it('when a key goes through create, list, verify, rotate and revoke, then each step behaves and the plaintext shows only at create/rotate', async () => {
      const meta = { idempotencyKey: 'wf-keys:create' };
      const created = await callOk<Record<string, any>>(
        client,
        'api_key_mgmt',
        { action: 'create', env: 'prod', name: 'partner', scopes: ['orders:read'] },
        meta,
      );
      const retried = await callOk<Record<string, any>>(
        client,
        'api_key_mgmt',
        { action: 'create', env: 'prod', name: 'partner', scopes: ['orders:read'] },
        meta,
      );
      expect(retried).toMatchObject({
        replayed: true,
        plaintext: created.plaintext,
        key: { id: created.key.id },
      });

      const list = await callTool(client, 'api_key_mgmt', { action: 'list', env: 'prod' });
      expect(JSON.stringify(list)).not.toContain(created.plaintext);
      expect((list.structuredContent as { total: number }).total).toBe(1);
      expect((list.structuredContent as { keys: { prefix: string }[] }).keys[0]!.prefix).toBe(
        created.plaintext.slice(0, created.key.prefix.length),
      );

      expect(await callOk(client, 'verify_api_key', { key: created.plaintext, env: 'prod' })).toMatchObject({
        valid: true,
      });
      expect(
        await callOk(client, 'verify_api_key', { key: created.plaintext, env: 'staging' }),
      ).toMatchObject({ valid: false, reason: 'wrong_environment' });

      const rotated = await callOk<Record<string, any>>(
        client,
        'api_key_mgmt',
        { action: 'rotate', keyId: created.key.id },
        { idempotencyKey: 'wf-keys:rotate' },
      );
      expect(rotated.plaintext).not.toBe(created.plaintext);
      expect(await callOk(client, 'verify_api_key', { key: created.plaintext })).toMatchObject({
        valid: false,
        reason: 'revoked',
      });
      const rotatedAgain = await callOk<Record<string, any>>(
        client,
        'api_key_mgmt',
        { action: 'rotate', keyId: created.key.id },
        { idempotencyKey: 'wf-keys:rotate' },
      );
      expect(rotatedAgain).toMatchObject({ replayed: true, key: { id: rotated.key.id } });

      const revoked = await callOk<Record<string, any>>(client, 'api_key_mgmt', {
        action: 'revoke',
        keyId: rotated.key.id,
      });
      expect(revoked.key.status).toBe('revoked');
      expect(await callOk(client, 'verify_api_key', { key: rotated.plaintext })).toMatchObject({
        valid: false,
        reason: 'revoked',
      });
      expect(fs.readFileSync(`${running.deps.config.dataDir}/api-keys.json`, 'utf8')).not.toContain(
        rotated.plaintext,
      );
      expect(fs.readFileSync(`${running.deps.config.dataDir}/idempotency.jsonl`, 'utf8')).not.toContain(
        rotated.plaintext.split('.')[1],
      );
    });

    it.each([
      [{ action: 'create', name: 'x' }, /needs env/],
      [{ action: 'create', env: 'prod' }, /needs name/],
      [{ action: 'rotate' }, /needs keyId/],
      [{ action: 'revoke', keyId: 'missing-key' }, /missing-key/],
    ])('when api_key_mgmt gets %j, then it is an error naming what to fix', async (args, message) => {
      const r = await callTool(client, 'api_key_mgmt', args);
      expect(r.isError).toBe(true);
      expect(errorText(r)).toMatch(message);
    });

    it('when a garbage key is verified, then it is reported malformed', async () => {
      expect(await callOk(client, 'verify_api_key', { key: 'not-a-key' })).toEqual({
        valid: false,
        reason: 'malformed',
      });
    });
  });

  describe('rate limits', () => {
    const rawMcp = (clientId: string) =>
      fetch(running.server.mcpUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'x-client-id': clientId,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });

    it('when a client floods past its bucket, then it gets 429 with Retry-After while others are unaffected', async () => {
      const set = await callOk<Record<string, any>>(client, 'rate_limit', {
        clientId: 'flooder',
        capacity: 3,
        refillPerSecond: 0.2,
      });
      expect(set).toMatchObject({
        clientId: 'flooder',
        limit: { capacity: 3, refillPerSecond: 0.2 },
        source: 'client',
        rateLimitPerMinute: 12,
      });
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 8; i++) {
        const res = await rawMcp('flooder');
        await res.text();
        tally.floodSent++;
        statuses.push(res.status);
        if (res.status === 429) {
          tally.flood429++;
          retryAfter = res.headers.get('retry-after');
        }
      }
      expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true);
      expect(statuses.slice(3)).toEqual([429, 429, 429, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(5);
      expect((await rawMcp('bystander')).status).not.toBe(429);

      const st = await callOk<Record<string, any>>(client, 'get_rate_limit', { clientId: 'flooder' });
      expect(st).toMatchObject({ clientId: 'flooder', isCaller: false, source: 'client', tracked: true });
      expect(st.tokens).toBeLessThan(1);
      expect(st.overrides).toEqual(
        expect.arrayContaining([{ clientId: 'flooder', limit: { capacity: 3, refillPerSecond: 0.2 } }]),
      );
      const info = await callOk<{ measured: Record<string, number> }>(client, 'server_info', {});
      expect(info.measured.requestsRateLimited).toBeGreaterThanOrEqual(5);
    });

    it('when get_rate_limit is called without clientId, then it reports the caller identified by x-client-id', async () => {
      const alice = new McpClient({ name: 'alice', version: '0' });
      await alice.connect(
        new StreamableHTTPClientTransport(new URL(running.server.mcpUrl), {
          requestInit: { headers: { 'x-client-id': 'alice' } },
        }),
      );
      try {
        const st = await callOk<Record<string, any>>(alice, 'get_rate_limit', {});
        expect(st).toMatchObject({ clientId: 'alice', isCaller: true, source: 'default', tracked: true });
      } finally {
        await alice.close();
      }
    });

    it('when a limit is removed, then the default applies again; bad arguments are errors', async () => {
      await callOk(client, 'rate_limit', { clientId: 'temp', capacity: 1, refillPerSecond: 1 });
      const removed = await callOk<Record<string, any>>(client, 'rate_limit', {
        clientId: 'temp',
        remove: true,
      });
      expect(removed).toMatchObject({ source: 'default', limit: { capacity: 10_000 } });
      const noCap = await callTool(client, 'rate_limit', { clientId: 'x', refillPerSecond: 1 });
      expect(errorText(noCap)).toMatch(/capacity and refillPerSecond/);
      const removeDefault = await callTool(client, 'rate_limit', { clientId: '*', remove: true });
      expect(removeDefault.isError).toBe(true);
    });
  });

  it('when server_info is read, then it reports counts, limits, allowlist and measurements', async () => {
    const info = await callOk<Record<string, any>>(client, 'server_info', {});
    expect(info.server).toBe('integration');
    expect(info.allowlist).toEqual([target.origin, `localhost:${outsider.port}`, `*:${outsider.port}`]);
    expect(info.counts.webhooks).toBe(running.deps.webhooks.size);
    expect(info.counts.webhooks).toBeGreaterThanOrEqual(3);
    expect(info.limits).toMatchObject({
      maxResponseBytes: 4096,
      webhookMaxBytes: 2048,
      rateLimitBurst: 10_000,
    });
    expect(info.measured.cpuCount).toBeGreaterThan(0);
    expect(info.measured.restCalls).toBeGreaterThan(0);
    expect(info.capabilities.gpu).toBe(false);
  });
});
