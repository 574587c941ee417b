import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { DEFAULT_PORTS, DEFAULT_TEMPORAL_PORT, DEFAULT_UI_PORT, ORCHESTRATOR_TASK_QUEUE, SERVER_GROUPS, orchestratorQueue, taskQueueFor } from '../../shared/constants';
import { entryCommand, entryExists, PACKAGE_ROOT } from './entry';
import { isAlive, ProcessExitedError, spawnBackground, stopProcess, waitFor } from './processes';
import { devServerArgs, portOpen, temporalCliPath } from './temporal-dev-server';

/** Port of the model-serving service started with the stack. */
export const MODEL_SERVING_DEFAULT_PORT = 8007;
/** Port of the workflow MCP server started with the stack. */
export const WORKFLOW_SERVER_DEFAULT_PORT = 8010;
import { authSettingsFromEnv } from '../../servers/kit/auth';
import { payloadCodecSettingsFromEnv } from '../../codec';
import { loadRegistry } from '../../registry/registry';

/** Everything the local stack keeps: under `.data/` of the working directory (git-ignored). */
export interface StackPaths {
  root: string;
  logs: string;
  state: string;
  temporalDb: string;
}

export function stackPaths(root = process.env.MCP_DATA_ROOT ?? path.resolve('.data')): StackPaths {
  return { root, logs: path.join(root, 'logs'), state: path.join(root, 'stack.json'), temporalDb: path.join(root, 'temporal.db') };
}

interface StackState {
  startedAt: string;
  serviceToken: string;
  processes: Record<string, { pid: number; log: string; url?: string }>;
}

