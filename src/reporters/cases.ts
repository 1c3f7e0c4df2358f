/**
 * Reading the fields every format needs out of a case, in one place: dtype and sizes
 * from `params`, the headline metric (TFLOP/s for matmul, busbw for collectives), and
 * the spread of the samples turned into bounds on that metric.
 */
import { COLLECTIVE_WORKLOADS, type CaseResult, type Stats } from '../harness/results/schema.js';

/** Collective workloads: their headline metric is bus bandwidth. */
export const COLLECTIVES: ReadonlySet<string> = new Set(COLLECTIVE_WORKLOADS);

/** The metric a case is judged by in exports and charts (bigger is better). */
export interface HeadlineMetric {
  /** Key in `metrics`, e.g. `tflops` or `busbwGBps`. */
  key: 'tflops' | 'busbwGBps' | 'bandwidthGBps';
  /** Unit as people write it. */
  unit: 'TFLOP/s' | 'GB/s';
  value: number;
  /** Metric at the p90 (slower) time: a lower bound on what the case sustains. */
  lower: number;
  /** Metric at the p10 (faster) time. */
  upper: number;
}

/** `params[key]` as a string, or undefined. */
export function paramString(c: CaseResult, key: string): string | undefined {
  const v = c.params[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** `params[key]` as a finite number, or undefined. */
export function paramNumber(c: CaseResult, key: string): number | undefined {
  const v = c.params[key];
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** The case's dtype (`params.dtype`), `?` when absent. */
export function caseDtype(c: CaseResult): string {
  return paramString(c, 'dtype') ?? '?';
}

/** True for the collective workloads. */
export function isCollective(c: CaseResult): boolean {
  return COLLECTIVES.has(c.workload);
}

/** The algorithm of a collective case (`params.algorithm`), `default` when absent. */
export function caseAlgorithm(c: CaseResult): string {
  return paramString(c, 'algorithm') ?? 'default';
}

/**
 * The algorithm that ran: for the WebSocket collectives `impl.kernel` (what `auto` resolved
 * to at this size), for NCCL its `NCCL_ALGO` where set; else the one asked for.
 */
export function ranAlgorithm(c: CaseResult): string {
  const kernel = c.impl?.kernel;
  if (isCollective(c) && kernel && kernel !== 'nccl') return kernel;
  const forced = c.impl?.config?.NCCL_ALGO;
  if (typeof forced === 'string') return forced;
  return caseAlgorithm(c);
}

/** `tree (auto)` where the algorithm that ran differs from the one asked for, else its name. */
export function algorithmLabel(c: CaseResult): string {
  const ran = ranAlgorithm(c);
  const asked = paramString(c, 'algorithm');
  return asked !== undefined && asked !== ran ? `${ran} (${asked})` : ran;
}

/** A short human label of the case's size: `1024×1024×1024` (×batch) or `1 MiB`. */
export function sizeLabel(c: CaseResult): string {
  if (c.workload === 'matmul') {
    const [m, n, k, b] = ['m', 'n', 'k', 'batch'].map((p) => paramNumber(c, p));
    if (m !== undefined && n !== undefined && k !== undefined) return `${m}×${n}×${k}${b && b > 1 ? ` ×${b}` : ''}`;
  }
  const bytes = paramNumber(c, 'bytes');
  if (bytes !== undefined) return formatBytes(bytes);
  return c.id.split('/').slice(3).join('/') || c.id;
}

/** Binary-prefixed byte count: 1048576 → `1 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** The case's statistics: the recorded ones, or computed from the samples if absent. */
export function caseStats(c: CaseResult): Stats | undefined {
  if (c.stats) return c.stats;
  if (c.samplesMs.length === 0) return undefined;
  return summarize(c.samplesMs);
}

/** Summary statistics of samples in ms, with the contract's definitions (linear-interpolated quantiles). */
export function summarize(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const variance = s.length > 1 ? s.reduce((a, b) => a + (b - mean) ** 2, 0) / (s.length - 1) : 0;
  const stddev = Math.sqrt(variance);
  return {
    medianMs: quantileSorted(s, 0.5),
    meanMs: mean,
    minMs: s[0] ?? NaN,
    maxMs: s[s.length - 1] ?? NaN,
    p10Ms: quantileSorted(s, 0.1),
    p90Ms: quantileSorted(s, 0.9),
    stddevMs: stddev,
    cv: mean > 0 ? stddev / mean : 0,
  };
}

/** Quantile of an ascending array by linear interpolation (numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/**
 * The case's headline metric with bounds from the sample spread: throughput is
 * inversely proportional to time, so the p90 time gives the lower bound.
 */
export function headline(c: CaseResult): HeadlineMetric | undefined {
  const key = isCollective(c) ? 'busbwGBps' : c.workload === 'matmul' ? 'tflops' : c.metrics.bandwidthGBps !== undefined ? 'bandwidthGBps' : undefined;
  if (!key) return undefined;
  const value = c.metrics[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const st = caseStats(c);
  let lower = value;
  let upper = value;
  if (st && st.medianMs > 0 && st.p90Ms > 0 && st.p10Ms > 0) {
    lower = (value * st.medianMs) / st.p90Ms;
    upper = (value * st.medianMs) / st.p10Ms;
  }
  return { key, unit: key === 'tflops' ? 'TFLOP/s' : 'GB/s', value, lower, upper };
}

/** True when the case ran and its correctness check (if any) passed. */
export function caseOk(c: CaseResult): boolean {
  return c.status === 'ok' && (c.check?.passed ?? true);
}

/** Rounds to `digits` significant digits for display, keeping integers readable. */
export function sig(v: number | undefined, digits = 4): string {
  if (v === undefined || !Number.isFinite(v)) return '';
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 10 ** digits) return v.toFixed(0);
  return Number(v.toPrecision(digits)).toString();
}
