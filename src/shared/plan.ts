import { parseDuration } from './duration';
import { PipelineError, type SpecProblem } from './problems';
import { findRefs, isRefError } from './refs';
import type { PipelineSpec, RetrySpec, TimeoutsSpec } from './spec';

/** Retry policy with durations in milliseconds, ready for Temporal. */
export interface RetryPolicyMs {
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  nonRetryableErrorTypes: string[];
}

export interface TimeoutsMs {
  startToCloseMs: number;
  scheduleToCloseMs?: number;
  heartbeatMs?: number;
}

export interface ToolCallPlan {
  server: string;
  tool: string;
  args: Record<string, unknown>;
}

/** A step that waits for a signal, with optional status polling (see `waitSchema`). */
export interface WaitPlan {
  signal: string;
  match: Record<string, unknown>;
  timeoutMs: number;
  poll?: ToolCallPlan & { everyMs: number; until: FieldTest };
  failWhen?: FieldTest;
}

export interface FieldTest {
  path: string;
  in: Array<string | number | boolean>;
}

export interface PlannedStep extends ToolCallPlan {
  id: string;
  /** `tool`: one MCP call; `wait`: wait for a signal (server/tool then name the poll, if any). */
  kind: 'tool' | 'wait';
  wait?: WaitPlan;
  phase?: string;
  description?: string;
  /** Explicit `needs` plus the steps its arguments reference, sorted. */
  needs: string[];
  /** Steps that need this one. */
  dependents: string[];
  /** Longest chain of needs below this step (0 = a root). */
  depth: number;
  retry: RetryPolicyMs;
  timeouts: TimeoutsMs;
  compensate?: ToolCallPlan;
}

/** A validated, analysed pipeline, ready for `pipelineWorkflow`. Plain data: it travels as the workflow input. */
export interface Plan {
  name: string;
  version?: string;
  description?: string;
  /** Input values after defaults and `--input` overrides. */
  input: Record<string, unknown>;
  /** What a failure does to completed steps: undo them (saga) or keep them for a retry. */
  onFailure: 'compensate' | 'keep';
  steps: Record<string, PlannedStep>;
  /** A topological order (stable: by depth, then spec order). */
  order: string[];
  /** Steps grouped by depth: every step of a level can run in parallel once the previous levels are done. */
  levels: string[][];
  /** Longest chain of steps (by estimated duration when given, else by count). */
  criticalPath: string[];
  /** Most steps that can run at once (width of the widest level). */
  maxParallelism: number;
  /** Number of dependency edges. */
  edges: number;
  /**
   * Most steps in flight at once (pending activities). Temporal refuses more than 2,000 pending
   * activities per workflow, so a wider level runs in chunks. @default 1000 ({@link DEFAULT_MAX_IN_FLIGHT})
   */
  maxInFlight?: number;
  /**
   * Schema hash of every tool the run calls (`server/tool` → sha256 of its input and output schemas),
   * as discovery saw them when the run was planned. The workflow pins these and reports a tool whose
   * schema differs when a step calls it. Absent when planned without discovery: the first call pins.
   */
  toolSchemas?: Record<string, string>;
}

/** Default cap on steps in flight: half of Temporal's 2,000 pending-activity limit per workflow. */
export const DEFAULT_MAX_IN_FLIGHT = 1000;

/** What discovery knows about servers and their tools; used to validate steps before anything starts. */
export interface ToolCatalog {
  [server: string]: { tools: Record<string, { inputSchema?: unknown; schemaHash?: string }> };
}

export interface PlanOptions {
  /** Overrides of declared inputs (`--input k=v`). */
  input?: Record<string, unknown>;
  /** Known server groups (from the registry). */
  servers?: readonly string[];
  /** Discovered tools; when given, unknown tools are rejected and arguments validated. */
  catalog?: ToolCatalog;
  /**
   * Validates literal arguments against a tool's input JSON Schema; returns problems (empty when fine).
   * Injected so this module stays free of a schema engine. Arguments holding references are omitted
   * from `args` and listed in `deferred` (they are checked by the server at run time).
   */
  validateArgs?: (schema: unknown, args: Record<string, unknown>, deferred: string[]) => string[];
  /** Estimated duration of each step in ms (from history), for the critical path. */
  estimatesMs?: Record<string, number>;
  /** Cap on steps in flight (see {@link Plan.maxInFlight}). */
  maxInFlight?: number;
  source?: string;
}

