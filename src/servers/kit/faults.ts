import crypto from 'node:crypto';
import type { Express, NextFunction, Request, Response, RequestHandler } from 'express';
import { z } from 'zod';

/**
 * Server-side fault injection for tests and demos (issue 6). Faults hit `tools/call` requests only, at
 * the HTTP level, so the client sees what a sick server looks like: added latency, an HTTP 503 (a
 * transient fault that retries and breakers count), or a hang (no answer until the client gives up).
 */
export const faultSettingsSchema = z
  .object({
    failRate: z.number().min(0).max(1).default(0).describe('Share of tool calls answered with HTTP 503, 0..1'),
    latencyMs: z.number().int().min(0).max(600_000).default(0).describe('Delay added before each tool call, ms'),
    hangRate: z.number().min(0).max(1).default(0).describe('Share of tool calls that never get an answer, 0..1'),
    tools: z.array(z.string()).optional().describe('Only these tools get faults (all when absent)'),
  })
  .strict();
export type FaultSettings = z.infer<typeof faultSettingsSchema>;

export interface FaultCounters {
  /** Tool calls that went through the injector. */
  seen: number;
  failed: number;
  delayed: number;
  hung: number;
}

/** Parses `MCP_FAULTS` (JSON); undefined when unset or empty; throws naming the variable when invalid. */
export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): FaultSettings | undefined {
  const raw = env.MCP_FAULTS;
  if (!raw || raw.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`MCP_FAULTS is not valid JSON: ${raw.slice(0, 100)}`);
  }
  const parsed = faultSettingsSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`invalid MCP_FAULTS: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** The fault switch of one server: settings that can change at run time, and counters of what it did. */
export class FaultInjector {
  private settingsValue: FaultSettings | undefined;
  readonly counters: FaultCounters = { seen: 0, failed: 0, delayed: 0, hung: 0 };
  /** Requests being held (hangs and delays), ended when the server closes. */
  private readonly held = new Set<() => void>();

  constructor(
    settings?: FaultSettings,
    private readonly random: () => number = Math.random,
  ) {
    this.settingsValue = settings;
  }

  get settings(): FaultSettings | undefined {
    return this.settingsValue;
  }

  set(settings: FaultSettings | undefined): void {
    this.settingsValue = settings;
  }

  private applies(body: unknown): boolean {
    const s = this.settingsValue;
    if (!s) return false;
    const msgs = Array.isArray(body) ? body : [body];
    return msgs.some((m) => {
      const msg = m as { method?: unknown; params?: { name?: unknown } } | null;
      if (msg?.method !== 'tools/call') return false;
      return !s.tools || (typeof msg.params?.name === 'string' && s.tools.includes(msg.params.name));
    });
  }

  /**
   * Applies the faults to one `POST /mcp` request (after authentication, so a refused client still
   * gets its 401). Resolves true when the request should proceed, false when a fault answered (503)
   * or swallowed (hang) it.
   */
  async intercept(req: Request, res: Response): Promise<boolean> {
    const s = this.settingsValue;
    if (!s || !this.applies(req.body)) return true;
    this.counters.seen++;
    const roll = this.random();
    if (s.latencyMs > 0) {
      this.counters.delayed++;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.held.delete(done);
          resolve();
        };
        const timer = setTimeout(done, s.latencyMs);
        this.held.add(done);
        res.once('close', done);
      });
      if (res.destroyed || res.writableEnded) return false;
    }
    if (roll < s.failRate) {
      this.counters.failed++;
      res.setHeader('Retry-After', '1');
      res.status(503).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Service unavailable (injected fault)' }, id: null });
      return false;
    }
    if (roll < s.failRate + s.hangRate) {
      this.counters.hung++;
      // Never answered: the client's timeout (or the server's shutdown) ends it.
      await new Promise<void>((resolve) => {
        const done = () => {
          this.held.delete(done);
          resolve();
        };
        this.held.add(done);
        res.once('close', done);
      });
      return false;
    }
    return true;
  }

  /** Ends pending delays and hangs (server shutdown). */
  close(): void {
    for (const f of [...this.held]) f();
    this.held.clear();
  }
}

function sameToken(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

/**
 * `GET /admin/faults` (settings and counters) and `POST /admin/faults` (body: settings, or `{}`/`null`
 * to clear), both behind the stack's service token as a bearer. Without a service token the routes
 * answer 404: an admin switch nobody can authenticate to should not look like it exists.
 */
export function serveFaultAdmin(app: Express, faults: FaultInjector, serviceToken: string | undefined, parseJson: RequestHandler): void {
  const guard = (req: Request, res: Response, next: NextFunction): void => {
    if (!serviceToken) {
      res.status(404).json({ error: 'not_found' });
      return;
    }
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    if (!m || !sameToken(m[1]!, serviceToken)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="admin"');
      res.status(401).json({ error: 'unauthorized', message: 'POST/GET /admin/faults needs the service token (MCP_SERVICE_TOKEN) as a bearer' });
      return;
    }
    next();
  };
  const view = () => ({ enabled: !!faults.settings, settings: faults.settings ?? null, counters: { ...faults.counters } });
  app.get('/admin/faults', guard, (_req, res) => {
    res.json(view());
  });
  app.post('/admin/faults', guard, parseJson, (req, res) => {
    const body: unknown = req.body;
    if (body === null || body === undefined || (typeof body === 'object' && Object.keys(body).length === 0)) {
      faults.set(undefined);
      res.json(view());
      return;
    }
    const parsed = faultSettingsSchema.safeParse(body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_faults', message: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
      return;
    }
    faults.set(parsed.data);
    res.json(view());
  });
}
