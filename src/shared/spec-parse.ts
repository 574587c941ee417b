import { load } from 'js-yaml';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { pipelineSpecSchema, type PipelineSpec } from './spec';
import { PipelineError, type SpecProblem } from './problems';

/**
 * Parses and validates a YAML pipeline spec. Every problem is reported with its path and, when the
 * node can be found, its line and column in the source.
 */
export function parsePipelineSpec(text: string, source = 'pipeline'): PipelineSpec {
  // Fast path: js-yaml is an order of magnitude faster on large specs (10,000 steps: ~0.1 s vs ~2 s).
  // Only when something is wrong do we parse again with `yaml`, whose syntax tree locates every problem.
  try {
    const fast = pipelineSpecSchema.safeParse(load(text));
    if (fast.success) return fast.data;
  } catch {
    // fall through to the locating parser, which reports the YAML error with its line
  }
  return parseLocated(text, source);
}

function parseLocated(text: string, source: string): PipelineSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PipelineError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: '', message: `YAML: ${e.message.split('\n')[0]}`, line: pos?.line, column: pos?.col };
      }),
      source,
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PipelineError([{ path: '', message: 'the spec must be a YAML mapping with name and steps' }], source);
  }
  const parsed = pipelineSpecSchema.safeParse(raw);
  if (parsed.success) return parsed.data;

  const locate = (path: PropertyKey[]): Pick<SpecProblem, 'line' | 'column'> => {
    // Walk up until a node exists (a missing key has no node; its parent does).
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as (string | number)[], true);
      if (isNode(node) && node.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
  const problems: SpecProblem[] = parsed.error.issues.map((issue) => {
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    if (issue.code === 'invalid_type' && issue.input === undefined) message = 'is required';
    // Point at the offending key itself when it is an unknown one.
    const at = issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? [...issue.path, issue.keys[0]] : issue.path;
    return { path: issue.path.map(String).join('.'), message, ...locate(at) };
  });
  throw new PipelineError(problems, source);
}
