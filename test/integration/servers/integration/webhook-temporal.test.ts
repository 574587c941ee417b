import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { signWebhook, WEBHOOK_HEADERS } from '../../../../src/servers/kit';
import { startIntegrationServer } from '../../../../src/servers/integration/main';
import { callOk, connectMcp } from '../../../harness/mcp-client';
import { testConfig } from './helpers';
import { awaitWebhook } from './workflows/await-webhook';

jest.setTimeout(180_000);

describe('webhook → Temporal signal on a real dev server', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let workerRun: Promise<void>;
  let running: Awaited<ReturnType<typeof startIntegrationServer>>;
  let client: Client;
  const taskQueue = `integration-webhooks-${process.pid}`;

  beforeAll(async () => {
    const temporal = execFileSync(
      'bash',
      [path.resolve(__dirname, '../../../../scripts/install-temporal.sh')],
      { encoding: 'utf8' },
    ).trim();
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: temporal }, ip: '127.0.0.1' },
    });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('./workflows/await-webhook'),
    });
    workerRun = worker.run();
    running = await startIntegrationServer(
      testConfig({ temporalAddress: env.address, temporalNamespace: 'default' }),
    );
    client = await connectMcp(running.server.mcpUrl);
  });

  afterAll(async () => {
    await client?.close();
    await running?.close();
    if (worker) {
      worker.shutdown();
      await workerRun;
    }
    await env?.teardown();
    if (running) fs.rmSync(running.deps.config.dataDir, { recursive: true, force: true });
  });

  const deliver = (url: string, secret: string, body: string, eventId: string) =>
    fetch(url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        [WEBHOOK_HEADERS.signature]: signWebhook(secret, body),
        [WEBHOOK_HEADERS.id]: eventId,
      },
    });

  it('when a signed delivery arrives for a bound webhook, then the waiting workflow receives it as its signal and completes', async () => {
    const workflowId = `await-webhook-${Date.now()}`;
    const handle = await env.client.workflow.start(awaitWebhook, { taskQueue, workflowId });
    const hook = await callOk<{ id: string; url: string; secret: string }>(client, 'webhook_setup', {
      name: 'job-finished',
      binding: { workflowId, signalName: 'webhookReceived' },
    });
    const body = JSON.stringify({ jobId: 'train_job_1', status: 'succeeded', accuracy: 0.93 });
    const res = await deliver(hook.url, hook.secret, body, 'evt-temporal-1');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ verdict: 'delivered' });

    const result = await handle.result();
    expect(result).toMatchObject({
      webhookId: hook.id,
      eventId: 'evt-temporal-1',
      contentType: 'application/json',
      body: { jobId: 'train_job_1', status: 'succeeded', accuracy: 0.93 },
    });
    const info = await callOk<{ measured: { temporalConnected: boolean } }>(client, 'server_info', {});
    expect(info.measured.temporalConnected).toBe(true);
  });

  it('when the bound workflow does not exist, then the delivery is answered 502 and logged as signal_failed', async () => {
    const hook = await callOk<{ id: string; url: string; secret: string }>(client, 'webhook_setup', {
      name: 'orphan',
      binding: { workflowId: 'no-such-workflow', signalName: 'webhookReceived' },
    });
    const res = await deliver(hook.url, hook.secret, '{"x":1}', 'evt-orphan');
    expect(res.status).toBe(502);
    const log = await callOk<{ deliveries: { verdict: string; detail?: string }[] }>(
      client,
      'list_deliveries',
      { webhookId: hook.id },
    );
    expect(log.deliveries[0]).toMatchObject({ verdict: 'signal_failed' });
    expect(log.deliveries[0]!.detail).toMatch(/no-such-workflow/);
  });
});
