import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { SpanRecord } from './file-exporter';
import { traceDir } from './setup';

/** A span with its children, ordered by start time. */
export interface SpanNode extends SpanRecord {
  children: SpanNode[];
}

/** One trace read back from the span files. */
export interface TraceTree {
  traceId: string;
  /** Spans without a parent in the files (normally one: the client's `StartWorkflow`). */
  roots: SpanNode[];
  spans: SpanRecord[];
  /** Services that recorded spans of this trace. */
  services: string[];
}

/** Attributes that name the run a span belongs to: ours, Temporal's interceptors', the workflow sink's. */
const RUN_ATTRS = ['mcp.run_id', 'temporalWorkflowId', 'workflowId'] as const;

async function* spansIn(file: string): AsyncGenerator<SpanRecord> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      yield JSON.parse(line) as SpanRecord;
    } catch {
      // A line cut short by a killed process: skip it, keep the rest.
    }
  }
}

function spanFiles(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => path.join(dir, f));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Builds the span tree of one trace; a span whose parent is missing from the files becomes a root. */
export function buildTree(traceId: string, spans: SpanRecord[]): TraceTree {
  const nodes = new Map<string, SpanNode>();
  for (const s of spans) nodes.set(s.spanId, { ...s, children: [] });
  const roots: SpanNode[] = [];
  for (const n of nodes.values()) {
    const parent = n.parentSpanId ? nodes.get(n.parentSpanId) : undefined;
    if (parent) parent.children.push(n);
    else roots.push(n);
  }
  const byStart = (a: SpanNode, b: SpanNode) => a.start.localeCompare(b.start);
  for (const n of nodes.values()) n.children.sort(byStart);
  roots.sort(byStart);
  return { traceId, roots, spans, services: [...new Set(spans.map((s) => s.service))].sort() };
}

/**
 * The traces of a run, read from the span files (`<dir>/*.jsonl`, default `traceDir()`): every trace
 * in which some span names the workflow id (or whose trace id is `idOrTraceId`), as a tree. The
 * run's own trace, the one holding `RunWorkflow`, comes first; signals sent from elsewhere may add
 * traces of their own.
 */
export async function readTrace(idOrTraceId: string, opts: { dir?: string } = {}): Promise<TraceTree[]> {
  const files = spanFiles(opts.dir ?? traceDir());
  const traceIds = new Set<string>();
  if (/^[0-9a-f]{32}$/.test(idOrTraceId)) traceIds.add(idOrTraceId);
  // Two passes: spans of a trace that do not name the run (a server's span) are in other files.
  for (const file of files) {
    for await (const s of spansIn(file)) {
      if (RUN_ATTRS.some((k) => s.attributes?.[k] === idOrTraceId)) traceIds.add(s.traceId);
    }
  }
  if (traceIds.size === 0) return [];
  const byTrace = new Map<string, SpanRecord[]>();
  for (const file of files) {
    for await (const s of spansIn(file)) {
      if (!traceIds.has(s.traceId)) continue;
      const list = byTrace.get(s.traceId) ?? [];
      list.push(s);
      byTrace.set(s.traceId, list);
    }
  }
  const trees = [...byTrace.entries()].map(([id, spans]) => buildTree(id, spans));
  const hasRun = (t: TraceTree) => t.spans.some((s) => s.name.startsWith('RunWorkflow:'));
  return trees.sort((a, b) => Number(hasRun(b)) - Number(hasRun(a)) || (a.roots[0]?.start ?? '').localeCompare(b.roots[0]?.start ?? ''));
}

/**
 * A trace as indented text for the terminal, one span a line with its service, duration, offset
 * from the trace's start and the attributes that matter:
 * `  RunActivity:mcpCallTool  [data-worker]  +0.120s  35.2 ms  step=extract`.
 */
export function formatTrace(tree: TraceTree): string {
  const t0 = Math.min(...tree.spans.map((s) => Date.parse(s.start)));
  const lines = [`trace ${tree.traceId} — ${tree.spans.length} spans from ${tree.services.join(', ')}`];
  const walk = (n: SpanNode, depth: number) => {
    const extra: string[] = [];
    const step = n.attributes['mcp.step_id'];
    if (step !== undefined && !n.name.startsWith('mcp.tool')) extra.push(`step=${String(step)}`);
    const outcome = n.attributes['mcp.outcome'];
    if (outcome !== undefined) extra.push(`outcome=${String(outcome)}`);
    if (n.attributes['mcp.idempotency.replayed'] === true) extra.push('replayed');
    if (n.status.code === 'error') extra.push(`ERROR${n.status.message ? `: ${n.status.message.slice(0, 120)}` : ''}`);
    const offset = ((Date.parse(n.start) - t0) / 1000).toFixed(3);
    lines.push(`${'  '.repeat(depth)}${n.name}  [${n.service}]  +${offset}s  ${n.durationMs.toFixed(1)} ms${extra.length ? `  ${extra.join(' ')}` : ''}`);
    for (const c of n.children) walk(c, depth + 1);
  };
  for (const r of tree.roots) walk(r, 1);
  return lines.join('\n');
}
