import { digestResult } from '../../../src/shared/digest';

describe('result digests', () => {
  it('when a result has quality metrics deep inside, then they come first', () => {
    const d = digestResult({
      via: 'signal',
      result: { job_id: 'j1', status: 'succeeded', metrics: { k: 10, model: { hit_rate: 0.31, ndcg: 0.2 }, popularity: { hit_rate: 0.05, ndcg: 0.03 }, hit_rate_lift: 6.2 } },
    });
    expect(Object.keys(d).slice(0, 5)).toEqual([
      'result.metrics.model.hit_rate',
      'result.metrics.model.ndcg',
      'result.metrics.popularity.hit_rate',
      'result.metrics.popularity.ndcg',
      'result.metrics.hit_rate_lift',
    ]);
  });

  it('when a result has counts, sizes and references, then those are kept and long strings clipped', () => {
    const d = digestResult({ note: 'x'.repeat(200), row_count: 12, uri: 'storage://a', bytes: 9, other: true });
    expect(d).toMatchObject({ row_count: 12, uri: 'storage://a', bytes: 9 });
    expect(String(d.note).length).toBeLessThanOrEqual(80);
  });

  it('when a result is not an object, then its value is shown', () => {
    expect(digestResult('plain text')).toEqual({ value: 'plain text' });
  });
});
