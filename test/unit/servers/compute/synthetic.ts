import { mulberry32 } from '../../../../src/servers/compute/als';
import type { Interactions } from '../../../../src/servers/compute/evaluation';

/**
 * Planted-structure interactions: users belong to segments, each segment prefers its own block of
 * items; a few purchases are popularity-driven noise. Aggregated to unique (user, item) pairs.
 */
export function plantedInteractions(users: number, items: number, perUser: number, segments: number, seed: number): Interactions {
  const rand = mulberry32(seed);
  const block = Math.floor(items / segments);
  const pairs = new Map<number, { s: number; t: number }>();
  for (let u = 0; u < users; u++) {
    const seg = u % segments;
    for (let j = 0; j < perUser; j++) {
      const item = rand() < 0.85 ? seg * block + Math.floor(Math.pow(rand(), 2) * block) : Math.floor(Math.pow(rand(), 3) * items);
      const key = u * items + item;
      const prev = pairs.get(key);
      const t = Math.floor(rand() * 1e6);
      pairs.set(key, { s: (prev?.s ?? 0) + 1, t: Math.max(prev?.t ?? 0, t) });
    }
  }
  const n = pairs.size;
  const d: Interactions = { users, items, user: new Int32Array(n), item: new Int32Array(n), strength: new Float32Array(n), ts: new Float64Array(n) };
  let p = 0;
  for (const [key, v] of pairs) {
    d.user[p] = Math.floor(key / items);
    d.item[p] = key % items;
    d.strength[p] = Math.log1p(v.s);
    d.ts[p] = v.t;
    p++;
  }
  return d;
}
