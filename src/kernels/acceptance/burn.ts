/**
 * The burn workload, as gpu-burn: every local GPU multiplies the same two random matrices
 * over and over for `seconds`; the first result is checked against the float64 reference,
 * every later one is compared with it bit for bit on the GPU, and each GPU is OK or FAULTY
 * with its count of faulty elements. NVML health counters are read before and after. Unlike
 * gpu-burn (wilicc/gpu-burn#12), a fault fails the case, so the run exits 1.
 */
import { z } from 'zod';
import type { CaseResult, Check, Metrics, Summary } from '../../harness/results/schema.js';
import type { MeasureOptions } from '../../harness/measure.js';
import type { CliOverrides, Workload } from '../../harness/workload.js';
import { uniform } from '../../harness/random.js';
import { referenceRow, rowsToCheck, tolerance } from '../matmul/reference.js';
import { roundTo } from '../matmul/round.js';

export const BURN_DTYPES = ['f32', 'tf32', 'f16', 'bf16'] as const;
export type BurnDtype = (typeof BURN_DTYPES)[number];

export interface BurnParams {
  /** How long the GEMMs run, seconds (`--burn-seconds`). */
  seconds: number;
  dtype: BurnDtype;
  /** Square matrices of size × size (gpu-burn's 8192). */
  size: number;
}

export interface BurnData {
  a: Float32Array;
  b: Float32Array;
  /** Rows of C the reference check computes. */
  rows: number[];
  seed: number;
}

/** What the burn found on one GPU (the case's `burn.gpus`). */
export interface BurnGpu {
  device: string;
  verdict: 'OK' | 'FAULTY';
  faultyElements: number;
  gemms: number;
  /** Why FAULTY, when it is. */
  reasons: string[];
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
}

export const BurnEntry = z.strictObject({
  workload: z.literal('burn'),
  backends: z.array(z.string().min(1)).min(1).optional(),
  /** @default 60 */
  seconds: z.number().positive().max(7 * 86_400).default(60),
  /** @default ["f32"] (gpu-burn's default SGEMM) */
  dtypes: z.array(z.enum(BURN_DTYPES)).min(1).default(['f32']),
  /** Matrix sizes. @default [8192] */
  sizes: z.array(z.number().int().min(16).max(32768)).min(1).default([8192]),
});
export type BurnEntry = z.infer<typeof BurnEntry>;

export const burnWorkload: Workload<BurnParams, BurnData> = {
  id: 'burn',
  entrySchema: BurnEntry as unknown as z.ZodObject,
  expand(raw, o: CliOverrides) {
    const e = raw as BurnEntry;
    const seconds = typeof o.burnSeconds === 'number' ? o.burnSeconds : e.seconds;
    return e.dtypes.flatMap((dtype) => (o.sizes ?? e.sizes).map((size) => ({ seconds, dtype, size })));
  },
  caseId: (backend, p) => `burn/${backend}/${p.dtype}/${p.size}/${p.seconds}s`,
  describe: (p) => ({ seconds: p.seconds, dtype: p.dtype, m: p.size, n: p.size, k: p.size }),
  peakDtype: (p) => p.dtype,
  makeData(p, seed) {
    const count = p.size * p.size;
    return {
      a: roundTo(uniform(count, seed), p.dtype),
      b: roundTo(uniform(count, seed ^ 0x9e3779b9), p.dtype),
      rows: rowsToCheck({ m: p.size, n: p.size, k: p.size, batch: 1 }, seed),
      seed,
    };
  },
  /** `out`: every GPU's first result on `data.rows`, GPU after GPU. */
  check(p, data, out): Check {
    const n = p.size;
    const per = data.rows.length * n;
    const gpus = Math.floor(out.length / per);
    const tol = tolerance(p.dtype, n);
    if (gpus < 1) return { passed: false, maxRelError: null, tolerance: tol, wrong: per, checked: 0, seed: data.seed };
    const ref = new Float64Array(n);
    let errSq = 0;
    let refSq = 0;
    let wrong = 0;
    const diffs: number[] = [];
    data.rows.forEach((r, i) => {
      referenceRow(data.a, data.b, { m: n, n, k: n, batch: 1 }, r, ref);
      for (let g = 0; g < gpus; g++)
        for (let j = 0; j < n; j++) {
          const o = out[g * per + i * n + j]!;
          const e = ref[j]!;
          refSq += e * e;
          if (!Number.isFinite(o)) wrong++;
          else {
            errSq += (o - e) ** 2;
            diffs.push(Math.abs(o - e));
          }
        }
    });
    const checked = gpus * per;
    const limit = 10 * tol * Math.sqrt(refSq / checked);
    for (const d of diffs) if (d > limit) wrong++;
    const rel = diffs.length < checked ? null : Math.sqrt(errSq / Math.max(refSq, 1e-300));
    return { passed: rel !== null && rel <= tol && wrong === 0, maxRelError: rel, tolerance: tol, wrong, checked, seed: data.seed };
  },
  metrics(p, medianMs, peak): Metrics {
    const tflops = (2 * p.size ** 3) / (medianMs / 1e3) / 1e12;
    return { tflops, ...(peak.tflops ? { peakTflops: peak.tflops, pctOfPeak: (100 * tflops) / peak.tflops } : {}) };
  },
  /** The soak's own loop: samples of about a second (gpu-burn reports each ~second) for `seconds`. */
  measureOptions(p, suite: MeasureOptions): MeasureOptions {
    const ms = p.seconds * 1000;
    const warm = Math.min(suite.warmupMs, 1000);
    return {
      ...suite,
      warmupMs: warm,
      warmupIterations: 1,
      maxWarmupMs: warm,
      minSampleMs: Math.min(1000, Math.max(20, ms / 10)),
      minTimeMs: ms,
      minSamples: 1,
      maxSamples: Math.ceil(p.seconds) * 10 + 10,
      maxTimeMs: ms * 1.5 + 60_000,
    };
  },
  summarize(cases: CaseResult[]): Summary[] {
    return cases
      .filter((c) => Array.isArray((c as { burn?: { gpus?: unknown } }).burn?.gpus))
      .map((c) => {
        const gpus = (c as unknown as { burn: { gpus: BurnGpu[] } }).burn.gpus;
        const val = (h: Record<string, unknown> | undefined, k: string): string => (h && h[k] !== undefined ? String(h[k]) : '-');
        return {
          title: `${c.id}: per-GPU verdict (faulty elements over all GEMMs; NVML before -> after)`,
          columns: ['GPU', 'verdict', 'faulty', 'GEMMs', 'temp C', 'SM MHz', 'ECC uncorr. (vol)', 'retired pages', 'remapped rows'],
          rows: gpus.map((g) => [
            g.device,
            g.verdict,
            String(g.faultyElements),
            String(g.gemms),
            `${val(g.before, 'temperatureC')} -> ${val(g.after, 'temperatureC')}`,
            val(g.after, 'smClockMHz'),
            `${val(g.before, 'eccUncorrectedVolatile')} -> ${val(g.after, 'eccUncorrectedVolatile')}`,
            `${val(g.after, 'retiredPagesSingleBit')}/${val(g.after, 'retiredPagesDoubleBit')}`,
            `${val(g.after, 'remappedRowsCorrectable')}/${val(g.after, 'remappedRowsUncorrectable')}`,
          ]),
          data: { gpus },
        };
      });
  },
};
