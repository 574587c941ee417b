import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { answerScrape } from './server-metrics';

/** A free TCP port on `host` right now (for Temporal core's exporter, which must be told a port). */
export function freeLocalPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Where a worker announces its metrics URL: `<MCP_DATA_ROOT>/run/metrics-<prefix><group>.json`. */
export function metricsRunFile(group: string, env: NodeJS.ProcessEnv = process.env): string {
  const root = env.MCP_DATA_ROOT ?? path.resolve('.data');
  return path.join(root, 'run', `metrics-${env.MCP_TASK_QUEUE_PREFIX ?? ''}${group}.json`);
}

/** Contents of a worker's metrics run file. */
export interface MetricsAnnouncement {
  group: string;
  /** The merged endpoint, e.g. `http://127.0.0.1:41234/metrics`. */
  url: string;
  /** Temporal core's own exporter (also appended to `url`). */
  coreUrl?: string;
  pid: number;
  startedAt: string;
}

/**
 * Reads every worker announcement in `<root>/run/`, skipping unreadable files and, unless
 * `includeDead`, those of processes that no longer exist (a clean shutdown removes its file).
 */
export function readMetricsAnnouncements(root: string, opts: { includeDead?: boolean } = {}): MetricsAnnouncement[] {
  const dir = path.join(root, 'run');
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => /^metrics-.+\.json$/.test(n));
  } catch {
    return [];
  }
  const out: MetricsAnnouncement[] = [];
  for (const n of names) {
    try {
      const a = JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as MetricsAnnouncement;
      if (typeof a.url !== 'string' || typeof a.group !== 'string') continue;
      if (!opts.includeDead) {
        try {
          process.kill(a.pid, 0);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ESRCH') continue;
        }
      }
      out.push(a);
    } catch {
      // a file being written, or not ours
    }
  }
  return out;
}

export interface MetricsEndpointOptions {
  registry: Registry;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Temporal core's Prometheus endpoint, scraped and appended to every answer. */
  coreUrl?: string;
  /** Bearer that admits non-loopback scrapers. @default env MCP_SERVICE_TOKEN */
  serviceToken?: string;
  /** Announce the URL in this file (removed on close). */
  runFile?: string;
  group: string;
}

export interface RunningMetricsEndpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` for a worker process: our registry, then Temporal core's scrape appended (the
 * families do not collide: core's are all `temporal_`-prefixed), so one scrape target per worker
 * holds both. When core does not answer, its part is replaced by a comment and
 * `mcp_worker_core_metrics_up 0`.
 */
export async function startMetricsEndpoint(opts: MetricsEndpointOptions): Promise<RunningMetricsEndpoint> {
  const host = opts.host ?? '127.0.0.1';
  const serviceToken = opts.serviceToken ?? (process.env.MCP_SERVICE_TOKEN || undefined);
  const exposition = async (): Promise<{ contentType: string; body: string }> => {
    let body = await opts.registry.metrics();
    if (opts.coreUrl) {
      let core: string;
      let up = 1;
      try {
        const res = await fetch(opts.coreUrl, { signal: AbortSignal.timeout(2000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        core = await res.text();
      } catch (err) {
        up = 0;
        core = `# temporal core metrics unavailable from ${opts.coreUrl}: ${err instanceof Error ? err.message : String(err)}\n`;
      }
      body +=
        '# HELP mcp_worker_core_metrics_up 1 when the Temporal core exporter answered this scrape.\n' +
        '# TYPE mcp_worker_core_metrics_up gauge\n' +
        `mcp_worker_core_metrics_up{worker="${opts.group}"} ${up}\n` +
        core;
    }
    return { contentType: opts.registry.contentType, body };
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/metrics') {
      void answerScrape(req, res, { exposition }, serviceToken);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('only GET /metrics here\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
  if (opts.runFile) {
    fs.mkdirSync(path.dirname(opts.runFile), { recursive: true });
    const announcement: MetricsAnnouncement = { group: opts.group, url, coreUrl: opts.coreUrl, pid: process.pid, startedAt: new Date().toISOString() };
    const tmp = `${opts.runFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(announcement, null, 2) + '\n');
    fs.renameSync(tmp, opts.runFile);
  }
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        if (opts.runFile) fs.rmSync(opts.runFile, { force: true });
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
