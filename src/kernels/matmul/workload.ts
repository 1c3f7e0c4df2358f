/**
 * The matmul workload: C = A·B (optionally batched), FLOPs = 2·m·n·k·batch.
 * Suite entries name sizes (square) and/or shapes (m×n×k), dtypes, backends and kernels.
 */
import { z } from 'zod';
import type { Check, Metrics } from '../../harness/results/schema.js';
import type { CliOverrides, PeakInfo, Workload } from '../../harness/workload.js';
import { uniform } from '../../harness/random.js';
import { checkGemm, tolerance } from './reference.js';
import { roundTo } from './round.js';

/** Element types matmul can be asked for; each backend says which it runs. */
export const MATMUL_DTYPES = ['f32', 'tf32', 'f16', 'bf16', 'fp8'] as const;
export type MatmulDtype = (typeof MATMUL_DTYPES)[number];

/** One matmul case. */
export interface MatmulParams {
  m: number;
  n: number;
  k: number;
  batch: number;
  dtype: MatmulDtype;
  /** Kernel variant: `auto` (the backend's best, autotuned where it tunes) or a named one. */
  kernel: string;
}

/** Inputs of one case, rounded to the dtype so the reference sees what the device sees. */
export interface MatmulData {
  a: Float32Array;
  b: Float32Array;
  seed: number;
}

const dim = z.number().int().min(1).max(65536);
const SHAPE_RE = /^(\d+)x(\d+)x(\d+)$/;
const Shape = z.union([
  z.string().regex(SHAPE_RE, 'expected "MxNxK", e.g. "4096x1024x512"'),
  z.strictObject({ m: dim, n: dim, k: dim }),
]);

/** A matmul entry of a suite file. */
export const MatmulEntry = z.strictObject({
  workload: z.literal('matmul'),
  /** Backends to run; omitted = every available backend that implements matmul. */
  backends: z.array(z.string().min(1)).min(1).optional(),
  /** Element types. @default [f32] */
  dtypes: z.array(z.enum(MATMUL_DTYPES)).min(1).default(['f32']),
  /** Square sizes: each s runs m = n = k = s. */
  sizes: z.array(dim).optional(),
  /** Rectangular shapes, "MxNxK" or {m, n, k}. */
  shapes: z.array(Shape).optional(),
  /** Independent GEMMs per dispatch. @default 1 */
  batch: z.number().int().min(1).max(4096).default(1),
  /** Kernel variants; `auto` is the backend's best. @default [auto] */
  kernels: z.array(z.string().min(1)).min(1).default(['auto']),
}).refine((e) => (e.sizes?.length ?? 0) + (e.shapes?.length ?? 0) > 0, {
  message: 'a matmul entry needs `sizes` or `shapes`',
  path: ['sizes'],
});
export type MatmulEntry = z.infer<typeof MatmulEntry>;

function parseShape(s: z.infer<typeof Shape>): [number, number, number] {
  if (typeof s !== 'string') return [s.m, s.n, s.k];
  const [, m, n, k] = SHAPE_RE.exec(s)!;
  return [Number(m), Number(n), Number(k)];
}

export const matmulWorkload: Workload<MatmulParams, MatmulData> = {
  id: 'matmul',
  entrySchema: MatmulEntry as unknown as z.ZodObject,

  expand(raw, overrides: CliOverrides): MatmulParams[] {
    const e = raw as MatmulEntry;
    const dtypes = (overrides.dtypes ?? e.dtypes) as MatmulDtype[];
    const shapes: [number, number, number][] = overrides.sizes
      ? overrides.sizes.map((s) => [s, s, s])
      : [...(e.sizes ?? []).map((s): [number, number, number] => [s, s, s]), ...(e.shapes ?? []).map(parseShape)];
    const out: MatmulParams[] = [];
    for (const kernel of e.kernels)
      for (const dtype of dtypes)
        for (const [m, n, k] of shapes) out.push({ m, n, k, batch: e.batch, dtype, kernel });
    return out;
  },

  caseId(backend, p) {
    const batch = p.batch > 1 ? `/b${p.batch}` : '';
    const kernel = p.kernel !== 'auto' ? `/${p.kernel}` : '';
    return `matmul/${backend}/${p.dtype}/${p.m}x${p.n}x${p.k}${batch}${kernel}`;
  },

  describe(p) {
    return { m: p.m, n: p.n, k: p.k, dtype: p.dtype, batch: p.batch, kernel: p.kernel };
  },

  peakDtype: (p) => p.dtype,

  makeData(p, seed) {
    return {
      a: roundTo(uniform(p.batch * p.m * p.k, seed), p.dtype),
      b: roundTo(uniform(p.batch * p.k * p.n, seed ^ 0x9e3779b9), p.dtype),
      seed,
    };
  },

  check(p, data, output): Check {
    return checkGemm(data.a, data.b, p, output, tolerance(p.dtype, p.k), data.seed);
  },

  metrics(p, medianMs, peak: PeakInfo): Metrics {
    const tflops = matmulFlops(p) / (medianMs / 1e3) / 1e12;
    const m: Metrics = { tflops };
    if (peak.tflops) {
      m.peakTflops = peak.tflops;
      m.pctOfPeak = (100 * tflops) / peak.tflops;
    }
    return m;
  },
};

/** FLOPs of one matmul case: 2·m·n·k·batch (one multiply and one add per term). */
export function matmulFlops(p: Pick<MatmulParams, 'm' | 'n' | 'k' | 'batch'>): number {
  return 2 * p.m * p.n * p.k * p.batch;
}