export const DEFAULT_RETRY: RetryPolicyMs = {
  maximumAttempts: 5,
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maximumIntervalMs: 30_000,
  nonRetryableErrorTypes: [],
};
export const DEFAULT_TIMEOUTS: TimeoutsMs = { startToCloseMs: 60_000 };

function ms(v: string | number | undefined): number | undefined {
  return v === undefined ? undefined : parseDuration(v);
}

function retryOf(base: RetryPolicyMs, r?: RetrySpec): RetryPolicyMs {
  if (!r) return base;
  return {
    maximumAttempts: r.maximumAttempts ?? base.maximumAttempts,
    initialIntervalMs: ms(r.initialInterval) ?? base.initialIntervalMs,
    backoffCoefficient: r.backoffCoefficient ?? base.backoffCoefficient,
    maximumIntervalMs: ms(r.maximumInterval) ?? base.maximumIntervalMs,
    nonRetryableErrorTypes: r.nonRetryableErrorTypes ?? base.nonRetryableErrorTypes,
  };
}

function timeoutsOf(base: TimeoutsMs, t?: TimeoutsSpec): TimeoutsMs {
  if (!t) return base;
  return {
    startToCloseMs: ms(t.startToClose) ?? base.startToCloseMs,
    scheduleToCloseMs: ms(t.scheduleToClose) ?? base.scheduleToCloseMs,
    heartbeatMs: ms(t.heartbeat) ?? base.heartbeatMs,
  };
}

function coerceInput(name: string, type: string, value: unknown, problems: SpecProblem[]): unknown {
  if (typeof value !== 'string') return value;
  if (type === 'number') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) problems.push({ path: `input.${name}`, message: `expected a number, got '${value}'` });
    return n;
  }
  if (type === 'boolean') {
    if (value !== 'true' && value !== 'false') problems.push({ path: `input.${name}`, message: `expected true or false, got '${value}'` });
    return value === 'true';
  }
  return value;
}

/** Finds one cycle among `needs` and returns it as `a -> b -> a`, or undefined. */
export function findCycle(needs: Record<string, string[]>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  for (const root of Object.keys(needs)) {
    if (state.has(root)) continue;
    // Depth-first with an explicit stack (ids and the next need to look at): recursion overflowed on a
    // 5,000-step chain listed last step first.
    const path = [root];
    const next = [0];
    state.set(root, 1);
    while (path.length > 0) {
      const top = path.length - 1;
      const id = path[top]!;
      const deps = needs[id] ?? [];
      if (next[top]! < deps.length) {
        const dep = deps[next[top]!++]!;
        if (!(dep in needs)) continue;
        const seen = state.get(dep);
        // Found by walking needs (child -> parent); returned in execution order.
        if (seen === 1) return [...path.slice(path.indexOf(dep)), dep].reverse();
        if (seen === undefined) {
          state.set(dep, 1);
          path.push(dep);
          next.push(0);
        }
      } else {
        state.set(id, 2);
        path.pop();
        next.pop();
      }
    }
  }
  return undefined;
}

/**
 * Validates a parsed spec and plans it: every problem is collected (unknown steps and references,
 * unknown servers and tools, invalid arguments, cycles) and thrown together as a {@link PipelineError}.
 */
