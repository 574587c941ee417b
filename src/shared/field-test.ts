import type { FieldTest } from './plan';

/** Value at a dotted path (`body.data.status`, `items.0.key`), or undefined. */
export function getPath(value: unknown, path: string): unknown {
  let cur = value;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** True when the value at the test's path is one of its listed values. */
export function passes(test: FieldTest, value: unknown): boolean {
  const v = getPath(value, test.path);
  return test.in.some((x) => x === v);
}

/** True when every dotted path of `match` equals its value in `payload`. */
export function matchesAll(match: Record<string, unknown>, payload: unknown): boolean {
  return Object.entries(match).every(([path, expected]) => getPath(payload, path) === expected);
}
