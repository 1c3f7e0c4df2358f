/**
 * Summary statistics of per-iteration samples (simple-statistics does the arithmetic).
 * Percentiles use linear interpolation between order statistics (as numpy's default).
 */
import { max, mean, median, min, quantileSorted, sampleStandardDeviation } from 'simple-statistics';
import type { Stats } from './results/schema.js';

/** Median, mean, extremes, p10/p90, sample standard deviation and CV of the samples. */
export function summarize(samplesMs: readonly number[]): Stats {
  if (samplesMs.length === 0) throw new Error('summarize: no samples');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const m = mean(sorted);
  const sd = sorted.length > 1 ? sampleStandardDeviation(sorted) : 0;
  return {
    medianMs: median(sorted),
    meanMs: m,
    minMs: min(sorted),
    maxMs: max(sorted),
    p10Ms: percentile(sorted, 0.1),
    p90Ms: percentile(sorted, 0.9),
    stddevMs: sd,
    cv: m > 0 ? sd / m : 0,
  };
}

/** Linearly interpolated quantile of ascending data (R-7, numpy's default). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 1) return sorted[0]!;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  if (lo === hi) return sorted[lo]!;
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export { quantileSorted };
