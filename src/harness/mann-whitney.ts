/**
 * The Mann-Whitney U test, matching scipy.stats.mannwhitneyu: the regression gate asks
 * it whether HEAD's samples are shifted, the measurement loop whether a warm-up is still
 * getting faster. Implemented here (simple-statistics has no rank tests) and checked
 * against scipy in test/compare.test.ts.
 */

/** Complementary error function (W. J. Cody's rational approximations via Numerical Recipes' erfcc, |rel err| < 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Upper tail of the standard normal: P(Z > z). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Result of a two-sided Mann-Whitney U test. */
export interface MannWhitney {
  /** U statistic of the first sample (scipy's U1). */
  u: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'asymptotic';
}

/** Average ranks (1-based) of the pooled samples, ties sharing their mean rank; also Σ(t³ − t) over tie groups. */
function rankPooled(a: ArrayLike<number>, b: ArrayLike<number>): { ranksA: number; tieTerm: number } {
  const pooled: { v: number; fromA: boolean }[] = [];
  for (let i = 0; i < a.length; i++) pooled.push({ v: a[i] as number, fromA: true });
  for (let i = 0; i < b.length; i++) pooled.push({ v: b[i] as number, fromA: false });
  pooled.sort((x, y) => x.v - y.v);
  let ranksA = 0;
  let tieTerm = 0;
  for (let i = 0; i < pooled.length; ) {
    let j = i;
    while (j + 1 < pooled.length && (pooled[j + 1] as { v: number }).v === (pooled[i] as { v: number }).v) j++;
    const rank = (i + j) / 2 + 1;
    const t = j - i + 1;
    if (t > 1) tieTerm += t ** 3 - t;
    for (let k = i; k <= j; k++) if ((pooled[k] as { fromA: boolean }).fromA) ranksA += rank;
    i = j + 1;
  }
  return { ranksA, tieTerm };
}

/** Exact null distribution of U for sizes m, n (no ties): P(U ≥ u). Counts by the standard recurrence. */
function exactUpperTail(u: number, m: number, n: number): number {
  // f[j][k] = number of arrangements of j "A" and (current) "B" items with U = k; iterate over B count.
  const maxU = m * n;
  let prev: Float64Array[] = Array.from({ length: m + 1 }, () => new Float64Array(maxU + 1));
  for (let j = 0; j <= m; j++) (prev[j] as Float64Array)[0] = 1; // with 0 B items, U = 0
  for (let i = 1; i <= n; i++) {
    const cur: Float64Array[] = Array.from({ length: m + 1 }, () => new Float64Array(maxU + 1));
    (cur[0] as Float64Array)[0] = 1;
    for (let j = 1; j <= m; j++) {
      const c = cur[j] as Float64Array;
      const left = cur[j - 1] as Float64Array; // last item is an A that beats all i B's: adds i
      const up = prev[j] as Float64Array; // last item is a B: adds 0
      for (let k = 0; k <= maxU; k++) c[k] = (up[k] as number) + (k >= i ? (left[k - i] as number) : 0);
    }
    prev = cur;
  }
  const dist = prev[m] as Float64Array;
  let total = 0;
  let tail = 0;
  for (let k = 0; k <= maxU; k++) {
    total += dist[k] as number;
    if (k >= u) tail += dist[k] as number;
  }
  return tail / total;
}

/**
 * Two-sided Mann-Whitney U test, matching scipy.stats.mannwhitneyu's defaults:
 * exact when there are no ties and one sample has at most 8 values, otherwise the
 * normal approximation with tie correction and continuity correction.
 */
export function mannWhitneyU(a: ArrayLike<number>, b: ArrayLike<number>): MannWhitney {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) return { u: NaN, p: 1, method: 'asymptotic' };
  const { ranksA, tieTerm } = rankPooled(a, b);
  const u1 = ranksA - (m * (m + 1)) / 2;
  const u2 = m * n - u1;
  const uMax = Math.max(u1, u2);
  if (tieTerm === 0 && Math.min(m, n) <= 8) {
    return { u: u1, p: Math.min(1, 2 * exactUpperTail(uMax, m, n)), method: 'exact' };
  }
  const N = m + n;
  const mu = (m * n) / 2;
  const sigma = Math.sqrt(((m * n) / 12) * (N + 1 - tieTerm / (N * (N - 1))));
  if (!(sigma > 0)) return { u: u1, p: 1, method: 'asymptotic' };
  const z = (uMax - mu - 0.5) / sigma;
  return { u: u1, p: Math.min(1, 2 * normalSf(z)), method: 'asymptotic' };
}
