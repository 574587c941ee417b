/**
 * `${...}` references in step arguments. Pure functions: the planner uses them to find implied
 * dependencies and bad references; the workflow uses them to resolve arguments just before a step runs.
 *
 * Forms: `${input.<name>}`, `${steps.<id>.result}`, `${steps.<id>.result.<path>}` (dots and [n]),
 * `${workflow.id}`. A string that is exactly one reference takes the referenced value with its type;
 * a reference inside a longer string is interpolated. `$${` writes a literal `${`.
 */
const REF = /\$?\$\{([^}]*)\}/g;

export type Ref =
  | { kind: 'input'; name: string; path: string[]; raw: string }
  | { kind: 'step'; step: string; path: string[]; raw: string }
  | { kind: 'workflow'; field: string; raw: string };

export interface RefParseError {
  raw: string;
  message: string;
}

function splitPath(expr: string): string[] {
  return expr
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p !== '');
}

/** Parses the inside of `${...}`. */
export function parseRef(expr: string): Ref | RefParseError {
  const raw = expr.trim();
  const parts = splitPath(raw);
  const [head, ...rest] = parts;
  if (head === 'input') {
    const [name, ...path] = rest;
    if (!name) return { raw, message: 'input reference needs a name: ${input.<name>}' };
    return { kind: 'input', name, path, raw };
  }
  if (head === 'steps') {
    const [step, field, ...path] = rest;
    if (!step || field !== 'result') return { raw, message: 'step reference must read ${steps.<id>.result} or ${steps.<id>.result.<path>}' };
    return { kind: 'step', step, path, raw };
  }
  if (head === 'workflow') {
    const [field] = rest;
    if (field !== 'id' || rest.length !== 1) return { raw, message: 'workflow reference must be ${workflow.id}' };
    return { kind: 'workflow', field, raw };
  }
  return { raw, message: `unknown reference root '${head ?? ''}' (use input., steps. or workflow.)` };
}

function isRefError(r: Ref | RefParseError): r is RefParseError {
  return 'message' in r;
}

/** Every reference in a value (deeply), with the dotted location of the string holding it. */
export function findRefs(value: unknown, at = ''): Array<{ at: string; ref: Ref | RefParseError }> {
  const out: Array<{ at: string; ref: Ref | RefParseError }> = [];
  const walk = (v: unknown, where: string) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(REF)) {
        if (m[0].startsWith('$$')) continue;
        out.push({ at: where, ref: parseRef(m[1] ?? '') });
      }
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${where}[${i}]`));
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, where ? `${where}.${k}` : k);
    }
  };
  walk(value, at);
  return out;
}

export interface RefContext {
  input: Record<string, unknown>;
  /** Results of completed steps, by id. */
  results: Record<string, unknown>;
  workflow: { id: string };
}

/** Raised when a reference cannot be resolved at run time. */
export class UnresolvedReferenceError extends Error {
  constructor(readonly ref: string, reason: string) {
    super(`cannot resolve \${${ref}}: ${reason}`);
    this.name = 'UnresolvedReferenceError';
  }
}

function dig(value: unknown, path: string[], ref: string): unknown {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !(key in (cur as object))) {
      throw new UnresolvedReferenceError(ref, `no field '${key}'`);
    }
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function lookup(ref: Ref, ctx: RefContext): unknown {
  switch (ref.kind) {
    case 'input':
      if (!(ref.name in ctx.input)) throw new UnresolvedReferenceError(ref.raw, `input '${ref.name}' was not given`);
      return dig(ctx.input[ref.name], ref.path, ref.raw);
    case 'step':
      if (!(ref.step in ctx.results)) throw new UnresolvedReferenceError(ref.raw, `step '${ref.step}' has no result yet`);
      return dig(ctx.results[ref.step], ref.path, ref.raw);
    case 'workflow':
      return ctx.workflow.id;
  }
}

/** Resolves every reference in a value, returning a new value. */
export function resolveRefs<T>(value: T, ctx: RefContext): T {
  const resolveString = (s: string): unknown => {
    const whole = /^\$\{([^}]*)\}$/.exec(s);
    if (whole) {
      const ref = parseRef(whole[1] ?? '');
      if (isRefError(ref)) throw new UnresolvedReferenceError(ref.raw, ref.message);
      return lookup(ref, ctx);
    }
    return s.replace(REF, (match, expr: string) => {
      if (match.startsWith('$$')) return match.slice(1);
      const ref = parseRef(expr);
      if (isRefError(ref)) throw new UnresolvedReferenceError(ref.raw, ref.message);
      const v = lookup(ref, ctx);
      return typeof v === 'string' ? v : JSON.stringify(v);
    });
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return resolveString(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

export { isRefError };