export function planPipeline(spec: PipelineSpec, opts: PlanOptions = {}): Plan {
  const problems: SpecProblem[] = [];
  const stepIds = Object.keys(spec.steps);

  // Inputs: defaults, then overrides; unknown overrides are mistakes worth naming.
  const input: Record<string, unknown> = {};
  for (const [name, decl] of Object.entries(spec.input)) {
    const d = decl !== null && typeof decl === 'object' ? decl : { type: typeof decl === 'number' ? 'number' : typeof decl === 'boolean' ? 'boolean' : 'string', default: decl };
    const given = opts.input?.[name];
    if (given !== undefined) input[name] = coerceInput(name, d.type ?? 'string', given, problems);
    else if (d.default !== undefined) input[name] = d.default;
    else if ('required' in d && d.required) problems.push({ path: `input.${name}`, message: `input '${name}' is required (pass --input ${name}=...)` });
  }
  for (const name of Object.keys(opts.input ?? {})) {
    if (!(name in spec.input)) problems.push({ path: `input.${name}`, message: `unknown input '${name}' (declared: ${Object.keys(spec.input).join(', ') || 'none'})` });
  }

  if (opts.maxInFlight !== undefined && !(Number.isInteger(opts.maxInFlight) && opts.maxInFlight >= 1 && opts.maxInFlight <= 2000)) {
    problems.push({ path: 'maxInFlight', message: `expected a whole number from 1 to 2000 (Temporal's pending-activity limit), got ${opts.maxInFlight}` });
  }

  const defaultsRetry = retryOf(DEFAULT_RETRY, spec.defaults.retry);
  const defaultsTimeouts = timeoutsOf(DEFAULT_TIMEOUTS, spec.defaults.timeouts);
  const needs: Record<string, string[]> = {};
  const steps: Record<string, PlannedStep> = {};
  // Schema hashes of the tools the steps call (compensations and polls included), from the catalog.
  const toolSchemas: Record<string, string> = {};
  let hashed = 0;
  const pinSchema = (server: string, tool: string) => {
    const hash = opts.catalog?.[server]?.tools[tool]?.schemaHash;
    if (hash && toolSchemas[`${server}/${tool}`] === undefined) {
      toolSchemas[`${server}/${tool}`] = hash;
      hashed++;
    }
  };

  // Step id → position in the spec: known ids here, graph work on indices below.
  const n = stepIds.length;
  const indexOf = new Map<string, number>();
  for (let i = 0; i < n; i++) indexOf.set(stepIds[i]!, i);
  for (const id of stepIds) {
    const s = spec.steps[id]!;
    const deps = new Set<string>();
    for (const dep of s.needs) {
      if (!indexOf.has(dep)) problems.push({ path: `steps.${id}.needs`, message: `unknown step '${dep}'${suggest(dep, stepIds)}` });
      else if (dep === id) problems.push({ path: `steps.${id}.needs`, message: `step '${id}' cannot need itself` });
      else deps.add(dep);
    }
    const checkRefs = (value: unknown, where: string, allowSelf: boolean) => {
      for (const { at, ref } of findRefs(value, where)) {
        if (isRefError(ref)) {
          problems.push({ path: at, message: `bad reference \${${ref.raw}}: ${ref.message}` });
        } else if (ref.kind === 'input' && !(ref.name in spec.input)) {
          problems.push({ path: at, message: `unknown input '${ref.name}' in \${${ref.raw}}${suggest(ref.name, Object.keys(spec.input))}` });
        } else if (ref.kind === 'step') {
          if (!(ref.step in spec.steps)) problems.push({ path: at, message: `unknown step '${ref.step}' in \${${ref.raw}}${suggest(ref.step, stepIds)}` });
          else if (ref.step === id && !allowSelf) problems.push({ path: at, message: `step '${id}' cannot reference its own result` });
          else if (ref.step !== id) deps.add(ref.step);
        }
      }
    };
    checkRefs(s.args, `steps.${id}.args`, false);
    // A compensation runs after the step: it may use the step's own result (e.g. the id it created).
    if (s.compensate) checkRefs(s.compensate.args, `steps.${id}.compensate.args`, true);
    if (s.wait) {
      checkRefs(s.wait.match, `steps.${id}.wait.match`, false);
      if (s.wait.poll) checkRefs(s.wait.poll.args, `steps.${id}.wait.poll.args`, false);
    }

    // A wait step is shown (and checked) by its poll tool, if it has one.
    const server = s.server ?? s.wait?.poll?.server ?? 'orchestrator';
    const tool = s.tool ?? s.wait?.poll?.tool ?? `wait:${s.wait?.signal ?? ''}`;
    const checkServer = (name: string, at: string) => {
      if (opts.servers && !opts.servers.includes(name)) {
        problems.push({ path: at, message: `unknown server '${name}'${suggest(name, opts.servers)} (known: ${opts.servers.join(', ')})` });
      }
    };
    if (s.server) checkServer(s.server, `steps.${id}.server`);
    if (s.wait?.poll) checkServer(s.wait.poll.server, `steps.${id}.wait.poll.server`);
    const compServer = s.compensate?.server ?? server;
    if (s.compensate?.server) checkServer(s.compensate.server, `steps.${id}.compensate.server`);
    if (opts.catalog) {
      if (s.server && s.tool) checkTool(opts, problems, `steps.${id}`, s.server, s.tool, s.args);
      if (s.wait?.poll) checkTool(opts, problems, `steps.${id}.wait.poll`, s.wait.poll.server, s.wait.poll.tool, s.wait.poll.args);
      if (s.compensate) checkTool(opts, problems, `steps.${id}.compensate`, compServer, s.compensate.tool, s.compensate.args);
      if (s.server && s.tool) pinSchema(s.server, s.tool);
      if (s.wait?.poll) pinSchema(s.wait.poll.server, s.wait.poll.tool);
      if (s.compensate) pinSchema(compServer, s.compensate.tool);
    }
    const sortedDeps = [...deps];
    if (sortedDeps.length > 1) sortedDeps.sort();
    needs[id] = sortedDeps;
    steps[id] = {
      id,
      kind: s.wait ? 'wait' : 'tool',
      server,
      tool,
      args: s.args,
      wait: s.wait
        ? {
            signal: s.wait.signal,
            match: s.wait.match,
            timeoutMs: ms(s.wait.timeout)!,
            poll: s.wait.poll
              ? { server: s.wait.poll.server, tool: s.wait.poll.tool, args: s.wait.poll.args, everyMs: ms(s.wait.poll.every)!, until: s.wait.poll.until }
              : undefined,
            failWhen: s.wait.failWhen,
          }
        : undefined,
      phase: s.phase,
      description: s.description,
      needs: needs[id]!,
      dependents: [],
      depth: 0,
      retry: retryOf(defaultsRetry, s.retry),
      timeouts: timeoutsOf(defaultsTimeouts, s.timeouts),
      compensate: s.compensate ? { server: compServer, tool: s.compensate.tool, args: s.compensate.args } : undefined,
    };
  }

  // Depths by longest path from a root, in topological order (Kahn's algorithm over step indices, no
  // recursion: a long chain listed last step first would overflow the stack). A step Kahn never
  // reaches sits on or behind a cycle; only then is the cycle itself looked for, to name it.
  const dependentsIdx: number[][] = Array.from({ length: n }, () => []);
  const waiting = new Int32Array(n);
  const depthOf = new Int32Array(n);
  let edges = 0;
  for (let i = 0; i < n; i++) {
    const deps = needs[stepIds[i]!]!;
    waiting[i] = deps.length;
    for (const dep of deps) dependentsIdx[indexOf.get(dep)!]!.push(i);
    edges += deps.length;
  }
  const queue = new Int32Array(n);
  let tail = 0;
  for (let i = 0; i < n; i++) if (waiting[i] === 0) queue[tail++] = i;
  for (let head = 0; head < tail; head++) {
    const i = queue[head]!;
    const d = depthOf[i]! + 1;
    for (const next of dependentsIdx[i]!) {
      if (depthOf[next]! < d) depthOf[next] = d;
      waiting[next] = waiting[next]! - 1;
      if (waiting[next] === 0) queue[tail++] = next;
    }
  }
  if (tail < n) {
    const cycle = findCycle(needs);
    if (cycle) problems.push({ path: 'steps', message: `dependency cycle: ${cycle.join(' -> ')}` });
  }
  if (problems.length > 0) throw new PipelineError(problems, opts.source);

  for (let i = 0; i < n; i++) {
    const dependents = steps[stepIds[i]!]!.dependents;
    for (const j of dependentsIdx[i]!) dependents.push(stepIds[j]!);
  }
  // Levels keep spec order within a depth; the order is the levels one after another (no sort).
  const levels: string[][] = [];
  for (let i = 0; i < n; i++) {
    const id = stepIds[i]!;
    const d = depthOf[i]!;
    steps[id]!.depth = d;
    (levels[d] ??= []).push(id);
  }
  const order = levels.flat();

  return {
    name: spec.name,
    version: spec.version === undefined ? undefined : String(spec.version),
    description: spec.description,
    input,
    onFailure: spec.onFailure,
    steps,
    order,
    levels,
    criticalPath: criticalPath(order, needs, (id) => opts.estimatesMs?.[id] ?? 1),
    maxParallelism: levels.reduce((m, l) => Math.max(m, l.length), 0),
    edges,
    ...(opts.maxInFlight !== undefined ? { maxInFlight: opts.maxInFlight } : {}),
    ...(hashed > 0 ? { toolSchemas } : {}),
  };
}

