/**
 * The float64 reference for matmul and the comparison with a kernel's output.
 * Small problems are checked in full; large ones on whole random rows (first and last row
 * always included, so ragged tile edges are covered), which keeps the check's cost to
 * about 2^27 multiply-adds whatever the size.
 */
import { sampleIndices } from '../../harness/random.js';
import type { Check } from '../../harness/results/schema.js';

/** Multiply-adds above which the check samples rows instead of computing all of C. */
export const FULL_CHECK_FMAS = 2 ** 27;

/** Relative-error tolerance ‖out−ref‖/‖ref‖ per dtype, for a dot product of length k. */
export function tolerance(dtype: string, k: number): number {
  switch (dtype) {
    case 'f32':
      // f32 accumulation error grows like sqrt(k); 1e-5 holds to k = 4096.
      return 1e-5 * Math.max(1, Math.sqrt(k / 4096));
    case 'tf32':
      return 1e-3;
    case 'f16':
    case 'bf16':
      return 1e-2;
    case 'fp8':
      return 2e-2;
    default:
      return 1e-9;
  }
}

/** Shape of a (batched) row-major GEMM: C[b] (m×n) = A[b] (m×k) · B[b] (k×n). */
export interface GemmDims {
  m: number;
  n: number;
  k: number;
  batch: number;
}

/** Rows of C (as batch·m + row indices) the check computes. */
export function rowsToCheck(d: GemmDims, seed: number): number[] {
  const totalRows = d.batch * d.m;
  const perRow = d.n * d.k;
  if (totalRows * perRow <= FULL_CHECK_FMAS) return Array.from({ length: totalRows }, (_, i) => i);
  const budget = Math.max(2, Math.floor(FULL_CHECK_FMAS / perRow));
  const rows = new Set(sampleIndices(totalRows, Math.min(totalRows, budget), seed));
  rows.add(0);
  rows.add(totalRows - 1);
  return [...rows].sort((a, b) => a - b);
}

/** One row of C in float64. */
export function referenceRow(a: Float32Array, b: Float32Array, d: GemmDims, globalRow: number, out: Float64Array): void {
  const batchIdx = Math.floor(globalRow / d.m);
  const aRow = globalRow * d.k;
  const bOff = batchIdx * d.k * d.n;
  out.fill(0);
  for (let kk = 0; kk < d.k; kk++) {
    const av = a[aRow + kk]!;
    const bRow = bOff + kk * d.n;
    for (let j = 0; j < d.n; j++) out[j]! += av * b[bRow + j]!;
  }
}

/**
 * Compares a kernel's C with the float64 reference on the chosen rows.
 * An element is `wrong` when it is not finite or off by more than 10·tolerance·rms(ref):
 * far beyond rounding, i.e. a bug, not precision.
 */
export function checkGemm(
  a: Float32Array,
  b: Float32Array,
  d: GemmDims,
  out: Float32Array | Float64Array,
  tol: number,
  seed: number,
): Check {
  const expected = d.batch * d.m * d.n;
  if (out.length < expected) {
    return { passed: false, maxRelError: null, tolerance: tol, wrong: expected, checked: 0, seed };
  }
  const rows = rowsToCheck(d, seed);
  const ref = new Float64Array(d.n);
  let errSq = 0;
  let refSq = 0;
  const diffs: number[] = [];
  let nonFinite = 0;
  for (const r of rows) {
    referenceRow(a, b, d, r, ref);
    const base = r * d.n;
    for (let j = 0; j < d.n; j++) {
      const o = out[base + j]!;
      const e = ref[j]!;
      refSq += e * e;
      if (!Number.isFinite(o)) {
        nonFinite++;
        continue;
      }
      const diff = o - e;
      errSq += diff * diff;
      diffs.push(Math.abs(diff));
    }
  }
  const checked = rows.length * d.n;
  const rms = Math.sqrt(refSq / Math.max(1, checked));
  const limit = 10 * tol * rms;
  let wrong = nonFinite;
  for (const x of diffs) if (x > limit) wrong++;
  const rel = nonFinite > 0 ? null : refSq > 0 ? Math.sqrt(errSq / refSq) : Math.sqrt(errSq);
  return {
    passed: rel !== null && rel <= tol && wrong === 0,
    maxRelError: rel,
    tolerance: tol,
    wrong,
    checked,
    seed,
  };
}
