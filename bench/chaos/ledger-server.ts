import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { registerTool, startMcpHttpServer, ToolError, type RunningServer } from '../../src/servers/kit';

/** One applied side effect, as the ledger server recorded it. */
export interface LedgerEntry {
  name: string;
  kind: 'effect' | 'undo';
  key?: string;
  at: number;
}

/**
 * The ledger server's own evidence of what happened, kept outside the HTTP server so it survives a
 * server restart: the side effects it applied (at most one per idempotency key, since that is what a
 * well-behaved tool does), every execution of a handler (retries show up here), and replays.
 */
export class Ledger {
  readonly entries: LedgerEntry[] = [];
  /** Handler executions per tool name. */
  readonly executions: Record<string, number> = {};
  /** Calls that found their idempotency key already applied and answered from the record. */
  replays = 0;
  /** Calls of an `effect`/`undo` without an idempotency key: each one applies the effect again. */
  keyless = 0;
  /** Calls per `ticks` counter name. */
  readonly ticks: Record<string, number> = {};
  private readonly applied = new Map<string, LedgerEntry>();

  /** Applies an effect once per key (no key: every time, so a missing key shows up as duplication). */
  apply(kind: LedgerEntry['kind'], name: string, key: string | undefined): { entry: LedgerEntry; replayed: boolean } {
    const k = key === undefined ? undefined : `${kind}:${key}`;
    const prior = k === undefined ? undefined : this.applied.get(k);
    if (prior) {
      this.replays++;
      return { entry: prior, replayed: true };
    }
    if (key === undefined) this.keyless++;
    const entry: LedgerEntry = { name, kind, key, at: Date.now() };
    this.entries.push(entry);
    if (k !== undefined) this.applied.set(k, entry);
    return { entry, replayed: false };
  }

  /** Times the effect `name` of `kind` was applied (1 = exactly once). */
  count(name: string, kind: LedgerEntry['kind'] = 'effect'): number {
    return this.entries.filter((e) => e.name === name && e.kind === kind).length;
  }

  /** Effects applied more than once, summed over names whose prefix matches. */
  duplicated(prefix: string): number {
    const per = new Map<string, number>();
    for (const e of this.entries) if (e.name.startsWith(prefix)) per.set(`${e.kind}:${e.name}`, (per.get(`${e.kind}:${e.name}`) ?? 0) + 1);
    return [...per.values()].reduce((a, n) => a + Math.max(0, n - 1), 0);
  }

  /** Undo entries of names with this prefix, in the order they were applied. */
  undoOrder(prefix: string): string[] {
    return this.entries.filter((e) => e.kind === 'undo' && e.name.startsWith(prefix)).map((e) => e.name);
  }
}

function hold(ms: number, signal: AbortSignal, progress: (p: number, total: number) => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t0 = Date.now();
    // Progress every second keeps a long call alive and heartbeats its activity.
    const beat = setInterval(() => void progress(Date.now() - t0, ms).catch(() => undefined), 1000);
    const done = setTimeout(() => {
      clearInterval(beat);
      resolve();
    }, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(done);
        clearInterval(beat);
        reject(new ToolError('cancelled by the caller', 'cancelled'));
      },
      { once: true },
    );
  });
}

/**
 * A measuring instrument for the chaos suite (not a product server), on the real MCP server kit:
 * `effect` applies a named side effect once per idempotency key and THEN holds the call open for
 * `hold_ms` (so a worker can be killed after the effect and before completion), `undo` is its
 * compensation, `fail` is a tool error, `ticks` counts polls. The evidence lives in a {@link Ledger}.
 */
export async function startLedgerServer(ledger: Ledger, opts: { port?: number; dataDir: string }): Promise<RunningServer> {
  const exec = (tool: string) => (ledger.executions[tool] = (ledger.executions[tool] ?? 0) + 1);
  const build = () => {
    const server = new McpServer({ name: 'ledger', version: '0.0.0' });
    const sideEffect = (kind: LedgerEntry['kind']) =>
      async ({ name, hold_ms }: { name: string; hold_ms: number }, ctx: { signal: AbortSignal; idempotencyKey?: string; progress(p: number, t?: number): Promise<void> }) => {
        exec(kind);
        const { replayed } = ledger.apply(kind, name, ctx.idempotencyKey);
        if (hold_ms > 0) await hold(hold_ms, ctx.signal, (p, t) => ctx.progress(p, t));
        return { name, replayed };
      };
    const effectSchema = {
      name: z.string().min(1).max(200).describe('Name of the effect (unique per step of a run)'),
      hold_ms: z.number().int().min(0).max(120_000).default(0).describe('How long to hold the call open AFTER applying the effect'),
    };
    const out = { name: z.string().describe('Effect name'), replayed: z.boolean().describe('True when the key was already applied') };
    registerTool(
      server,
      'effect',
      {
        title: 'Apply an effect',
        description: 'Applies a named side effect once per idempotency key, then holds the call open for hold_ms.',
        inputSchema: effectSchema,
        outputSchema: out,
        annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
      },
      sideEffect('effect'),
    );
    registerTool(
      server,
      'undo',
      {
        title: 'Undo an effect',
        description: 'Compensation of effect: records the undo once per idempotency key, then holds for hold_ms.',
        inputSchema: effectSchema,
        outputSchema: out,
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      },
      sideEffect('undo'),
    );
    registerTool(
      server,
      'fail',
      {
        title: 'Fail',
        description: 'Always a tool error (isError)',
        inputSchema: { name: z.string().describe('Which step failed') },
        outputSchema: { ok: z.boolean().describe('Never returned') },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      async ({ name }) => {
        exec('fail');
        throw new ToolError(`step ${name} fails on purpose (chaos)`, 'chaos_fail');
      },
    );
    registerTool(
      server,
      'ticks',
      {
        title: 'Count polls',
        description: "Counts calls per name; status is 'done' from the `need`-th call on.",
        inputSchema: { name: z.string().describe('Counter'), need: z.number().int().min(1).describe('Calls until done') },
        outputSchema: { n: z.number().describe('Calls so far'), status: z.string().describe('pending or done') },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      async ({ name, need }) => {
        exec('ticks');
        const n = (ledger.ticks[name] = (ledger.ticks[name] ?? 0) + 1);
        return { n, status: n >= need ? 'done' : 'pending' };
      },
    );
    return server;
  };
  return startMcpHttpServer({
    name: 'ledger',
    version: '0.0.0',
    config: { host: '127.0.0.1', port: opts.port ?? 0, dataDir: opts.dataDir, allowedHosts: [], allowedOrigins: [], maxBodyBytes: 1 << 20 },
    buildServer: build,
    rateLimit: false,
    // Faults start off; scenarios switch them on (and they count calls while on).
    faults: { failRate: 0, latencyMs: 0, hangRate: 0 },
  });
}
