/**
 * GEMM time on one GPU: a roofline (compute at a size-dependent share of peak, or HBM
 * traffic, whichever is slower), with the compute share taken from a measured matmul of
 * the nearest shape when a results file provides one.
 */
import type { Gemm } from './flops.js';
import { gemmFlops } from './flops.js';
import type { EfficiencyParams } from './params.js';

/** A measured matmul throughput: one results-file case. */
export interface MeasuredGemm {
  m: number;
  n: number;
  k: number;
  /** Our precision names (fp16, bf16, fp8, tf32, fp32). */
  precision: string;
  tflops: number;
  /** Case id in the results file, for the report. */
  caseId: string;
}

/** What the GEMM model needs to know about the GPU. */
export interface GemmDevice {
  /** Dense peak for the precision the GEMMs run in, TFLOP/s. */
  peakTflops: number;
  /** Isolated large-GEMM fraction of that peak (catalog `gemmFraction`). */
  gemmFraction: number;
  /** Flash-attention share of that peak (catalog `flashFraction`). */
  flashFraction: number;
  /** HBM bandwidth, GB/s. */
  memoryGBps: number;
  /** Bytes per GEMM operand element. */
  bytesPerElement: number;
  precision: string;
  /** Measured matmuls; when one matches the precision, it replaces peak × gemmFraction. */
  measured: MeasuredGemm[];
}

/** The size ramp: Π d/(d + d0) over m, n, k. 1 for large matrices, small for thin ones. */
export function sizeRamp(m: number, n: number, k: number, halfDim: number): number {
  const f = (d: number) => d / (d + halfDim);
  return f(m) * f(n) * f(k);
}

function logDistance(a: { m: number; n: number; k: number }, b: { m: number; n: number; k: number }): number {
  return Math.abs(Math.log(a.m / b.m)) + Math.abs(Math.log(a.n / b.n)) + Math.abs(Math.log(a.k / b.k));
}

/** The nearest measured shape of the same precision, if any. */
export function nearestMeasured(g: { m: number; n: number; k: number }, dev: GemmDevice): MeasuredGemm | undefined {
  let best: MeasuredGemm | undefined;
  let bestD = Infinity;
  for (const c of dev.measured) {
    if (c.precision !== dev.precision) continue;
    const d = logDistance(g, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

/**
 * Sustained TFLOP/s of a GEMM shape inside a training step. Measured: the nearest
 * measured shape's TFLOP/s moved to this shape by the ratio of size ramps. Catalog:
 * peak × gemmFraction × ramp. Both × `gemmInTraining`.
 */
export function gemmRate(g: Gemm, dev: GemmDevice, p: EfficiencyParams): { tflops: number; source: 'measured' | 'catalog' } {
  const ramp = sizeRamp(g.m, g.n, g.k, p.gemmHalfDim);
  const near = nearestMeasured(g, dev);
  if (near) {
    const rampNear = sizeRamp(near.m, near.n, near.k, p.gemmHalfDim);
    const tflops = Math.min(near.tflops * (ramp / rampNear), dev.peakTflops);
    return { tflops: tflops * p.gemmInTraining, source: 'measured' };
  }
  return { tflops: dev.peakTflops * dev.gemmFraction * ramp * p.gemmInTraining, source: 'catalog' };
}

/** Seconds for one GEMM call: max(compute, HBM traffic of A, B and C). */
export function gemmTime(g: Gemm, dev: GemmDevice, p: EfficiencyParams): number {
  const compute = gemmFlops(g) / (gemmRate(g, dev, p).tflops * 1e12);
  const bytes = dev.bytesPerElement * g.batch * (g.m * g.k + g.k * g.n + g.m * g.n);
  const memory = bytes / (dev.memoryGBps * 1e9 * p.memEfficiency);
  return Math.max(compute, memory);
}

/**
 * Seconds for the attention score and context products done by a fused (flash) kernel,
 * forward and backward together: no s×s matrix in HBM, masked blocks skipped under a
 * causal mask (half the products run), and the backward recomputing the scores (2.5× the
 * forward's products, as the FlashAttention papers count it), all at the GPU's
 * `flashFraction` of peak.
 */
export function flashAttentionTime(forwardFlops: number, dev: GemmDevice, p: EfficiencyParams, causal = true): number {
  const executed = (causal ? forwardFlops / 2 : forwardFlops) * (1 + 2.5);
  const rate = dev.peakTflops * dev.flashFraction * p.flashAttentionEfficiency * p.gemmInTraining;
  return executed / (rate * 1e12);
}
