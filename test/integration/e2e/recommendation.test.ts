import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import { PACKAGE_ROOT } from '../../../src/client/stack/entry';
import type { RunProgress, RunReport } from '../../../src/shared/run-types';
import { attachmentsOf, decodeWords, parseEml, textOf } from '../../../src/servers/notification/eml-parse';
import { startFullStack, type FullStack } from '../../harness/full-stack';

jest.setTimeout(420_000);

const YAML = fs.readFileSync(path.join(PACKAGE_ROOT, 'pipelines', 'recommendation.yaml'), 'utf8');
/** Small data and few sweeps: the suite must stay within a few minutes on a loaded 2-core host. */
const SMALL = { factors: 8, epochs: 3, eval_max_users: 500, since: '2024-01-01' };

interface Outcome {
  handle: WorkflowHandle;
  ms: number;
  report?: RunReport;
  error?: unknown;
}

type Json = Record<string, any>;  

/**
 * Issue 5, acceptance 2–4: the seed pipeline on the whole stack (six MCP servers as processes with JWTs,
 * one worker per group, the orchestrator worker, model-serving, the suite's Temporal dev server). The
 * three runs start together (the compute server trains one job at a time, so they queue there) and each
 * test checks effects in the backends, not only statuses.
 */
describe('pipelines/recommendation.yaml end to end on the real stack', () => {
  let stack: FullStack;
  const runs: Record<'ok' | 'deployFails' | 'deployRefused' | 'webhookLost', Promise<Outcome>> = {} as never;
  const ids = { ok: 'rec-e2e-ok', deployFails: 'rec-e2e-deploy-fails', deployRefused: 'rec-e2e-deploy-refused', webhookLost: 'rec-e2e-webhook-lost' };

  const launch = async (workflowId: string, input: Record<string, unknown>): Promise<Outcome> => {
    const t0 = Date.now();
    const handle = await stack.start(stack.plan(YAML, { ...SMALL, ...input }), workflowId);
    try {
      const report = (await handle.result()) as RunReport;
      return { handle, report, ms: Date.now() - t0 };
    } catch (error) {
      return { handle, error, ms: Date.now() - t0 };
    }
  };

  beforeAll(async () => {
    const t0 = Date.now();
    stack = await startFullStack({ seedRows: 60_000 });
    process.stderr.write(`e2e: stack up in ${Date.now() - t0} ms (root ${stack.root})\n`);
    runs.ok = launch(ids.ok, { model_name: 'rec-ok', model_version: '1.0' });
    runs.deployFails = launch(ids.deployFails, {
      model_name: 'rec-fail',
      model_version: '1.0',
      // An origin off the integration allowlist: the deploy rest_call is refused (non-retryable).
      serving_url: 'http://127.0.0.1:9',
    });
    // A name the serving API refuses with 400: rest_call returns the 4xx as a result (not an error).
    runs.deployRefused = launch(ids.deployRefused, { model_name: 'Rec_Refused', model_version: '1.0' });
    runs.webhookLost = launch(ids.webhookLost, { model_name: 'rec-lost', model_version: '1.0', callback_suffix: '-lost' });
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled(Object.values(runs));
    await stack?.close();
  }, 120_000);

  const sinkMails = () => {
    const dir = path.join(stack.root, 'notification', 'smtp-sink');
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => parseEml(fs.readFileSync(path.join(dir, f))));
  };
  const slackMessages = (): Array<{ payload: { text?: string; channel?: string } }> => {
    const file = path.join(stack.root, 'notification', 'slack-sink.jsonl');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  };
  const keys = async () => (await stack.call<Json>('integration', 'api_key_mgmt', { action: 'list', includeRevoked: true, limit: 200 })).keys as Json[];
  const objects = async (prefix: string) => ((await stack.call<Json>('storage', 'list_files', { prefix, limit: 100 })).items as Json[]).map((i) => i.key as string);

  it('when the pipeline runs, then the model and its encrypted copy are stored, mailed, posted, served, audited and the temporary things are gone', async () => {
    const { report, error, ms } = await runs.ok;
    if (error) throw error;
    const r = report!;
    process.stderr.write(`e2e ok run: ${ms} ms, ${Object.keys(r.steps).length} steps\n`);
    expect(r.status).toBe('completed');
    expect(Object.values(r.steps).every((s) => s.status === 'done')).toBe(true);
    const res = r.results as Json;
    const wait = res.wait_training;
    expect(wait.result.status).toBe('succeeded');
    const modelId = wait.result.model_id as string;

    // Storage: the versioned model, its metadata, and the AES-GCM envelope beside it.
    const model = await stack.call<Json>('storage', 'download_file', { key: 'models/rec-ok/v1.0/model.onnx' });
    expect(model.sha256).toBe(res.export_model.sha256);
    expect(model.metadata.model_id).toBe(modelId);
    expect(model.metadata.metrics.model.hit_rate).toBeGreaterThan(0);
    expect(typeof model.metadata.training_date).toBe('string');
    const enc = await stack.call<Json>('storage', 'download_file', { key: 'models/rec-ok/v1.0/model.onnx.enc', inline: true });
    const envelope = Buffer.from(enc.contentBase64 as string, 'base64');
    expect(envelope.subarray(0, 4).toString('latin1')).toBe('MCPE');
    expect(envelope.length).toBeGreaterThan(model.size as number);

    // The mail with the report and the metrics JSON attached, as the SMTP sink stored it.
    const mail = sinkMails().find((m) => m.headers['x-run-id'] === ids.ok);
    expect(mail).toBeDefined();
    expect(decodeWords(mail!.headers.subject ?? '')).toContain('Model training complete: rec-ok v1.0');
    expect(textOf(mail!)).toContain(modelId);
    const attached = attachmentsOf(mail!);
    expect(attached.map((a) => a.filename)).toEqual(['model_metrics.json']);
    const metricsDoc = JSON.parse(attached[0]!.body.toString('utf8')) as Json;
    expect(metricsDoc.name).toBe('rec-ok');
    expect(JSON.stringify(metricsDoc)).toContain(modelId);
    // The training-completion alert fired through the real senders too.
    expect(res.dashboard_final.alertEvents.map((e: Json) => e.kind)).toEqual(['fired']);
    expect(sinkMails().some((m) => decodeWords(m.headers.subject ?? '').startsWith(`[FIRING] training completed ${ids.ok}:`))).toBe(true);

    // Slack: the deployment message in the sink.
    const slack = slackMessages().filter((m) => m.payload.text?.includes(`(${modelId}) deployed`));
    expect(slack).toHaveLength(1);
    expect(slack[0]!.payload.channel).toBe('#ml-team');

    // The audit chain verifies, and holds this run's data access, authorization and summary.
    expect(res.verify_audit.ok).toBe(true);
    expect((await stack.call<Json>('security', 'verify_audit_chain')).ok).toBe(true);
    const audit = (await stack.call<Json>('security', 'query_audit', { actor: ids.ok, limit: 100 })).entries as Json[];
    expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['data.access', 'pipeline.completed']));
    const authz = (await stack.call<Json>('security', 'query_audit', { action: 'authorize', resource: `ml_model_training_${res.train.job_id}` })).entries as Json[];
    expect(authz.map((e) => e.outcome)).toEqual(['allow']);

    // The served model answers a prediction, over plain HTTP to model-serving.
    const served = await stack.serving('POST', '/v1/models/rec-ok/predict', { user_index: 1, k: 3 });
    expect(served.status).toBe(200);
    expect((served.json as Json).items).toHaveLength(3);
    expect((served.json as Json).version).toBe(`v1.0-${modelId}`);

    // Temporary things: the staging key revoked, the prod key active, extract copies and webhook gone.
    const mine = (await keys()).filter((k) => (k.name as string).startsWith('rec-ok v1.0'));
    expect(mine.map((k) => `${k.env}:${k.status}`).sort()).toEqual(['prod:active', 'staging:revoked']);
    expect(await objects(`tmp/${ids.ok}/`)).toEqual([]);
    expect(await objects(`datasets/${ids.ok}/`)).toEqual([`datasets/${ids.ok}/features.parquet`]);
    const hooks = (await stack.call<Json>('integration', 'list_webhooks', { limit: 200 })).webhooks as Json[];
    expect(hooks.some((h) => h.id === res.register_webhook.id)).toBe(false);
    // The completion webhook really arrived and signalled the run.
    const deliveries = (await stack.call<Json>('integration', 'list_deliveries', { webhookId: res.register_webhook.id })).deliveries as Json[];
    expect(deliveries.map((d) => d.verdict)).toEqual(['delivered']);
    process.stderr.write(`e2e ok run: wait ended via ${wait.via} after ${wait.waitedMs} ms (${wait.polls} status checks); HR@10 ${wait.result.metrics.model.hit_rate}\n`);
    // Every server answered the final health check.
    for (const g of ['data', 'compute', 'storage', 'integration', 'security', 'notification']) expect(res[`health_${g}`].tools.length).toBeGreaterThan(0);
  });

  it('when the deploy rest_call fails permanently, then the run fails and the compensations undo the earlier steps in reverse order, audited', async () => {
    const { error, ms, handle } = await runs.deployFails;
    process.stderr.write(`e2e deploy-fails run: ${ms} ms\n`);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause as ApplicationFailure;
    // Refused before any connection: the gateway attaches its credential only to exactly-allowlisted origins.
    expect(failure.message).toMatch(/^step 'deploy_model' failed \(McpToolError\): .*(SSRF|allowlist)/);
    const progress = ((failure.details?.[0] as RunProgress | undefined) ?? (await handle.query<RunProgress>('progress')));
    expect(progress.status).toBe('failed');

    // Reverse completion order: compensations started latest-completed first, one at a time.
    const compensated = progress.completionOrder.filter((id) => progress.steps[id]!.compensation);
    const byStart = [...compensated].sort((a, b) => progress.steps[b]!.compensation!.startedAt! - progress.steps[a]!.compensation!.startedAt!);
    expect(byStart).toEqual(compensated);
    process.stderr.write(`e2e deploy-fails compensations, in order: ${[...compensated].reverse().join(' → ')}\n`);
    expect(compensated.map((id) => progress.steps[id]!.compensation!.status)).toEqual(compensated.map(() => 'done'));
    expect(compensated).toEqual(expect.arrayContaining(['register_webhook', 'extract', 'upload_dataset', 'process_data', 'train', 'api_key_prod', 'api_key_staging', 'backup_training_data', 'export_model', 'upload_model', 'encrypt_model']));
    expect(progress.steps.predict_check!.status).toBe('skipped');

    // In the backends: no object of the run left, keys revoked, webhook and alert gone, nothing served.
    for (const prefix of [`tmp/${ids.deployFails}/`, `datasets/${ids.deployFails}/`, `backups/${ids.deployFails}/`, 'models/rec-fail/']) {
      expect(await objects(prefix)).toEqual([]);
    }
    const mine = (await keys()).filter((k) => (k.name as string).startsWith('rec-fail v1.0'));
    expect(mine.map((k) => `${k.env}:${k.status}`).sort()).toEqual(['prod:revoked', 'staging:revoked']);
    const hooks = (await stack.call<Json>('integration', 'list_webhooks', { limit: 200 })).webhooks as Json[];
    expect(hooks.some((h) => (h.name as string).endsWith(ids.deployFails))).toBe(false);
    const alerts = (await stack.call<Json>('notification', 'list_alerts', { limit: 100 })).alerts as Json[];
    expect(alerts.some((a) => (a.name as string).endsWith(ids.deployFails))).toBe(false);
    expect((await stack.serving('GET', '/v1/models/rec-fail')).status).toBe(404);

    // The audit trail: the data access, then the rollback record written by the last compensation.
    const audit = (await stack.call<Json>('security', 'query_audit', { actor: ids.deployFails, limit: 100 })).entries as Json[];
    expect(audit.map((e) => `${e.action}:${e.outcome}`)).toEqual(['data.access:info', 'pipeline.rolled_back:failure']);
    expect((await stack.call<Json>('security', 'verify_audit_chain')).ok).toBe(true);
  });

  it('when the serving endpoint refuses the deploy with a 4xx, then the deploy step fails on its expected status and the run is rolled back', async () => {
    const { error, ms } = await runs.deployRefused;
    process.stderr.write(`e2e deploy-refused run: ${ms} ms\n`);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure.message).toMatch(/step 'deploy_model' failed \(McpToolError\): .*answered HTTP 400 \(expected 200 or 201\)/);
    const progress = failure.details?.[0] as RunProgress;
    expect(progress.steps.deploy_model!.status).toBe('failed');
    expect(progress.steps.upload_model!.status).toBe('compensated');
    expect(await objects('models/Rec_Refused/')).toEqual([]);
    expect(await objects(`datasets/${ids.deployRefused}/`)).toEqual([]);
    const mine = (await keys()).filter((k) => (k.name as string).startsWith('Rec_Refused v1.0'));
    expect(mine.map((k) => k.status)).toEqual(['revoked', 'revoked']);
  });

  it('when the training webhook is lost, then the run still completes through the job_status fallback', async () => {
    const { report, error, ms } = await runs.webhookLost;
    if (error) throw error;
    process.stderr.write(`e2e webhook-lost run: ${ms} ms\n`);
    const res = report!.results as Json;
    expect(report!.status).toBe('completed');
    expect(res.wait_training.via).toBe('poll');
    expect(res.wait_training.result.status).toBe('succeeded');
    // The job tried to deliver and was refused (unknown endpoint); nothing reached the run's webhook.
    const job = await stack.call<Json>('compute', 'job_status', { job_id: res.train.job_id });
    expect(job.webhook.delivered).toBe(false);
    expect(job.webhook.last_status).toBe(404);
    const deliveries = (await stack.call<Json>('integration', 'list_deliveries', { webhookId: res.register_webhook.id })).deliveries as Json[];
    expect(deliveries).toEqual([]);
    const served = await stack.serving('POST', '/v1/models/rec-lost/predict', { user_index: 0, k: 2 });
    expect(served.status).toBe(200);
  });
});