/** Longest path through the DAG by weight; `order` must be topological. */
export function criticalPath(order: string[], needs: Record<string, string[]>, weight: (id: string) => number): string[] {
  // Positions in `order` and typed arrays: a 10,000-step plan walks this once, without an object per step.
  const pos = new Map<string, number>();
  const total = new Float64Array(order.length);
  const prev = new Int32Array(order.length).fill(-1);
  for (let i = 0; i < order.length; i++) {
    const id = order[i]!;
    pos.set(id, i);
    let base = 0;
    for (const dep of needs[id] ?? []) {
      const j = pos.get(dep)!;
      if (total[j]! > base || prev[i] === -1) {
        base = total[j]!;
        prev[i] = j;
      }
    }
    total[i] = base + weight(id);
  }
  let end = -1;
  for (let i = 0; i < order.length; i++) if (end === -1 || total[i]! > total[end]!) end = i;
  const path: string[] = [];
  // Walked from the end; push and reverse (unshift made a 10,000-step chain quadratic).
  for (let cur = end; cur !== -1; cur = prev[cur]!) path.push(order[cur]!);
  return path.reverse();
}

function checkTool(opts: PlanOptions, problems: SpecProblem[], at: string, server: string, tool: string, args: Record<string, unknown>) {
  const entry = opts.catalog?.[server];
  if (!entry) {
    // An unknown server is reported once already when the registry is known.
    if (!opts.servers) problems.push({ path: `${at}.server`, message: `no discovered server '${server}'` });
    return;
  }
  const def = entry.tools[tool];
  if (!def) {
    const names = Object.keys(entry.tools);
    problems.push({ path: `${at}.tool`, message: `server '${server}' has no tool '${tool}'${suggest(tool, names)} (tools: ${names.join(', ')})` });
    return;
  }
  if (!opts.validateArgs || def.inputSchema === undefined) return;
  const literal: Record<string, unknown> = {};
  const deferred: string[] = [];
  for (const [k, v] of Object.entries(args)) {
    if (findRefs(v).length > 0) deferred.push(k);
    else literal[k] = v;
  }
  for (const message of opts.validateArgs(def.inputSchema, literal, deferred)) {
    problems.push({ path: `${at}.args`, message: `${server}/${tool}: ${message}` });
  }
}

