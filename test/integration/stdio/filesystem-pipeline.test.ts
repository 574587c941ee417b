import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startTestStack, type TestStack } from '../../harness/test-stack';
import { planFromText } from '../../../src/client/pipeline-loader';
import { discover } from '../../../src/mcp/discovery';
import { McpClientPool } from '../../../src/mcp/pool';
import { pidAlive } from '../../../src/mcp/stdio-process';
import { loadRegistry } from '../../../src/registry/registry';
import { taskQueueFor } from '../../../src/shared/constants';
import type { RunReport } from '../../../src/shared/run-types';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '../../..');
const EXAMPLE_REGISTRY = path.join(ROOT, 'pipelines/examples/filesystem.registry.yaml');
const EXAMPLE_PIPELINE = path.join(ROOT, 'pipelines/examples/filesystem.yaml');

/** Pids of a process's direct children (Linux `ps`). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

/**
 * The example pipeline end to end on the suite's Temporal dev server: our storage server and its
 * worker from the test stack, and a worker PROCESS for the third-party group `fs`, started by hand as
 * the README says (`main --group fs` with MCP_REGISTRY_EXTRA), which runs server-filesystem over stdio.
 */
describe('a pipeline mixing our storage server with the published filesystem MCP server (stdio)', () => {
  let stack: TestStack;
  let worker: ChildProcess;
  let workerLog: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    stack = await startTestStack({ groups: ['storage'] });
    env = {
      ...process.env,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
      MCP_TASK_QUEUE_PREFIX: stack.prefix,
      MCP_REGISTRY_EXTRA: EXAMPLE_REGISTRY,
      // The stack's data root: the filesystem server is confined to the storage server's inbox in it.
      MCP_DATA_ROOT: stack.dir,
      // The fs group takes no token of ours (see the report: main.ts asks for credentials regardless).
      MCP_AUTH: 'off',
    };
    workerLog = path.join(stack.dir, 'worker-fs.log');
    const log = fs.openSync(workerLog, 'a');
    worker = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/workers/main.ts'), '--group', 'fs'], { env, cwd: ROOT, stdio: ['ignore', log, log] });
    const queue = taskQueueFor('fs', stack.prefix);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (worker.exitCode !== null) throw new Error(`fs worker exited: ${fs.readFileSync(workerLog, 'utf8')}`);
      const r = await stack.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType: 2 });
      if ((r.pollers ?? []).some((p) => Date.now() / 1000 - Number(p.lastAccessTime?.seconds ?? 0) < 5)) break;
      if (Date.now() > deadline) throw new Error(`no worker polling ${queue}: ${fs.readFileSync(workerLog, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      worker.kill('SIGKILL');
      await exited;
    }
    await stack?.close();
  });

  test('when the example runs, then every step completes and the report written over stdio is archived and verified in storage', async () => {
    // Plan as the CLI does: the registry with the extra file, the fs catalog discovered over stdio.
    const registry = loadRegistry(undefined, env);
    const fsOnly = { ...registry, groups: { fs: registry.groups.fs! } };
    const probe = new McpClientPool(fsOnly, { env });
    const discovery = await discover(fsOnly, probe, { timeoutMs: 10_000 }).finally(() => probe.close());
    expect(discovery.servers[0]).toMatchObject({ group: 'fs', healthy: true });
    const { plan } = planFromText(fs.readFileSync(EXAMPLE_PIPELINE, 'utf8'), {
      source: 'pipelines/examples/filesystem.yaml',
      registry,
      discovery,
      input: { title: 'Stdio report' },
    });

    const workflowId = `filesystem-${crypto.randomBytes(4).toString('hex')}`;
    const report = (await (await stack.start(plan, workflowId)).result()) as RunReport;

    expect(report.status).toBe('completed');
    expect(Object.fromEntries(Object.values(report.steps).map((s) => [s.id, s.status]))).toEqual(
      Object.fromEntries(['roots', 'folder', 'write_report', 'info', 'listing', 'search', 'read_back', 'archive', 'verify', 'inventory'].map((id) => [id, 'done'])),
    );
    const inbox = path.join(stack.dir, 'storage', 'inbox');
    const file = path.join(inbox, 'reports', `${workflowId}.md`);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toBe(`# Stdio report\n\nWritten by run ${workflowId} through @modelcontextprotocol/server-filesystem, archived by the storage server.\n`);
    const r = report.results as Record<string, Record<string, unknown>>;
    expect(r.roots!.content).toContain(inbox);
    expect(r.read_back!.content).toBe(text);
    expect(r.search!.content).toContain(file);
    expect(r.listing!.content).toContain(`[FILE] ${workflowId}.md`);
    expect(r.info!.content).toMatch(new RegExp(`size: ${Buffer.byteLength(text)}`));
    expect(r.archive).toMatchObject({ uri: `storage://reports/${workflowId}.md`, source: 'path', size: Buffer.byteLength(text) });
    expect(r.verify!.sha256).toBe(crypto.createHash('sha256').update(text).digest('hex'));
    expect((r.inventory!.items as Array<{ key: string }>).map((i) => i.key)).toContain(`reports/${workflowId}.md`);
    // The fs steps ran in the fs worker's child process, whose stderr the worker prefixes with the group.
    expect(fs.readFileSync(workerLog, 'utf8')).toMatch(/\[fs\] Secure MCP Filesystem Server running on stdio/);
  });

  test('when the fs worker is shut down, then its stdio server process goes with it', async () => {
    const servers = childrenOf(worker.pid!);
    expect(servers.length).toBeGreaterThanOrEqual(1);
    const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(servers.filter(pidAlive)).toEqual([]);
  });
});
