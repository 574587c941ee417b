import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { dagLevels, ganttOf } from './layout';
import { BadFilterError, listRuns, pipelineHistory } from './history';
import { dashboardPage } from './page';
import { ActivityStepIndex, ClosedRunCache, readRun } from './run-view';
import type { ServersMonitor } from './servers-monitor';

export interface DashboardOptions {
  client: Client;
  namespace: string;
  monitor: ServersMonitor;
  /** Temporal Web UI base URL. @default TEMPORAL_UI_URL or http://127.0.0.1:<TEMPORAL_UI_PORT|8233> */
  uiUrl?: string;
  /** @default 8090; 0 picks a free port */
  port?: number;
  /** Loopback only: the page has run controls' data and no authentication. @default 127.0.0.1 */
  host?: '127.0.0.1' | 'localhost' | '::1';
}

export interface RunningDashboard {
  url: string;
  port: number;
  close(): Promise<void>;
}

export function defaultUiUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.TEMPORAL_UI_URL ?? `http://127.0.0.1:${env.TEMPORAL_UI_PORT ?? 8233}`).replace(/\/$/, '');
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: string, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...extra });
  res.end(body);
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
}

/**
 * The dashboard's HTTP server: one self-contained page and its JSON endpoints. It answers only to a
 * loopback Host header (a page elsewhere cannot rebind a DNS name to it and read the runs).
 */
export async function startDashboardServer(opts: DashboardOptions): Promise<RunningDashboard> {
  const uiUrl = (opts.uiUrl ?? defaultUiUrl()).replace(/\/$/, '');
  const index = new ActivityStepIndex();
  const closed = new ClosedRunCache();
  const host = opts.host ?? '127.0.0.1';
  let port = 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);

  const runUrl = (workflowId: string, runId: string) =>
    `${uiUrl}/namespaces/${encodeURIComponent(opts.namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (!allowedHosts().has(req.headers.host ?? '')) throw new HttpError(403, `host '${req.headers.host ?? ''}' refused: open the dashboard at http://127.0.0.1:${port}/`);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method ?? ''} not allowed: the dashboard is read-only`);
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const p = url.pathname;
    if (p === '/' || p === '/index.html') {
      const nonce = crypto.randomBytes(16).toString('base64');
      send(res, 200, dashboardPage(nonce), 'text/html; charset=utf-8', {
        'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      });
      return;
    }
    if (p === '/healthz') return json(res, 200, { ok: true });
    if (p === '/api/runs') {
      const runs = await listRuns(opts.client, {
        pipeline: url.searchParams.get('pipeline') || undefined,
        status: url.searchParams.get('status') || undefined,
        limit: Number(url.searchParams.get('limit') ?? 50) || 50,
      });
      return json(res, 200, { runs: runs.map((r) => ({ ...r, url: runUrl(r.workflowId, r.runId) })) });
    }
    const m = /^\/api\/runs\/([^/]+)$/.exec(p);
    if (m) {
      const id = decodeURIComponent(m[1]!);
      const view = await readRun(opts.client, id, { index, closed }).catch((err: unknown) => {
        if ((err as { name?: string }).name === 'WorkflowNotFoundError') throw new HttpError(404, `no run with id '${id}'`);
        throw err;
      });
      const prog = view.progress;
      let compServers = new Map<string, string>();
      if (prog && Object.values(prog.steps).some((s) => s.compensation)) {
        compServers = await index.serversOf(opts.client, id, view.runId, Object.values(prog.steps).filter((s) => s.compensation).map((s) => `${s.id}.compensate`)).catch(() => new Map<string, string>());
      }
      return json(res, 200, {
        ...view,
        url: runUrl(id, view.runId),
        levels: prog ? dagLevels(prog.steps) : [],
        gantt: prog ? ganttOf(prog, view.now, (sid) => compServers.get(`${sid}.compensate`)) : undefined,
      });
    }
    if (p === '/api/servers') return json(res, 200, opts.monitor.snapshot());
    if (p === '/api/history') {
      const pipeline = url.searchParams.get('pipeline') ?? '';
      if (!pipeline) throw new HttpError(400, 'pipeline is required, e.g. /api/history?pipeline=hello');
      return json(res, 200, await pipelineHistory(opts.client, pipeline, closed));
    }
    throw new HttpError(404, `no such page: ${p}`);
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof BadFilterError ? 400 : 502;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 502) process.stderr.write(`dashboard: ${req.url ?? ''}: ${message}\n`);
      if (!res.headersSent) json(res, status, { error: message });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8090, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host === '::1' ? '[::1]' : host}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
