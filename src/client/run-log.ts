import type { Discovery } from '../mcp/discovery';
import { formatMs } from '../shared/duration';
import type { RunMetrics } from '../shared/metrics';
import type { Plan } from '../shared/plan';
import type { RunProgress, RunReport, StepProgress } from '../shared/run-types';

/** `[mm:ss.mmm]` since the start of the run log. */
export function stamp(ms: number): string {
  const m = Math.floor(ms / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `[${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(Math.floor(ms % 1000)).padStart(3, '0')}]`;
}

function fields(summary: StepProgress['summary']): string {
  if (!summary) return '';
  return Object.entries(summary)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : v}`)
    .join(', ');
}

/**
 * The run as a timestamped log by phase, in the spirit of the product brief, from the workflow's own
 * progress: every time and figure printed is the workflow's measurement or the server's answer.
 */
export class RunLog {
  private readonly logged = new Map<string, string>();
  private readonly phases = new Set<string>();

  constructor(
    /** Epoch ms of the log's zero (the CLI's start, so discovery and planning show too). */
    private readonly t0: number,
    private readonly write: (line: string) => void,
  ) {}

  line(at: number, text: string): void {
    this.write(`${stamp(Math.max(0, at - this.t0))} ${text}`);
  }

  /** Logs every step transition since the last call, in time order. */
  update(p: RunProgress): void {
    const events: Array<{ at: number; step: StepProgress; kind: string }> = [];
    for (const s of Object.values(p.steps)) {
      const prev = this.logged.get(s.id);
      if (s.startedAt !== undefined && prev === undefined) events.push({ at: s.startedAt, step: s, kind: 'running' });
      const end = s.status === 'done' || s.status === 'failed' || s.status === 'cancelled' ? s.status : undefined;
      if (end && prev !== end && prev !== 'compensated') events.push({ at: s.endedAt ?? s.startedAt ?? p.startedAt, step: s, kind: end });
      if ((s.status === 'compensated' || s.status === 'compensation_failed') && prev !== s.status) {
        events.push({ at: s.compensation?.endedAt ?? p.startedAt, step: s, kind: s.status });
      }
    }
    events.sort((a, b) => a.at - b.at);
    for (const e of events) {
      const s = e.step;
      const phase = s.phase ?? 'Pipeline';
      if (e.kind === 'running' && !this.phases.has(phase)) {
        this.phases.add(phase);
        this.line(e.at, `PHASE: ${phase}`);
      }
      const what = `${s.id.padEnd(22)} ${`${s.server}/${s.tool}`.padEnd(32)}`;
      if (e.kind === 'running') this.line(e.at, `  ▶ ${what} ${s.description ?? ''}`.trimEnd());
      else if (e.kind === 'done') {
        const dur = s.startedAt !== undefined && s.endedAt !== undefined ? formatMs(s.endedAt - s.startedAt) : '';
        const tool = s.toolTimeMs !== undefined ? ` (tool ${formatMs(s.toolTimeMs)})` : '';
        const retry = (s.attempts ?? 1) > 1 ? ` after ${s.attempts} attempts` : '';
        this.line(e.at, `  ✔ ${what} ${dur}${tool}${retry}${s.summary ? `  ${fields(s.summary)}` : ''}`);
      } else if (e.kind === 'failed') this.line(e.at, `  ✖ ${what} ${s.error?.type ?? ''}: ${s.error?.message ?? ''}`);
      else if (e.kind === 'cancelled') this.line(e.at, `  ⊘ ${what} cancelled`);
      else if (e.kind === 'compensated') this.line(e.at, `  ↺ ${what} compensated`);
      else this.line(e.at, `  ! ${what} compensation failed: ${s.compensation?.error ?? ''}`);
      this.logged.set(s.id, e.kind);
    }
  }
}

/** Phase 1 of the brief: what discovery found, measured. */
export function discoveryLines(d: Discovery, plan: Plan, estimate?: { runs: number; medianMs: number }): string[] {
  const out: string[] = [`Server discovery of ${d.servers.length} MCP servers`];
  for (const s of d.servers) {
    if (!s.healthy) {
      out.push(`  ✖ ${s.group} (${s.endpoint ?? 'no endpoint'}): ${s.error ?? 'unreachable'}`);
      continue;
    }
    const info = s.info ?? {};
    const limits = (info.limits ?? {}) as Record<string, unknown>;
    const caps = (info.capabilities ?? {}) as Record<string, unknown>;
    const capText = Object.entries(caps)
      .filter(([, v]) => typeof v !== 'object')
      .slice(0, 5)
      .map(([k, v]) => `${k}: ${String(v)}`)
      .join(', ');
    const rate = limits.rateLimitPerMinute ?? limits.rate_limit_per_minute;
    out.push(`  ✔ ${s.group} (${s.endpoint}) health ${s.healthMs?.toFixed(0)} ms, tools/list ${s.listToolsMs?.toFixed(0)} ms`);
    out.push(`      tools (${s.tools.length}): ${s.tools.map((t) => t.name).join(', ')}`);
    if (capText) out.push(`      capabilities: {${capText}}`);
    out.push(`      rate limit: ${rate === null || rate === undefined ? 'none enforced' : `${String(rate)}/min`}`);
  }
  const used = new Set(Object.values(plan.steps).map((s) => s.server));
  out.push('Capability matrix:');
  out.push(`  total tools available: ${d.totalTools} across ${d.servers.filter((s) => s.healthy).length} servers; this pipeline uses ${new Set(Object.values(plan.steps).map((s) => `${s.server}/${s.tool}`)).size} tools on ${used.size} servers`);
  out.push(`  dependency graph: ${plan.order.length} steps, ${plan.edges} tool relationships, ${plan.levels.length} levels`);
  out.push(`  parallel paths: up to ${plan.maxParallelism} steps at once; critical path ${plan.criticalPath.length} steps (${plan.criticalPath.join(' → ')})`);
  out.push(`  estimated duration: ${estimate ? `${formatMs(estimate.medianMs)} (median of ${estimate.runs} completed runs of ${plan.name})` : 'no history yet (first run of this pipeline here)'}`);
  return out;
}

/** Audit trail of a finished run: counts and sums from the run's own results. */
export function auditLines(report: RunProgress & Partial<Pick<RunReport, 'results'>>, m: RunMetrics): string[] {
  const steps = Object.values(report.steps);
  let bytes = 0;
  for (const s of steps) {
    const sum = s.summary ?? {};
    for (const [k, v] of Object.entries(sum)) if (/(^|\.)(bytes|size)$/.test(k) && typeof v === 'number') bytes += v;
  }
  const security = steps.filter((s) => s.server === 'security' && s.status !== 'skipped').length;
  const failed = steps.filter((s) => s.status === 'failed').length;
  const compensated = steps.filter((s) => s.status === 'compensated').length;
  return [
    `operations: ${m.toolCalls} tool calls across ${new Set(steps.filter((s) => s.status !== 'skipped' && s.status !== 'waiting').map((s) => s.server)).size} servers`,
    `data moved by reference: ${(bytes / 1e6).toFixed(1)} MB in objects written or read (results in Temporal: ${steps.reduce((a, s) => a + (s.resultBytes ?? 0), 0)} bytes)`,
    `security events: ${security} calls to the security server`,
    `failed operations: ${failed}; retries: ${m.retries}; compensated steps: ${compensated}`,
  ];
}
