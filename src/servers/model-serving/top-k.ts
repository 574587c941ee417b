/** Indices of the k largest scores, best first; ties go to the lower index so results are stable. */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const idx: number[] = [];
  if (k <= 0) return idx;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (idx.length === k && s <= scores[idx[k - 1]!]!) continue;
    let j = idx.length < k ? idx.length : k - 1;
    if (idx.length < k) idx.push(i);
    while (j > 0 && scores[idx[j - 1]!]! < s) {
      idx[j] = idx[j - 1]!;
      j--;
    }
    idx[j] = i;
  }
  return idx;
}
