/**
 * The run-to-run noise floor of the regression gate. Samples within one run scatter less
 * than the medians of separate runs (another process, another moment on a shared host,
 * another clock state), so a gate that only looks inside one run cries wolf on identical
 * code. Kalibera & Jones ("Rigorous Benchmarking in Reasonable Time", ISMM 2013) make the
 * run the unit of repetition; here each baseline run's median is one observation of the
 * case, and HEAD's median must lie outside the one-sided prediction interval of those
 * observations (log scale): beyond k · s · √(1 + 1/R), s the standard deviation of the R
 * baselines' log medians and k Student's t quantile with R − 1 degrees of freedom, so
 * few baselines give a wide floor rather than a false alarm.
 *
 * Run medians on a shared host are heavy-tailed: most runs agree within a few percent and
 * an occasional one is 30–50% off (a burst of other work during its short window). One
 * such baseline among eight triples s, and the floor with it, so a real 20% slowdown hides
 * under it for as long as that run stays in the window. A baseline whose log median lies
 * more than OUTLIER_Z modified z-scores from the others' median (Iglewicz & Hoaglin's
 * rule: 0.6745 · |x − median| / MAD, with MAD the median absolute deviation) is therefore
 * left out of the center and the floor, and reported — one run in RUNS_PER_OUTLIER at most,
 * and only when it is alone out there: a run with company is a second mode of the host.
 */
import { quantileSorted } from '../cases.js';
import { median, mulberry32 } from './stats.js';

/** One-sided level of the default k: P(an identical HEAD lands beyond the floor) for normal log medians. */
export const NOISE_LEVEL = 0.995;

/** Modified z-score beyond which a baseline run is an outlier (Iglewicz & Hoaglin, 1993). */
export const OUTLIER_Z = 3.5;

/**
 * Baseline runs per outlier left out: one in eight at most. A far run with another at half
 * its distance or more on its side is a second mode of the case (a bimodal host state,
 * as the 1 KiB loopback all-reduce's 22 and 40 µs), which the floor must keep.
 */
export const RUNS_PER_OUTLIER = 8;

/** ln Γ(x) (Lanczos, g = 7), for the incomplete beta function. */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the regularized incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** Student's t CDF with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** Student's t quantile (bisection on the CDF; |error| < 1e-10). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) throw new RangeError(`studentTQuantile(${p}, ${df})`);
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The noise floor of one case from its baselines' run medians. */
export interface NoiseFloor {
  /** Baseline runs behind the floor (those that measured the case, less the outliers). */
  runs: number;
  /** Indices (into the runs given) of the baselines left out as outliers, with their modified z-scores. */
  outliers?: { index: number; z: number }[];
  /** Geometric mean of the runs' medians: the baseline HEAD is compared with. */
  centerMs: number;
  /** Standard deviation of the runs' log medians (≈ relative spread); 0 with one run. */
  spread: number;
  /** The multiplier used: the given k, or Student's t quantile at NOISE_LEVEL with runs − 1 degrees of freedom. */
  k: number;
  /** Relative change the runs' own scatter can explain: exp(k · spread · √(1 + 1/R)) − 1; 0 with one run. */
  floor: number;
}

/**
 * The noise floor of a case measured in `runMedians.length` baseline runs.
 * @param k a fixed multiplier instead of Student's t quantile
 */
export function noiseFloor(runMedians: readonly number[], k?: number): NoiseFloor {
  const all = runMedians.map(Math.log);
  const outliers = outliersOf(all);
  const logs = outliers.length ? all.filter((_, i) => !outliers.some((o) => o.index === i)) : all;
  const r = logs.length;
  const mean = logs.reduce((s, x) => s + x, 0) / r;
  const centerMs = Math.exp(mean);
  const out = outliers.length ? { outliers } : {};
  if (r < 2) return { runs: r, centerMs, spread: 0, k: k ?? 0, floor: 0, ...out };
  const spread = Math.sqrt(logs.reduce((s, x) => s + (x - mean) ** 2, 0) / (r - 1));
  const kk = k ?? studentTQuantile(NOISE_LEVEL, r - 1);
  return { runs: r, centerMs, spread, k: kk, floor: Math.expm1(kk * spread * Math.sqrt(1 + 1 / r)), ...out };
}

/**
 * The values (logs) more than OUTLIER_Z modified z-scores from the median of all and alone
 * out there: most extreme first, `most` at most (runs: one in RUNS_PER_OUTLIER), each only
 * while no other value kept lies on its side at half its distance or more (two such are a
 * second mode, which stays). None when half or more of the values agree exactly (MAD 0).
 */
export function outliersOf(logs: readonly number[], most = Math.floor(logs.length / RUNS_PER_OUTLIER)): { index: number; z: number }[] {
  if (most === 0) return [];
  const mid = median(logs);
  const mad = median(logs.map((x) => Math.abs(x - mid)));
  if (!(mad > 0)) return [];
  const far = logs.map((x, index) => ({ index, z: (0.6745 * Math.abs(x - mid)) / mad })).filter((o) => o.z > OUTLIER_Z).sort((a, b) => b.z - a.z);
  const out: { index: number; z: number }[] = [];
  for (const o of far.slice(0, most)) {
    const d = logs[o.index]! - mid;
    const company = logs.some((x, i) => i !== o.index && !out.some((e) => e.index === i) && Math.sign(x - mid) === Math.sign(d) && Math.abs(x - mid) >= Math.abs(d) / 2);
    if (company) break;
    out.push(o);
  }
  return out;
}

/**
 * Hierarchical bootstrap of median(head) / geometric mean of the baseline runs' medians:
 * resample the runs, then each run's samples, then HEAD's samples (Kalibera & Jones' advice
 * for benchmarks with several levels of repetition). Deterministic for a given seed.
 */
export function bootstrapRatioOverRuns(
  runs: readonly (readonly number[])[],
  head: readonly number[],
  { confidence = 0.95, iterations = 2000, seed = 1 }: { confidence?: number; iterations?: number; seed?: number } = {},
): { ratio: number; lo: number; hi: number; confidence: number } {
  const center = Math.exp(runs.reduce((s, r) => s + Math.log(median(r)), 0) / runs.length);
  const ratio = median(head) / center;
  const rand = mulberry32(seed);
  const ratios = new Float64Array(iterations);
  const bufH = new Float64Array(head.length);
  const bufs = runs.map((r) => new Float64Array(r.length));
  for (let it = 0; it < iterations; it++) {
    let logSum = 0;
    for (let j = 0; j < runs.length; j++) {
      const run = runs[Math.floor(rand() * runs.length)]!;
      const buf = bufs[j]!.length === run.length ? bufs[j]! : new Float64Array(run.length);
      for (let i = 0; i < buf.length; i++) buf[i] = run[Math.floor(rand() * run.length)]!;
      buf.sort();
      logSum += Math.log(quantileSorted(buf, 0.5));
    }
    for (let i = 0; i < bufH.length; i++) bufH[i] = head[Math.floor(rand() * head.length)]!;
    bufH.sort();
    ratios[it] = quantileSorted(bufH, 0.5) / Math.exp(logSum / runs.length);
  }
  ratios.sort();
  const a = (1 - confidence) / 2;
  return { ratio, lo: quantileSorted(ratios, a), hi: quantileSorted(ratios, 1 - a), confidence };
}