function readState(p: StackPaths): StackState | undefined {
  try {
    return JSON.parse(fs.readFileSync(p.state, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

export interface UpOptions {
  paths?: StackPaths;
  /** Start group workers and the orchestrator worker. @default true */
  workers?: boolean;
  /** Extra environment for every process (e.g. MCP_DATA_SEED_ROWS). */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface StackInfo {
  temporalAddress: string;
  uiUrl: string;
  servers: Record<string, string>;
  processes: StackState['processes'];
}

/**
 * Starts the local stack in the background: the Temporal dev server (persistent DB under .data/), the
 * MCP servers, one worker per server group and the orchestrator worker. Components already running are
 * left alone, so `up` is safe to repeat.
 */
export async function up(opts: UpOptions = {}): Promise<StackInfo> {
  const p = opts.paths ?? stackPaths();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  fs.mkdirSync(p.logs, { recursive: true });
  const prev = readState(p);
  const state: StackState = {
    startedAt: new Date().toISOString(),
    serviceToken: prev?.serviceToken ?? crypto.randomBytes(24).toString('base64url'),
    processes: {},
  };
  for (const [name, proc] of Object.entries(prev?.processes ?? {})) if (isAlive(proc.pid)) state.processes[name] = proc;
  const save = () => fs.writeFileSync(p.state, JSON.stringify(state, null, 2), { mode: 0o600 });

  const temporalPort = Number(process.env.TEMPORAL_DEV_PORT ?? DEFAULT_TEMPORAL_PORT);
  const uiPort = Number(process.env.TEMPORAL_UI_PORT ?? DEFAULT_UI_PORT);
  const temporalAddress = `127.0.0.1:${temporalPort}`;
  const serverUrl = (group: string) => `http://127.0.0.1:${process.env[`MCP_${group.toUpperCase()}_PORT`] ?? DEFAULT_PORTS[group as keyof typeof DEFAULT_PORTS]}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    MCP_DATA_ROOT: p.root,
    MCP_SERVICE_TOKEN: state.serviceToken,
    MCP_STORAGE_URL: serverUrl('storage'),
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? temporalAddress,
  };
  // Replicas (MCP_REPLICAS="data=2"): extra servers of a group on their own ports and data dirs.
  const replicas = replicaPlan(env, serverUrl, p.root);
  // Workers find the servers through the registry (primary first, then its replicas: priority in list
  // order, so the pool fails over to a replica and back); follow any port overrides.
  for (const group of SERVER_GROUPS) {
    env[`MCP_${group.toUpperCase()}_ENDPOINTS`] ??= [serverUrl(group), ...(replicas[group] ?? []).map((r) => r.url)].map((u) => `${u}/mcp`).join(',');
  }
  // The model-serving service the seed pipeline deploys to, and the integration server's outbound
  // allowlist: exactly the stack's own origins (everything else stays behind the SSRF guard).
  const servingUrl = `http://127.0.0.1:${process.env.MCP_MODEL_SERVING_PORT ?? MODEL_SERVING_DEFAULT_PORT}`;
  env.MCP_MODEL_SERVING_URL = servingUrl;
  env.MCP_INTEGRATION_ALLOW ??= [...SERVER_GROUPS.map(serverUrl), servingUrl].join(',');
  // Authentication (MCP_AUTH=jwt unless set to off): every server verifies tokens of our security
  // server, which therefore starts first; workers read their client credentials from its data dir.
  const auth = authSettingsFromEnv(env);
  if (auth.mode === 'jwt') {
    env.MCP_AUTH = 'jwt';
    env.MCP_AUTH_ISSUER ??= serverUrl('security');
    env.MCP_CLIENT_CREDENTIALS_FILE ??= path.join(env.MCP_SECURITY_DATA_DIR ?? path.join(p.root, 'security'), 'clients.secret.json');
  }
  // Encrypted history (MCP_PAYLOAD_CODEC=aes-gcm): workers and clients fetch the payload keys from the
  // security server, and the dev server's Web UI decodes through the security server's codec endpoint.
  const codecOn = payloadCodecSettingsFromEnv(env).mode !== 'off';
  if (codecOn) {
    env.MCP_CODEC_CORS_ORIGINS ??= `http://127.0.0.1:${uiPort},http://localhost:${uiPort}`;
    env.MCP_CLIENT_CREDENTIALS_FILE ??= path.join(env.MCP_SECURITY_DATA_DIR ?? path.join(p.root, 'security'), 'clients.secret.json');
  }
  // One client per group: a client id in the caller's environment must not stand in for all of them.
  const workerEnv: NodeJS.ProcessEnv = { ...env };
  delete workerEnv.MCP_CLIENT_ID;
  delete workerEnv.MCP_CLIENT_SECRET;

  const start = (name: string, command: string, args: string[], url?: string) => {
    if (state.processes[name]) return;
    const logFile = path.join(p.logs, `${name}.log`);
    const procEnv = name.startsWith('worker-') ? workerEnv : env;
    state.processes[name] = { pid: spawnBackground(command, args, { env: procEnv, logFile, cwd: PACKAGE_ROOT }), log: logFile, url };
    save();
  };

  // 1. Temporal, unless the environment points at another cluster.
  if (!process.env.TEMPORAL_ADDRESS && !(await portOpen(temporalPort))) {
    const bin = temporalCliPath();
    log(`starting Temporal dev server on ${temporalAddress} (Web UI http://127.0.0.1:${uiPort}, DB ${p.temporalDb})`);
    start('temporal', bin, devServerArgs({ dbFile: p.temporalDb, port: temporalPort, uiPort, uiCodecEndpoint: codecOn ? `${serverUrl('security')}/codec` : undefined }));
  }
  await waitFor(`Temporal at ${env.TEMPORAL_ADDRESS}`, async () => {
    const c = await Connection.connect({ address: env.TEMPORAL_ADDRESS!, connectTimeout: 1000 });
    try {
      await c.workflowService.getSystemInfo({});
      return true;
    } finally {
      await c.close();
    }
  }, 60_000, 300);

  // 2. MCP servers that exist in this build: the security server first (the others verify tokens
  // against its JWKS, and workers need the client credentials it generates), then the rest.
  const servers: Record<string, string> = {};
  const only = process.env.MCP_STACK_GROUPS?.split(',').map((g) => g.trim());
  const wanted = SERVER_GROUPS.filter((g) => !only || only.includes(g) || (g === 'security' && (auth.mode === 'jwt' || codecOn)));
  const startServer = async (group: string) => {
    const rel = `servers/${group}/main`;
    if (!entryExists(rel)) return;
    const url = serverUrl(group);
    servers[group] = `${url}/mcp`;
    const { command, args } = entryCommand(rel);
    if (!state.processes[`server-${group}`] && !(await portOpen(Number(new URL(url).port)))) log(`starting ${group} server on ${url}/mcp`);
    if (!(await portOpen(Number(new URL(url).port)))) start(`server-${group}`, command, args, `${url}/mcp`);
  };
  const startReplicas = async (group: string) => {
    if (!servers[group]) return;
    const { command, args } = entryCommand(`servers/${group}/main`);
    for (const r of replicas[group] ?? []) {
      if (state.processes[r.name] || (await portOpen(Number(new URL(r.url).port)))) continue;
      log(`starting ${group} replica ${r.index} on ${r.url}/mcp (data ${r.dataDir})`);
      const logFile = path.join(p.logs, `${r.name}.log`);
      const key = group.toUpperCase();
      const procEnv = { ...env, [`MCP_${key}_PORT`]: String(new URL(r.url).port), [`MCP_${key}_DATA_DIR`]: r.dataDir };
      state.processes[r.name] = { pid: spawnBackground(command, args, { env: procEnv, logFile, cwd: PACKAGE_ROOT }), log: logFile, url: `${r.url}/mcp` };
      save();
    }
  };
  const waitHealthy = async (group: string) => {
    const url = servers[group];
    if (!url) return;
    const targets = [{ health: url.replace(/\/mcp$/, '/healthz'), proc: state.processes[`server-${group}`] }];
    for (const r of replicas[group] ?? []) targets.push({ health: `${r.url}/healthz`, proc: state.processes[r.name] });
    for (const { health, proc } of targets) {
      // Seeding the data server's tables on first start takes a while.
      await waitFor(`${group} server (${health}; log ${proc?.log ?? 'n/a'})`, async () => {
        if (proc && !isAlive(proc.pid)) throw new ProcessExitedError(`the ${group} server`, proc.log);
        return (await fetch(health, { signal: AbortSignal.timeout(2000) })).ok;
      }, 180_000, 250);
    }
  };
  if (wanted.includes('security')) {
    await startServer('security');
    await waitHealthy('security');
  }
  if (auth.mode === 'jwt' && !servers.security) {
    throw new Error('MCP_AUTH=jwt needs the security server (src/servers/security), which is not in this build; set MCP_AUTH=off for local experiments');
  }
  const rest = wanted.filter((g) => g !== 'security');
  for (const group of rest) {
    await startServer(group);
    await startReplicas(group);
  }
  // Services beside the MCP groups: the model-serving service the seed pipeline deploys to, and the
  // workflow server (an MCP server that starts, watches and schedules pipelines for any MCP client).
  const extras = [
    { name: 'model-serving', url: servingUrl },
    { name: 'workflow', url: `http://127.0.0.1:${process.env.MCP_WORKFLOW_PORT ?? WORKFLOW_SERVER_DEFAULT_PORT}` },
  ];
  for (const extra of only ? [] : extras) {
    if (!entryExists(`servers/${extra.name}/main`) || (await portOpen(Number(new URL(extra.url).port)))) continue;
    log(`starting ${extra.name} on ${extra.url}`);
    const { command, args } = entryCommand(`servers/${extra.name}/main`);
    start(`server-${extra.name}`, command, args, extra.url);
  }
  for (const group of rest) await waitHealthy(group);
  for (const extra of extras) {
    const proc = state.processes[`server-${extra.name}`];
    if (!proc) continue;
    await waitFor(`${extra.name} (${extra.url}/healthz; log ${proc.log})`, async () => {
      if (!isAlive(proc.pid)) throw new ProcessExitedError(extra.name, proc.log);
      return (await fetch(`${extra.url}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
    }, 60_000, 250);
  }

  // 3. Workers: one per server group (ours, and third-party groups of the registry: stdio servers
  // their worker starts, HTTP servers elsewhere), and the orchestrator.
  const thirdParty = only ? [] : Object.keys(loadRegistry(undefined, env).groups).filter((g) => !(SERVER_GROUPS as readonly string[]).includes(g));
  if (opts.workers !== false) {
    for (const group of [...Object.keys(servers), ...thirdParty]) {
      const { command, args } = entryCommand('workers/main');
      if (!state.processes[`worker-${group}`]) log(`starting worker for mcp-${group}`);
      start(`worker-${group}`, command, [...args, '--group', group]);
    }
    const { command, args } = entryCommand('workers/main');
    if (!state.processes['worker-orchestrator']) log('starting orchestrator worker');
    start('worker-orchestrator', command, [...args, '--group', 'orchestrator']);
    const prefix = process.env.MCP_TASK_QUEUE_PREFIX ?? '';
    await waitForWorkers(env.TEMPORAL_ADDRESS!, process.env.TEMPORAL_NAMESPACE ?? 'default', [orchestratorQueue(prefix), ...[...Object.keys(servers), ...thirdParty].map((g) => taskQueueFor(g, prefix))], state, log);
    // 4. The alert evaluator: scrapes servers' and workers' health and metrics, pushes them to the
    // notification server, whose rules (server down, high latency, resource exhaustion) post to Slack.
    if (servers.notification && entryExists('observability/alerts/main')) {
      const alerts = entryCommand('observability/alerts/main');
      if (!state.processes.alerts) log('starting alert evaluator');
      start('alerts', alerts.command, alerts.args);
    }
  }
  save();
  return { temporalAddress: env.TEMPORAL_ADDRESS!, uiUrl: `http://127.0.0.1:${uiPort}`, servers, processes: state.processes };
}

/** One extra server of a group started by `up` (MCP_REPLICAS). */
export interface ReplicaSpec {
  /** Process name in the stack state, e.g. `server-data-2`. */
  name: string;
  /** 2 for the first replica (the primary is 1). */
  index: number;
  /** Base URL (no /mcp). */
  url: string;
  /** Its own data directory: a replica never shares the primary's files (DuckDB locks its database). */
  dataDir: string;
}

/**
 * Reads `MCP_REPLICAS` (e.g. `data=2` or `data=2,compute=2`: servers per group, primary included).
 * Replica k listens on `MCP_<GROUP>_PORT_<k>`, else the primary's port + 100 × (k − 1), and keeps its
 * state in `<root>/<group>-<k>`, seeded the same way as the primary (the seed is deterministic). Each
 * replica has its own state: fine for the data server's seeded tables and stateless tools, not a
 * shared store (a storage replica would hold other objects).
 */
export function replicaPlan(env: NodeJS.ProcessEnv, serverUrl: (group: string) => string, root: string): Record<string, ReplicaSpec[]> {
  const raw = env.MCP_REPLICAS?.trim();
  const out: Record<string, ReplicaSpec[]> = {};
  if (!raw) return out;
  for (const part of raw.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(part);
    if (!m) throw new Error(`MCP_REPLICAS: '${part}' is not <group>=<count> (e.g. data=2)`);
    const group = m[1]!;
    const count = Number(m[2]);
    if (!(SERVER_GROUPS as readonly string[]).includes(group)) throw new Error(`MCP_REPLICAS: unknown group '${group}' (groups: ${SERVER_GROUPS.join(', ')})`);
    if (count < 1 || count > 9) throw new Error(`MCP_REPLICAS: ${group}=${count}: between 1 and 9 servers per group`);
    const base = new URL(serverUrl(group));
    const key = group.toUpperCase();
    out[group] = [];
    for (let k = 2; k <= count; k++) {
      const port = env[`MCP_${key}_PORT_${k}`] ?? String(Number(base.port) + 100 * (k - 1));
      if (!/^\d+$/.test(port)) throw new Error(`MCP_${key}_PORT_${k} must be a port number, got '${port}'`);
      out[group].push({ name: `server-${group}-${k}`, index: k, url: `${base.protocol}//${base.hostname}:${port}`, dataDir: path.join(root, `${group}-${k}`) });
    }
  }
  return out;
}

/** Waits until a poller is seen on every task queue, so a run started right after `up` is picked up. */
async function waitForWorkers(address: string, namespace: string, queues: string[], state: StackState, log: (l: string) => void) {
  const c = await Connection.connect({ address });
  try {
    for (const q of queues) {
      await waitFor(`a worker polling task queue ${q}`, async () => {
        for (const [name, proc] of Object.entries(state.processes)) {
          if (name.startsWith('worker-') && !isAlive(proc.pid)) throw new ProcessExitedError(name, proc.log);
        }
        const r = await c.workflowService.describeTaskQueue({
          namespace,
          taskQueue: { name: q },
          taskQueueType: q.endsWith(ORCHESTRATOR_TASK_QUEUE) ? 1 : 2,
        });
        return (r.pollers?.length ?? 0) > 0;
      }, 120_000, 300);
    }
    log(`workers ready on ${queues.join(', ')}`);
  } finally {
    await c.close();
  }
}

/** Stops what `up` started: workers first (they finish in-flight calls), then servers, then Temporal. */
export async function down(opts: { paths?: StackPaths; log?: (l: string) => void } = {}): Promise<string[]> {
  const p = opts.paths ?? stackPaths();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const state = readState(p);
  if (!state) {
    log(`no stack state at ${p.state}: nothing to stop`);
    return [];
  }
  const rank = (n: string) => (n.startsWith('worker-') ? 0 : n.startsWith('server-') ? 1 : 2);
  const names = Object.keys(state.processes).sort((a, b) => rank(a) - rank(b));
  const stopped: string[] = [];
  for (const r of [0, 1, 2]) {
    await Promise.all(
      names
        .filter((n) => rank(n) === r)
        .map(async (n) => {
          const outcome = await stopProcess(state.processes[n]!.pid, r === 0 ? 35_000 : 10_000);
          if (outcome !== 'not-running') stopped.push(n);
          log(`${n}: ${outcome}`);
        }),
    );
  }
  state.processes = {};
  fs.writeFileSync(p.state, JSON.stringify(state, null, 2), { mode: 0o600 });
  return stopped;
}
