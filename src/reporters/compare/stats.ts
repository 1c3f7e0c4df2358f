/**
 * The statistics behind the regression gate, as asv and Google Benchmark's compare.py
 * use them: a Mann-Whitney U test on the raw samples (is HEAD's distribution shifted?)
 * and a bootstrap confidence interval on the ratio of medians (by how much?).
 * Implemented here and in harness/mann-whitney.ts (simple-statistics has neither) and
 * checked against scipy in tests.
 */
import { quantileSorted } from '../cases.js';

// Seedable, so bootstrap intervals are reproducible; one generator for the whole project.
import { mulberry32 } from '../../harness/random.js';
export { mulberry32 };

/** A 32-bit FNV-1a hash, to seed each case's bootstrap from its id. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Median of an unsorted array (copies it). */
export function median(xs: ArrayLike<number>): number {
  const s = Float64Array.from(xs).sort();
  return quantileSorted(s, 0.5);
}

export { erfc, normalSf, mannWhitneyU, type MannWhitney } from '../../harness/mann-whitney.js';

/** A ratio of medians with its bootstrap confidence interval. */
export interface RatioInterval {
  /** median(head) / median(base) on the full samples. */
  ratio: number;
  lo: number;
  hi: number;
  confidence: number;
}

/**
 * Percentile bootstrap of median(head)/median(base): resample each side with
 * replacement `iterations` times. Deterministic for a given seed.
 * @param confidence two-sided level @default 0.95
 * @param iterations resamples @default 2000
 */
export function bootstrapRatioOfMedians(
  base: ArrayLike<number>,
  head: ArrayLike<number>,
  { confidence = 0.95, iterations = 2000, seed = 1 }: { confidence?: number; iterations?: number; seed?: number } = {},
): RatioInterval {
  const ratio = median(head) / median(base);
  const rand = mulberry32(seed);
  const bufA = new Float64Array(base.length);
  const bufB = new Float64Array(head.length);
  const ratios = new Float64Array(iterations);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < bufA.length; i++) bufA[i] = base[Math.floor(rand() * base.length)] as number;
    for (let i = 0; i < bufB.length; i++) bufB[i] = head[Math.floor(rand() * head.length)] as number;
    bufA.sort();
    bufB.sort();
    ratios[it] = quantileSorted(bufB, 0.5) / quantileSorted(bufA, 0.5);
  }
  ratios.sort();
  const alpha = (1 - confidence) / 2;
  return { ratio, lo: quantileSorted(ratios, alpha), hi: quantileSorted(ratios, 1 - alpha), confidence };
}
