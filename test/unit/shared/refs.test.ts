import { findRefs, resolveRefs, UnresolvedReferenceError } from '../../../src/shared/refs';

const ctx = {
  input: { since: '2024-01-01', rows: 5 },
  results: { extract: { uri: 'storage://x.parquet', rows: 120, cols: ['a', 'b'] } },
  workflow: { id: 'wf-1' },
};

describe('references', () => {
  it('when a string is exactly one reference, then the value keeps its type', () => {
    expect(resolveRefs({ n: '${steps.extract.result.rows}', all: '${steps.extract.result}' }, ctx)).toEqual({
      n: 120,
      all: ctx.results.extract,
    });
  });

  it('when references sit inside a longer string, then they are interpolated', () => {
    expect(resolveRefs('key/${workflow.id}/${input.since}-${steps.extract.result.cols[1]}', ctx)).toBe('key/wf-1/2024-01-01-b');
  });

  it('when a reference is escaped with $$, then it stays literal', () => {
    expect(resolveRefs('cost: $${not.a.ref}', ctx)).toBe('cost: ${not.a.ref}');
    expect(findRefs('$${x}')).toHaveLength(0);
  });

  it('when a referenced field is missing, then the error names the reference and field', () => {
    expect(() => resolveRefs('${steps.extract.result.bytes}', ctx)).toThrow(UnresolvedReferenceError);
    expect(() => resolveRefs('${steps.extract.result.bytes}', ctx)).toThrow("cannot resolve ${steps.extract.result.bytes}: no field 'bytes'");
    expect(() => resolveRefs('${steps.later.result}', ctx)).toThrow("step 'later' has no result yet");
  });

  it('when values are nested, then every string is resolved and other values kept', () => {
    expect(resolveRefs({ a: [1, '${input.rows}', { b: true }] }, ctx)).toEqual({ a: [1, 5, { b: true }] });
  });
});
