/**
 * Implicit-feedback alternating least squares (Hu, Koren & Volinsky 2008) with conjugate-gradient
 * solves (Takács, Pilászy & Tikk 2011). Pure functions over typed arrays, so it runs the same inside a
 * worker thread and in unit tests.
 *
 * Model: preference p_ui = 1 if user u interacted with item i, else 0; confidence c_ui = 1 + alpha * r_ui
 * (r_ui = interaction strength). Minimises
 *   sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + lambda (sum ||x_u||^2 + sum ||y_i||^2).
 */

/** Sparse matrix in compressed sparse row form: row r owns `indices/values[indptr[r]..indptr[r+1])`. */
export interface Csr {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

export interface AlsParams {
  /** Latent dimensions. */
  factors: number;
  /** Full sweeps (users then items). */
  epochs: number;
  /** L2 regularization lambda. */
  regularization: number;
  /** Confidence scale: c = 1 + alpha * strength. */
  alpha: number;
  /** PRNG seed of the initial factors. */
  seed: number;
  /** CG iterations per solve; 3 is what Takács et al. and `implicit` find sufficient with warm starts. @default 3 */
  cgSteps?: number;
}

export interface EpochReport {
  epoch: number;
  /** Weighted squared loss plus regularization, divided by the total confidence weight. */
  loss: number;
  elapsedMs: number;
}

/** Deterministic PRNG (mulberry32): same seed, same factors, on any machine. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds a CSR matrix from COO triplets; duplicate (row, col) pairs are summed. */
export function csrFromCoo(rows: number, cols: number, r: Int32Array, c: Int32Array, v: Float32Array): Csr {
  const nnzIn = r.length;
  const counts = new Int32Array(rows + 1);
  for (let k = 0; k < nnzIn; k++) counts[r[k]! + 1]!++;
  for (let i = 0; i < rows; i++) counts[i + 1]! += counts[i]!;
  const indptr = Int32Array.from(counts);
  const fill = Int32Array.from(counts.subarray(0, rows));
  const indices = new Int32Array(nnzIn);
  const values = new Float32Array(nnzIn);
  for (let k = 0; k < nnzIn; k++) {
    const row = r[k]!;
    const pos = fill[row]!++;
    indices[pos] = c[k]!;
    values[pos] = v[k]!;
  }
  // Sort each row by column and merge duplicates so later code can rely on unique, ordered columns.
  const outIndptr = new Int32Array(rows + 1);
  let w = 0;
  for (let row = 0; row < rows; row++) {
    const start = indptr[row]!;
    const end = indptr[row + 1]!;
    const order = Array.from({ length: end - start }, (_, j) => start + j).sort((a, b) => indices[a]! - indices[b]!);
    const cols2 = order.map((p) => indices[p]!);
    const vals2 = order.map((p) => values[p]!);
    let j = 0;
    while (j < cols2.length) {
      let sum = vals2[j]!;
      const col = cols2[j]!;
      j++;
      while (j < cols2.length && cols2[j] === col) sum += vals2[j++]!;
      indices[w] = col;
      values[w] = sum;
      w++;
    }
    outIndptr[row + 1] = w;
  }
  return { rows, cols, indptr: outIndptr, indices: indices.slice(0, w), values: values.slice(0, w) };
}

/** Transpose of a CSR matrix (items × users from users × items). */
export function transpose(m: Csr): Csr {
  const nnz = m.indices.length;
  const indptr = new Int32Array(m.cols + 1);
  for (let k = 0; k < nnz; k++) indptr[m.indices[k]! + 1]!++;
  for (let i = 0; i < m.cols; i++) indptr[i + 1]! += indptr[i]!;
  const fill = Int32Array.from(indptr.subarray(0, m.cols));
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  for (let row = 0; row < m.rows; row++) {
    for (let p = m.indptr[row]!; p < m.indptr[row + 1]!; p++) {
      const col = m.indices[p]!;
      const q = fill[col]!++;
      indices[q] = row;
      values[q] = m.values[p]!;
    }
  }
  return { rows: m.cols, cols: m.rows, indptr, indices, values };
}

/** Small random factors; a zero start would leave CG with a zero gradient direction for empty rows only. */
export function initFactors(n: number, k: number, rand: () => number): Float32Array {
  const f = new Float32Array(n * k);
  for (let i = 0; i < f.length; i++) f[i] = (rand() - 0.5) * 0.02;
  return f;
}

/** Gram matrix Y^T Y (k × k, row-major, float64). */
export function gram(Y: Float32Array, n: number, k: number): Float64Array {
  const G = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    for (let a = 0; a < k; a++) {
      const ya = Y[o + a]!;
      if (ya === 0) continue;
      const row = a * k;
      for (let b = a; b < k; b++) G[row + b]! += ya * Y[o + b]!;
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) G[a * k + b] = G[b * k + a]!;
  return G;
}

/**
 * One half-sweep: re-solves every row factor of X given the fixed factors Y, in place, with `cgSteps`
 * conjugate-gradient iterations warm-started from the current X (Takács et al. 2011, algorithm 2).
 */
export function solveSide(
  C: Csr,
  X: Float32Array,
  Y: Float32Array,
  k: number,
  regularization: number,
  alpha: number,
  cgSteps: number,
): void {
  const YtY = gram(Y, C.cols, k);
  for (let a = 0; a < k; a++) YtY[a * k + a]! += regularization;
  const x = new Float64Array(k);
  const r = new Float64Array(k);
  const p = new Float64Array(k);
  const Ap = new Float64Array(k);
  for (let u = 0; u < C.rows; u++) {
    const xo = u * k;
    const start = C.indptr[u]!;
    const end = C.indptr[u + 1]!;
    for (let a = 0; a < k; a++) x[a] = X[xo + a]!;
    // r = b - A x, with A = YtY + lambda I + sum (c-1) y y^T and b = sum c y.
    for (let a = 0; a < k; a++) {
      let s = 0;
      const row = a * k;
      for (let b = 0; b < k; b++) s += YtY[row + b]! * x[b]!;
      r[a] = -s;
    }
    for (let q = start; q < end; q++) {
      const yo = C.indices[q]! * k;
      const conf = 1 + alpha * C.values[q]!;
      let yx = 0;
      for (let a = 0; a < k; a++) yx += Y[yo + a]! * x[a]!;
      const coef = conf - (conf - 1) * yx;
      for (let a = 0; a < k; a++) r[a]! += coef * Y[yo + a]!;
    }
    let rsold = 0;
    for (let a = 0; a < k; a++) {
      p[a] = r[a]!;
      rsold += r[a]! * r[a]!;
    }
    if (rsold < 1e-20) continue;
    for (let it = 0; it < cgSteps; it++) {
      for (let a = 0; a < k; a++) {
        let s = 0;
        const row = a * k;
        for (let b = 0; b < k; b++) s += YtY[row + b]! * p[b]!;
        Ap[a] = s;
      }
      for (let q = start; q < end; q++) {
        const yo = C.indices[q]! * k;
        const conf = 1 + alpha * C.values[q]!;
        let yp = 0;
        for (let a = 0; a < k; a++) yp += Y[yo + a]! * p[a]!;
        const coef = (conf - 1) * yp;
        for (let a = 0; a < k; a++) Ap[a]! += coef * Y[yo + a]!;
      }
      let pAp = 0;
      for (let a = 0; a < k; a++) pAp += p[a]! * Ap[a]!;
      if (pAp <= 0) break;
      const step = rsold / pAp;
      let rsnew = 0;
      for (let a = 0; a < k; a++) {
        x[a]! += step * p[a]!;
        r[a]! -= step * Ap[a]!;
        rsnew += r[a]! * r[a]!;
      }
      if (rsnew < 1e-20) break;
      const beta = rsnew / rsold;
      for (let a = 0; a < k; a++) p[a] = r[a]! + beta * p[a]!;
      rsold = rsnew;
    }
    for (let a = 0; a < k; a++) X[xo + a] = x[a]!;
  }
}

/**
 * Full objective divided by the total confidence weight (n·m + sum(c-1)), so values compare across
 * dataset sizes. Uses x^T (Y^T Y) x for the unobserved cells: O(nnz·k + n·k²), never O(n·m).
 */
export function alsLoss(C: Csr, X: Float32Array, Y: Float32Array, k: number, regularization: number, alpha: number): number {
  const G = gram(Y, C.cols, k);
  let loss = 0;
  let weight = C.rows * C.cols;
  const x = new Float64Array(k);
  for (let u = 0; u < C.rows; u++) {
    const xo = u * k;
    for (let a = 0; a < k; a++) x[a] = X[xo + a]!;
    let quad = 0;
    for (let a = 0; a < k; a++) {
      let s = 0;
      for (let b = 0; b < k; b++) s += G[a * k + b]! * x[b]!;
      quad += x[a]! * s;
    }
    loss += quad;
    for (let q = C.indptr[u]!; q < C.indptr[u + 1]!; q++) {
      const yo = C.indices[q]! * k;
      const conf = 1 + alpha * C.values[q]!;
      let s = 0;
      for (let a = 0; a < k; a++) s += x[a]! * Y[yo + a]!;
      loss += conf * (1 - s) * (1 - s) - s * s;
      weight += conf - 1;
    }
  }
  let reg = 0;
  for (let i = 0; i < X.length; i++) reg += X[i]! * X[i]!;
  for (let i = 0; i < Y.length; i++) reg += Y[i]! * Y[i]!;
  return (loss + regularization * reg) / weight;
}

export interface AlsResult {
  userFactors: Float32Array;
  itemFactors: Float32Array;
  losses: EpochReport[];
}

/**
 * Trains implicit ALS on a users × items strength matrix. `onEpoch` is called after every epoch (the
 * worker forwards it as progress); it may throw to abort.
 */
export function trainAls(ui: Csr, params: AlsParams, onEpoch?: (r: EpochReport) => void): AlsResult {
  const k = params.factors;
  const cg = params.cgSteps ?? 3;
  const rand = mulberry32(params.seed);
  const X = initFactors(ui.rows, k, rand);
  const Y = initFactors(ui.cols, k, rand);
  const iu = transpose(ui);
  const losses: EpochReport[] = [];
  const t0 = performance.now();
  for (let epoch = 1; epoch <= params.epochs; epoch++) {
    solveSide(ui, X, Y, k, params.regularization, params.alpha, cg);
    solveSide(iu, Y, X, k, params.regularization, params.alpha, cg);
    const report = { epoch, loss: alsLoss(ui, X, Y, k, params.regularization, params.alpha), elapsedMs: performance.now() - t0 };
    losses.push(report);
    onEpoch?.(report);
  }
  return { userFactors: X, itemFactors: Y, losses };
}

/** Scores of every item for one user (float64 accumulation over float32 factors). */
export function scoreUser(X: Float32Array, Y: Float32Array, k: number, user: number, items: number, out = new Float64Array(items)): Float64Array {
  const xo = user * k;
  for (let i = 0; i < items; i++) {
    const yo = i * k;
    let s = 0;
    for (let a = 0; a < k; a++) s += X[xo + a]! * Y[yo + a]!;
    out[i] = s;
  }
  return out;
}

/**
 * Indices of the `k` highest scores, best first; ties go to the lower index so results are
 * deterministic. `exclude` (sorted or not) marks items never returned.
 */
export function topK(scores: ArrayLike<number>, k: number, exclude?: ArrayLike<number>): number[] {
  const skip = exclude && exclude.length > 0 ? new Set<number>(Array.from(exclude)) : undefined;
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    if (skip?.has(i)) continue;
    const s = scores[i]!;
    if (Number.isNaN(s)) continue;
    if (idx.length === k && s <= val[k - 1]!) continue;
    let pos = idx.length;
    while (pos > 0 && val[pos - 1]! < s) pos--;
    idx.splice(pos, 0, i);
    val.splice(pos, 0, s);
    if (idx.length > k) {
      idx.pop();
      val.pop();
    }
  }
  return idx;
}
