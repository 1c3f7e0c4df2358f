/**
 * Alpha-beta fits of collective sweeps: t(S) = α + β·S per algorithm, by weighted least
 * squares with weights 1/t² (relative error), so the microsecond latencies of small
 * messages shape α as much as the long transfers shape β. The cluster estimator reads them.
 */
import type { AlphaBetaFit, CaseResult, ResultsFile } from '../harness/results/schema.js';
import { BUS_FACTOR, COLLECTIVES, type CollectiveKind } from './collective.js';

/** Fits t = a + b·x minimising Σ((t − a − b·x)/t)²; a is clamped at 0 (latency is never negative). */
export function fitAlphaBeta(xs: readonly number[], ts: readonly number[]): { alpha: number; beta: number; maxRelResidual: number } {
  let sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  xs.forEach((x, i) => {
    const t = ts[i]!;
    const w = 1 / (t * t);
    sw += w; sx += w * x; sy += w * t; sxx += w * x * x; sxy += w * x * t;
  });
  const det = sw * sxx - sx * sx;
  let alpha: number;
  let beta: number;
  if (xs.length < 2 || Math.abs(det) < 1e-300) {
    alpha = sy / sw;
    beta = 0;
  } else {
    beta = (sw * sxy - sx * sy) / det;
    alpha = (sy - beta * sx) / sw;
  }
  if (alpha < 0) {
    alpha = 0;
    beta = sxx > 0 ? sxy / sxx : 0;
  }
  let maxRelResidual = 0;
  xs.forEach((x, i) => {
    maxRelResidual = Math.max(maxRelResidual, Math.abs((alpha + beta * x - ts[i]!) / ts[i]!));
  });
  return { alpha, beta, maxRelResidual };
}

const str = (v: unknown): string => (v === undefined ? '' : String(v));

/** One fit per (collective, backend, algorithm that ran, dtype, op, placement, ranks) over the ok cases. */
export function fitSweeps(cases: readonly CaseResult[]): AlphaBetaFit[] {
  const groups = new Map<string, CaseResult[]>();
  for (const c of cases) {
    if (c.status !== 'ok' || !c.stats || !(COLLECTIVES as readonly string[]).includes(c.workload)) continue;
    const p = c.params;
    const key = [c.workload, c.backend, c.impl?.kernel ?? str(p.algorithm), str(p.dtype), str(p.op), str(p.inPlace), str(p.ranks)].join('|');
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const fits: AlphaBetaFit[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const p = first.params;
    const xs = group.map((c) => Number(c.params.bytes));
    const ts = group.map((c) => c.stats!.medianMs / 1e3);
    const { alpha, beta, maxRelResidual } = fitAlphaBeta(xs, ts);
    const ranks = Number(p.ranks);
    const algbw = beta > 0 ? 1 / beta / 1e9 : null;
    fits.push({
      workload: first.workload,
      backend: first.backend,
      algorithm: first.impl?.kernel ?? str(p.algorithm),
      dtype: str(p.dtype),
      ...(p.op !== undefined ? { op: str(p.op) } : {}),
      inPlace: Boolean(p.inPlace),
      ranks,
      ...(p.nodes !== undefined ? { nodes: Number(p.nodes) } : {}),
      points: group.length,
      minBytes: Math.min(...xs),
      maxBytes: Math.max(...xs),
      alphaUs: alpha * 1e6,
      betaNsPerByte: beta * 1e9,
      algbwGBps: algbw,
      busbwGBps: algbw === null ? null : algbw * BUS_FACTOR[first.workload as CollectiveKind](ranks),
      maxRelResidual,
    });
  }
  return fits;
}

/** Stores the fits of a results file's collective cases in `results.collectives`. */
export function addFits(results: ResultsFile): void {
  const fits = fitSweeps(results.cases);
  if (fits.length > 0) results.collectives = { fits };
}
