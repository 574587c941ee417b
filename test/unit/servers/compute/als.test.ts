import { csrFromCoo, scoreUser, topK, trainAls, transpose } from '../../../../src/servers/compute/als';
import { evaluationUsers, itemPopularity, rankingMetrics, splitHoldout } from '../../../../src/servers/compute/evaluation';
import { plantedInteractions } from './synthetic';

describe('implicit ALS', () => {
  it('when COO has duplicate pairs, then the CSR sums them and keeps columns ordered', () => {
    const m = csrFromCoo(2, 3, Int32Array.from([1, 0, 1, 1]), Int32Array.from([2, 1, 0, 2]), Float32Array.from([1, 2, 3, 4]));
    expect(Array.from(m.indptr)).toEqual([0, 1, 3]);
    expect(Array.from(m.indices)).toEqual([1, 0, 2]);
    expect(Array.from(m.values)).toEqual([2, 3, 5]);
    const t = transpose(m);
    expect(Array.from(t.indptr)).toEqual([0, 1, 2, 3]);
    expect(Array.from(t.indices)).toEqual([1, 0, 1]);
  });

  it('when asking for the top K, then ties go to the lower index and excluded items never appear', () => {
    expect(topK([1, 5, 5, 3, 9], 3)).toEqual([4, 1, 2]);
    expect(topK([1, 5, 5, 3, 9], 3, [4, 1])).toEqual([2, 3, 0]);
    expect(topK([2, 1], 5)).toEqual([0, 1]);
  });

  it('when trained, then the loss decreases and the same seed gives the same factors', () => {
    const d = plantedInteractions(200, 60, 12, 4, 7);
    const { train } = splitHoldout(d, { kind: 'none' });
    const params = { factors: 8, epochs: 5, regularization: 0.05, alpha: 10, seed: 3 };
    const a = trainAls(train, params);
    const b = trainAls(train, params);
    expect(a.losses).toHaveLength(5);
    expect(a.losses[4]!.loss).toBeLessThan(a.losses[0]!.loss);
    expect(Array.from(a.userFactors.slice(0, 16))).toEqual(Array.from(b.userFactors.slice(0, 16)));
  });

  it('when the data has planted segments, then HR@10 beats popularity by at least 2x on leave-last-out', () => {
    const d = plantedInteractions(1500, 300, 15, 10, 11);
    const split = splitHoldout(d, { kind: 'leave_last_out' });
    expect(split.heldOutPairs).toBeGreaterThan(1000);
    const model = trainAls(split.train, { factors: 16, epochs: 8, regularization: 0.1, alpha: 20, seed: 1 });
    const users = evaluationUsers(split.train, split.test, 100_000, 1);
    const out = new Float64Array(300);
    const als = rankingMetrics(split.train, split.test, users, 10, (u) => scoreUser(model.userFactors, model.itemFactors, 16, u, 300, out));
    const pop = itemPopularity(split.train);
    const base = rankingMetrics(split.train, split.test, users, 10, () => pop);
    expect(als.hitRate).toBeGreaterThan(2 * base.hitRate);
    expect(als.ndcg).toBeGreaterThan(base.ndcg);
  });

  it('when splitting by time, then held-out pairs are the latest ones and are absent from train', () => {
    const d = plantedInteractions(100, 50, 10, 5, 2);
    const s = splitHoldout(d, { kind: 'time_split', testFraction: 0.2 });
    expect(s.heldOutPairs).toBeGreaterThan(0.15 * d.user.length);
    expect(s.heldOutPairs).toBeLessThan(0.25 * d.user.length);
    expect(s.train.indices.length + s.test.indices.length).toBe(d.user.length);
  });
});
