import { describe, expect, it } from 'vitest';
import { checkGemm, referenceRow, rowsToCheck, tolerance, FULL_CHECK_FMAS } from '../src/kernels/matmul/reference.js';
import { bf16round, roundTo } from '../src/kernels/matmul/round.js';
import { matmulFlops, matmulWorkload, type MatmulParams } from '../src/kernels/matmul/workload.js';
import { uniform } from '../src/harness/random.js';

/** A plain float64 GEMM, written independently of reference.ts. */
function gemm64(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      c[i * n + j] = s;
    }
  return c;
}

describe('the float64 reference and the check', () => {
  const d = { m: 13, n: 17, k: 19, batch: 1 };
  const a = uniform(d.m * d.k, 1);
  const b = uniform(d.k * d.n, 2);
  const exact = Float32Array.from(gemm64(a, b, d.m, d.n, d.k));

  it('computes rows equal to a naive triple loop', () => {
    const row = new Float64Array(d.n);
    referenceRow(a, b, d, 5, row);
    const full = gemm64(a, b, d.m, d.n, d.k);
    for (let j = 0; j < d.n; j++) expect(row[j]).toBeCloseTo(full[5 * d.n + j]!, 12);
  });

  it('passes a correct output and reports a tiny relative error', () => {
    const c = checkGemm(a, b, d, exact, tolerance('f32', d.k), 7);
    expect(c.passed).toBe(true);
    expect(c.maxRelError!).toBeLessThan(1e-7);
    expect(c.wrong).toBe(0);
    expect(c.checked).toBe(d.m * d.n);
  });

  it('fails a NaN-poisoned output (a kernel that wrote nothing)', () => {
    const c = checkGemm(a, b, d, new Float32Array(d.m * d.n).fill(Number.NaN), 1e-5, 7);
    expect(c.passed).toBe(false);
    expect(c.wrong).toBe(d.m * d.n);
    expect(c.maxRelError).toBeNull();
  });

  it('fails one wrong element and counts it', () => {
    const bad = exact.slice();
    bad[d.n * 12 + 16] = bad[d.n * 12 + 16]! + 1; // last element: a ragged-edge bug
    const c = checkGemm(a, b, d, bad, tolerance('f32', d.k), 7);
    expect(c.passed).toBe(false);
    expect(c.wrong).toBe(1);
  });

  it('fails an output that is short of elements', () => {
    expect(checkGemm(a, b, d, exact.subarray(0, 10), 1e-5, 7).passed).toBe(false);
  });

  it('samples rows of large problems, always keeping the first and the last', () => {
    const big = { m: 4096, n: 4096, k: 4096, batch: 1 };
    const rows = rowsToCheck(big, 3);
    expect(rows[0]).toBe(0);
    expect(rows.at(-1)).toBe(4095);
    expect(rows.length * big.n * big.k).toBeLessThanOrEqual(FULL_CHECK_FMAS + 2 * big.n * big.k);
    expect(new Set(rows).size).toBe(rows.length);
    expect(rowsToCheck({ m: 64, n: 64, k: 64, batch: 2 }, 3)).toHaveLength(128);
  });

  it('uses the tolerances of the design: 1e-5 f32 (growing as sqrt(k) past 4096), 1e-3 tf32, 1e-2 f16/bf16', () => {
    expect(tolerance('f32', 1024)).toBe(1e-5);
    expect(tolerance('f32', 16384)).toBeCloseTo(2e-5, 12);
    expect(tolerance('tf32', 8192)).toBe(1e-3);
    expect(tolerance('f16', 8192)).toBe(1e-2);
    expect(tolerance('bf16', 8192)).toBe(1e-2);
  });
});

describe('rounding inputs to the storage type', () => {
  it('rounds to bfloat16 to nearest even', () => {
    expect(bf16round(1)).toBe(1);
    expect(bf16round(1 + 2 ** -8)).toBe(1); // tie → even
    expect(bf16round(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(bf16round(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });
  it('rounds to float16 so the reference sees what the device sees', () => {
    const v = roundTo(Float32Array.from([0.1, 1 / 3, 65504, 1e-8]), 'f16');
    expect(v[0]).toBeCloseTo(0.0999755859375, 12);
    expect(v[1]).toBeCloseTo(0.333251953125, 12);
    expect(v[2]).toBe(65504);
    expect(v[3]).toBe(0);
  });
});

describe('the matmul workload', () => {
  const p: MatmulParams = { m: 64, n: 32, k: 16, batch: 2, dtype: 'f32', kernel: 'auto' };
  it('counts FLOPs as 2·m·n·k·batch', () => {
    expect(matmulFlops(p)).toBe(2 * 64 * 32 * 16 * 2);
  });
  it('turns the median into TFLOP/s and % of the datasheet peak', () => {
    const m = matmulWorkload.metrics({ ...p, m: 8192, n: 8192, k: 8192, batch: 1 }, 1.5, { tflops: 989.4 });
    expect(m.tflops).toBeCloseTo((2 * 8192 ** 3) / 1.5e-3 / 1e12, 6);
    expect(m.pctOfPeak).toBeCloseTo((100 * m.tflops!) / 989.4, 6);
    expect(matmulWorkload.metrics(p, 1, {}).pctOfPeak).toBeUndefined();
  });
  it('gives stable case ids', () => {
    expect(matmulWorkload.caseId('webgpu', { ...p, batch: 1 })).toBe('matmul/webgpu/f32/64x32x16');
    expect(matmulWorkload.caseId('webgpu', { ...p, kernel: 'naive' })).toBe('matmul/webgpu/f32/64x32x16/b2/naive');
  });
  it('makes fresh data from different seeds, never zeros', () => {
    const d1 = matmulWorkload.makeData(p, 11);
    const d2 = matmulWorkload.makeData(p, 12);
    expect(d1.a.some((x, i) => x !== d2.a[i])).toBe(true);
    expect(d1.a.every((x) => x >= -1 && x < 1)).toBe(true);
    expect(d1.a.filter((x) => x === 0).length).toBeLessThan(3);
    expect(d1.a.some((x, i) => x !== d1.b[i])).toBe(true);
  });
  it('expands sizes and shapes, and lets --sizes replace both', () => {
    const entry = { workload: 'matmul', dtypes: ['f32', 'f16'], sizes: [8], shapes: ['4x5x6', { m: 1, n: 2, k: 3 }], batch: 1, kernels: ['auto'] };
    expect(matmulWorkload.expand(entry, {}).map((c) => `${c.dtype}:${c.m}x${c.n}x${c.k}`)).toEqual([
      'f32:8x8x8', 'f32:4x5x6', 'f32:1x2x3', 'f16:8x8x8', 'f16:4x5x6', 'f16:1x2x3',
    ]);
    expect(matmulWorkload.expand(entry, { sizes: [2] })).toHaveLength(2);
  });
});