/** ` (did you mean 'x'?)` when a close name exists. */
function suggest(name: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean '${best}'?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * One step of a {@link PackedPlan}: what cannot be derived again. `retry`/`timeouts` index the plan's
 * shared tables and are omitted when 0; `args`/`needs` are omitted when empty.
 */
export interface PackedStep {
  /** Only for wait steps (tool steps omit it). */
  kind?: 'wait';
  server: string;
  tool: string;
  args?: Record<string, unknown>;
  wait?: WaitPlan;
  phase?: string;
  description?: string;
  needs?: string[];
  retry?: number;
  timeouts?: number;
  compensate?: ToolCallPlan;
}

/**
 * A {@link Plan} without what can be derived again (dependents, depths, levels, order) and with retry
 * policies and timeouts shared: a 10,000-step plan is 3.4 MB as a Plan, above Temporal's 2 MB payload
 * limit, and about 0.6 MB packed. Steps are kept in the plan's topological order.
 */
export interface PackedPlan {
  packed: 1;
  name: string;
  version?: string;
  description?: string;
  input: Record<string, unknown>;
  onFailure: 'compensate' | 'keep';
  maxInFlight?: number;
  toolSchemas?: Record<string, string>;
  criticalPath: string[];
  retries: RetryPolicyMs[];
  timeouts: TimeoutsMs[];
  steps: Record<string, PackedStep>;
}

/** Above this many steps a plan travels packed (see {@link planForWire}). */
export const PACK_PLAN_STEPS = 500;

/**
 * The plan as a workflow input should carry it: as is while small (readable in Web UI), packed when
 * large. A 10,000-step Plan is 3.4 MB, over Temporal's 2 MB payload limit: the run would not start.
 */
export function planForWire(plan: Plan): Plan | PackedPlan {
  return plan.order.length > PACK_PLAN_STEPS ? packPlan(plan) : plan;
}

export function isPackedPlan(p: Plan | PackedPlan): p is PackedPlan {
  return (p as PackedPlan).packed === 1;
}

/** Packs a plan for the wire (workflow input, continue-as-new); {@link unpackPlan} restores it. */
export function packPlan(plan: Plan): PackedPlan {
  const retries: RetryPolicyMs[] = [];
  const timeouts: TimeoutsMs[] = [];
  const indexOf = <T>(table: T[], keys: Map<string, number>, v: T): number => {
    const key = JSON.stringify(v);
    let i = keys.get(key);
    if (i === undefined) {
      i = table.push(v) - 1;
      keys.set(key, i);
    }
    return i;
  };
  const retryKeys = new Map<string, number>();
  const timeoutKeys = new Map<string, number>();
  const steps: Record<string, PackedStep> = {};
  for (const id of plan.order) {
    const s = plan.steps[id]!;
    const p: PackedStep = { server: s.server, tool: s.tool };
    if (s.kind === 'wait') p.kind = 'wait';
    if (Object.keys(s.args).length > 0) p.args = s.args;
    if (s.wait) p.wait = s.wait;
    if (s.phase !== undefined) p.phase = s.phase;
    if (s.description !== undefined) p.description = s.description;
    if (s.needs.length > 0) p.needs = s.needs;
    const r = indexOf(retries, retryKeys, s.retry);
    if (r) p.retry = r;
    const t = indexOf(timeouts, timeoutKeys, s.timeouts);
    if (t) p.timeouts = t;
    if (s.compensate) p.compensate = s.compensate;
    steps[id] = p;
  }
  return {
    packed: 1,
    name: plan.name,
    ...(plan.version !== undefined ? { version: plan.version } : {}),
    ...(plan.description !== undefined ? { description: plan.description } : {}),
    input: plan.input,
    onFailure: plan.onFailure,
    ...(plan.maxInFlight !== undefined ? { maxInFlight: plan.maxInFlight } : {}),
    ...(plan.toolSchemas ? { toolSchemas: plan.toolSchemas } : {}),
    criticalPath: plan.criticalPath,
    retries,
    timeouts,
    steps,
  };
}

/** Restores a {@link Plan} from {@link packPlan}'s output (pure, linear in steps and edges). */
export function unpackPlan(p: PackedPlan): Plan {
  const steps: Record<string, PlannedStep> = {};
  const order = Object.keys(p.steps);
  const levels: string[][] = [];
  let edges = 0;
  for (const id of order) {
    const s = p.steps[id]!;
    const needs = s.needs ?? [];
    let depth = 0;
    for (const n of needs) {
      const dep = steps[n];
      if (!dep) throw new Error(`packed plan: step '${id}' needs '${n}', which is not before it`);
      depth = Math.max(depth, dep.depth + 1);
      dep.dependents.push(id);
      edges++;
    }
    const retry = p.retries[s.retry ?? 0];
    const timeouts = p.timeouts[s.timeouts ?? 0];
    if (!retry || !timeouts) throw new Error(`packed plan: step '${id}' names a missing retry or timeouts entry`);
    steps[id] = {
      id,
      kind: s.kind ?? 'tool',
      server: s.server,
      tool: s.tool,
      args: s.args ?? {},
      wait: s.wait,
      phase: s.phase,
      description: s.description,
      needs,
      dependents: [],
      depth,
      retry,
      timeouts,
      compensate: s.compensate,
    };
    (levels[depth] ??= []).push(id);
  }
  return {
    name: p.name,
    version: p.version,
    description: p.description,
    input: p.input,
    onFailure: p.onFailure,
    steps,
    order,
    levels,
    criticalPath: p.criticalPath,
    maxParallelism: levels.reduce((m, l) => Math.max(m, l.length), 0),
    edges,
    ...(p.maxInFlight !== undefined ? { maxInFlight: p.maxInFlight } : {}),
    ...(p.toolSchemas ? { toolSchemas: p.toolSchemas } : {}),
  };
}
