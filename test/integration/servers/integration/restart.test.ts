import fs from 'node:fs';
import { signWebhook, WEBHOOK_HEADERS } from '../../../../src/servers/kit';
import { startIntegrationServer } from '../../../../src/servers/integration/main';
import { callOk, connectMcp } from '../../../harness/mcp-client';
import { testConfig } from './helpers';

describe('integration server restart', () => {
  const config = testConfig({});
  afterAll(() => fs.rmSync(config.dataDir, { recursive: true, force: true }));

  it('when the server restarts on the same data dir, then webhooks, keys, limits and replay protection survive', async () => {
    const first = await startIntegrationServer(config);
    const c1 = await connectMcp(first.server.mcpUrl);
    const hook = await callOk<{ id: string; secret: string }>(c1, 'webhook_setup', { name: 'persisted' });
    const key = await callOk<{ plaintext: string }>(c1, 'api_key_mgmt', {
      action: 'create',
      env: 'staging',
      name: 'k',
    });
    await callOk(c1, 'rate_limit', { clientId: 'carol', capacity: 7, refillPerSecond: 0.5 });
    const body = '{"n":1}';
    const headers = {
      [WEBHOOK_HEADERS.signature]: signWebhook(hook.secret, body),
      [WEBHOOK_HEADERS.id]: 'evt-r1',
      'content-type': 'application/json',
    };
    expect(
      (await fetch(`${first.server.url}/webhooks/${hook.id}`, { method: 'POST', body, headers })).status,
    ).toBe(200);
    await c1.close();
    await first.close();

    const second = await startIntegrationServer(config);
    const c2 = await connectMcp(second.server.mcpUrl);
    try {
      const replay = await fetch(`${second.server.url}/webhooks/${hook.id}`, {
        method: 'POST',
        body,
        headers,
      });
      expect(replay.status).toBe(409);
      expect(await callOk(c2, 'verify_api_key', { key: key.plaintext, env: 'staging' })).toMatchObject({
        valid: true,
      });
      expect(await callOk(c2, 'get_rate_limit', { clientId: 'carol' })).toMatchObject({
        source: 'client',
        limit: { capacity: 7 },
      });
      const info = await callOk<{ counts: { webhooks: number; apiKeys: number } }>(c2, 'server_info', {});
      expect(info.counts).toMatchObject({ webhooks: 1, apiKeys: 1 });
      expect((fs.statSync(config.dataDir).mode & 0o777).toString(8)).toBe('700');
    } finally {
      await c2.close();
      await second.close();
    }
  });
});
