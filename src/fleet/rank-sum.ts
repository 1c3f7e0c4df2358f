/**
 * Mann-Whitney tests of many subjects, each against the pooled samples of all the others,
 * from ONE ranking of everything: the pooled set (subject ∪ others) is the same for every
 * subject, so its ranks and its tie correction are computed once (O(M log M) for M
 * samples in all) and each subject's U is the sum of its own samples' ranks (O(its
 * samples)). Testing each subject against a fresh pool, as `mannWhitneyU(s, others)` does,
 * is O(L·M log M) for L subjects: the verdict's O(L²) in links at thousands of nodes.
 *
 * Same answers as `mannWhitneyU` (src/harness/mann-whitney.ts, scipy's rules): the normal
 * approximation with tie and continuity corrections, or the exact distribution where
 * there are no ties and one side has at most 8 samples — except where that exact table
 * would have more than `EXACT_MAX_MN` cells (m·n): its cost is O(m²n²), hours for one node
 * of a 1,024-node fleet, and at that size the normal approximation is within a hair of it
 * (both far below any α the verdict uses for an outlier, both near 1 for the rest).
 */
import { mannWhitneyU, normalSf } from '../harness/mann-whitney.js';

/** Largest m·n for which the exact null distribution is computed (see the module note). */
export const EXACT_MAX_MN = 1000;

/** The ranking of a pooled set of samples, kept for rank sums of any of its parts. */
export interface PooledRanks {
  /** Samples in all. */
  total: number;
  /** Σ(t³ − t) over groups of tied values. */
  tieTerm: number;
  /** Every sample, sorted. */
  sorted: Float64Array;
  /** Sum of the (average, 1-based) ranks of `xs` in the pooled set; each x must be one of its samples. */
  rankSum(xs: ArrayLike<number>): number;
}

/** First index in `sorted` whose value is > x (`upper`), or ≥ x. */
function bound(sorted: ArrayLike<number>, x: number, upper: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (upper ? sorted[mid]! <= x : sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Ranks the union of `parts` once. */
export function rankPooled(parts: readonly ArrayLike<number>[]): PooledRanks {
  let total = 0;
  for (const p of parts) total += p.length;
  const sorted = new Float64Array(total);
  let k = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) sorted[k++] = p[i]!;
  sorted.sort();
  let tieTerm = 0;
  for (let i = 0; i < total; ) {
    let j = i;
    while (j + 1 < total && sorted[j + 1] === sorted[i]) j++;
    const t = j - i + 1;
    if (t > 1) tieTerm += t ** 3 - t;
    i = j + 1;
  }
  return {
    total,
    tieTerm,
    sorted,
    rankSum(xs) {
      let r = 0;
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!;
        // Tied values share the mean of their positions: (first + last) / 2, 1-based
        // (ties are few: a scan past the first beats a second search).
        const first = bound(sorted, x, false);
        let last = first;
        while (last + 1 < total && sorted[last + 1] === x) last++;
        r += (first + last) / 2 + 1;
      }
      return r;
    },
  };
}

/**
 * Two-sided p of a subject (m samples whose ranks sum to `rankSum`) against the rest of
 * the pooled set. `samples`/`others` give the exact test its inputs where it applies.
 */
export function pFromRanks(rankSum: number, m: number, pool: PooledRanks, exact?: () => [ArrayLike<number>, ArrayLike<number>]): number {
  const n = pool.total - m;
  if (m === 0 || n === 0) return 1;
  if (pool.tieTerm === 0 && Math.min(m, n) <= 8 && m * n <= EXACT_MAX_MN && exact) {
    const [a, b] = exact();
    return mannWhitneyU(a, b).p;
  }
  const u1 = rankSum - (m * (m + 1)) / 2;
  const uMax = Math.max(u1, m * n - u1);
  const N = m + n;
  const sigma = Math.sqrt(((m * n) / 12) * (N + 1 - pool.tieTerm / (N * (N - 1))));
  if (!(sigma > 0)) return 1;
  return Math.min(1, 2 * normalSf((uMax - (m * n) / 2 - 0.5) / sigma));
}

/** For each part, the two-sided Mann-Whitney p of its samples against all the other parts' pooled. */
export function pAgainstOthers(parts: readonly (readonly number[])[]): number[] {
  const pool = rankPooled(parts);
  return parts.map((s, i) => pFromRanks(pool.rankSum(s), s.length, pool, () => [s, parts.filter((_, j) => j !== i).flat()]));
}

/**
 * The p-quantile (linear interpolation, as `percentile`) of `sorted` with one occurrence
 * of each value of `removed` (sorted; each one of `sorted`'s values) taken out, in
 * O(log² n): the median of "every link but this node's" without building that list.
 */
export function quantileWithout(sorted: ArrayLike<number>, removed: ArrayLike<number>, p: number): number {
  const n = sorted.length - removed.length;
  if (n <= 0) return NaN;
  // k-th smallest (0-based) of what is left: the first index i with
  // #{sorted ≤ sorted[i]} − #{removed ≤ sorted[i]} ≥ k + 1 (monotone in i).
  const kth = (k: number) => {
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const x = sorted[mid]!;
      if (bound(sorted, x, true) - bound(removed, x, true) >= k + 1) hi = mid;
      else lo = mid + 1;
    }
    return sorted[lo]!;
  };
  if (n === 1) return kth(0);
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = kth(lo);
  return lo === hi ? a : a + (h - lo) * (kth(hi) - a);
}
