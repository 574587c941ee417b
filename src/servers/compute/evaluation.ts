import { csrFromCoo, mulberry32, topK, type Csr } from './als';

/** How held-out purchases are chosen for evaluation. */
export type HoldoutStrategy =
  | { kind: 'leave_last_out' }
  | { kind: 'time_split'; testFraction: number }
  | { kind: 'none' };

/** Unique (user, item) pairs with their strength and latest interaction time (epoch seconds). */
export interface Interactions {
  users: number;
  items: number;
  user: Int32Array;
  item: Int32Array;
  strength: Float32Array;
  ts: Float64Array;
}

export interface Split {
  train: Csr;
  /** Held-out pairs (values are 1); empty when the strategy is `none`. */
  test: Csr;
  heldOutPairs: number;
}

/**
 * Splits interactions into train and held-out sets.
 * - `leave_last_out`: each user with at least two items loses their most recent one (ties: higher item
 *   index) to the test set: the purchase a recommender should have predicted next.
 * - `time_split`: pairs whose latest interaction is after the (1 - testFraction) time quantile.
 */
export function splitHoldout(d: Interactions, strategy: HoldoutStrategy): Split {
  const n = d.user.length;
  const isTest = new Uint8Array(n);
  if (strategy.kind === 'leave_last_out') {
    const best = new Int32Array(d.users).fill(-1);
    const count = new Int32Array(d.users);
    for (let p = 0; p < n; p++) {
      const u = d.user[p]!;
      count[u]!++;
      const b = best[u]!;
      if (b < 0 || d.ts[p]! > d.ts[b]! || (d.ts[p] === d.ts[b] && d.item[p]! > d.item[b]!)) best[u] = p;
    }
    for (let u = 0; u < d.users; u++) if (count[u]! >= 2) isTest[best[u]!] = 1;
  } else if (strategy.kind === 'time_split') {
    const sorted = Float64Array.from(d.ts).sort();
    const cutoff = sorted[Math.min(n - 1, Math.floor(n * (1 - strategy.testFraction)))] ?? Infinity;
    for (let p = 0; p < n; p++) if (d.ts[p]! > cutoff) isTest[p] = 1;
  }
  let nTest = 0;
  for (let p = 0; p < n; p++) nTest += isTest[p]!;
  const tr = { u: new Int32Array(n - nTest), i: new Int32Array(n - nTest), v: new Float32Array(n - nTest) };
  const te = { u: new Int32Array(nTest), i: new Int32Array(nTest), v: new Float32Array(nTest).fill(1) };
  let a = 0;
  let b = 0;
  for (let p = 0; p < n; p++) {
    if (isTest[p]) {
      te.u[b] = d.user[p]!;
      te.i[b++] = d.item[p]!;
    } else {
      tr.u[a] = d.user[p]!;
      tr.i[a] = d.item[p]!;
      tr.v[a++] = d.strength[p]!;
    }
  }
  return {
    train: csrFromCoo(d.users, d.items, tr.u, tr.i, tr.v),
    test: csrFromCoo(d.users, d.items, te.u, te.i, te.v),
    heldOutPairs: nTest,
  };
}

/** Number of distinct training users per item: the popularity baseline's score. */
export function itemPopularity(train: Csr): Float64Array {
  const pop = new Float64Array(train.cols);
  for (let q = 0; q < train.indices.length; q++) pop[train.indices[q]!]! += 1;
  return pop;
}

export interface RankingMetrics {
  /** Share of evaluated users with at least one held-out item in their top K. */
  hitRate: number;
  /** Mean NDCG@K with binary relevance. */
  ndcg: number;
  users: number;
}

/** Users that can be evaluated (a held-out item and some training history), seeded sample if capped. */
export function evaluationUsers(train: Csr, test: Csr, maxUsers: number, seed: number): Int32Array {
  const all: number[] = [];
  for (let u = 0; u < test.rows; u++) {
    if (test.indptr[u + 1]! > test.indptr[u]! && train.indptr[u + 1]! > train.indptr[u]!) all.push(u);
  }
  if (all.length <= maxUsers) return Int32Array.from(all);
  const rand = mulberry32(seed ^ 0x5eed);
  for (let i = 0; i < maxUsers; i++) {
    const j = i + Math.floor(rand() * (all.length - i));
    const t = all[i]!;
    all[i] = all[j]!;
    all[j] = t;
  }
  return Int32Array.from(all.slice(0, maxUsers)).sort();
}

/**
 * HR@K and NDCG@K over `users`: each user's items already in `train` are excluded from the ranking,
 * as a recommender would not re-suggest them. `scores(u)` returns one score per item.
 */
export function rankingMetrics(
  train: Csr,
  test: Csr,
  users: Int32Array,
  k: number,
  scores: (u: number) => ArrayLike<number>,
  shouldStop?: () => void,
): RankingMetrics {
  let hits = 0;
  let ndcgSum = 0;
  for (let j = 0; j < users.length; j++) {
    if (shouldStop && j % 256 === 0) shouldStop();
    const u = users[j]!;
    const seen = train.indices.subarray(train.indptr[u]!, train.indptr[u + 1]!);
    const relevant = new Set(Array.from(test.indices.subarray(test.indptr[u]!, test.indptr[u + 1]!)));
    const top = topK(scores(u), k, seen);
    let dcg = 0;
    let hit = false;
    top.forEach((item, rank) => {
      if (relevant.has(item)) {
        hit = true;
        dcg += 1 / Math.log2(rank + 2);
      }
    });
    let idcg = 0;
    for (let r = 0; r < Math.min(relevant.size, k); r++) idcg += 1 / Math.log2(r + 2);
    if (hit) hits++;
    ndcgSum += idcg > 0 ? dcg / idcg : 0;
  }
  const n = users.length;
  return { hitRate: n ? hits / n : 0, ndcg: n ? ndcgSum / n : 0, users: n };
}
