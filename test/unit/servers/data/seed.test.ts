import {
  CATEGORIES,
  resolveSeedParams,
  saltConstant,
  seedStatements,
} from '../../../../src/servers/data/seed';

describe('seed parameters', () => {
  it('when only rows are given, then customers and products derive from them', () => {
    expect(resolveSeedParams({ seed: 1, rows: 1_200_000 })).toMatchObject({
      customers: 50_000,
      products: 2000,
      segments: 8,
    });
    expect(resolveSeedParams({ seed: 1, rows: 1000 })).toMatchObject({ customers: 50, products: 60 });
    expect(resolveSeedParams({ seed: 1, rows: 1000, customers: 7, products: 99 })).toMatchObject({
      customers: 7,
      products: 99,
    });
  });

  it('when the same seed and salt are used, then the salt constant is the same; otherwise it differs', () => {
    expect(saltConstant(42, 't_rank')).toBe(saltConstant(42, 't_rank'));
    expect(saltConstant(42, 't_rank')).not.toBe(saltConstant(43, 't_rank'));
    expect(saltConstant(42, 't_rank')).not.toBe(saltConstant(42, 't_path'));
    expect(BigInt(saltConstant(42, 'x'))).toBeLessThan(2n ** 63n);
  });

  it('when statements are generated twice for the same parameters, then they are identical SQL', () => {
    const p = resolveSeedParams({ seed: 5, rows: 10_000 });
    expect(seedStatements(p)).toEqual(seedStatements(p));
    expect(seedStatements(p).join('\n')).toContain('range(10000)');
  });

  it('when sizes are invalid, then generation refuses with the parameter name', () => {
    expect(() =>
      seedStatements({ ...resolveSeedParams({ seed: 1, rows: 100 }), products: CATEGORIES.length - 1 }),
    ).toThrow(/products/);
    expect(() => seedStatements({ ...resolveSeedParams({ seed: 1, rows: 100 }), rows: 1.5 })).toThrow(/rows/);
    expect(() => seedStatements({ ...resolveSeedParams({ seed: 1, rows: 100 }), seed: -1 })).toThrow(/seed/);
  });
});
