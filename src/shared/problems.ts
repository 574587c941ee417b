/** A problem found in a pipeline spec, located as precisely as we can. */
export interface SpecProblem {
  /** Dotted path inside the spec, e.g. `steps.extract.args.query`. */
  path: string;
  message: string;
  /** 1-based line and column in the YAML source, when known. */
  line?: number;
  column?: number;
}

/** Thrown by parsing, planning and validation; carries every problem found, not just the first. */
export class PipelineError extends Error {
  constructor(
    readonly problems: SpecProblem[],
    readonly source = 'pipeline',
  ) {
    super(
      problems
        .map((p) => `${source}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}: ${p.path ? `${p.path}: ` : ''}${p.message}`)
        .join('\n'),
    );
    this.name = 'PipelineError';
  }
}
