import { describe, expect, it } from 'vitest';
import { flashAttentionTime, gemmRate, gemmTime, nearestMeasured, sizeRamp, type GemmDevice } from '../src/estimate/gemm.js';
import { DEFAULT_PARAMS } from '../src/estimate/params.js';

const dev: GemmDevice = { peakTflops: 989.4, gemmFraction: 0.8, flashFraction: 0.35, memoryGBps: 3350, bytesPerElement: 2, precision: 'bf16', measured: [] };
const g = (m: number, n: number, k: number, batch = 1) => ({ name: 'g', m, n, k, batch, attention: false });

describe('GEMM time model', () => {
  it('large GEMMs run near peak × gemmFraction × gemmInTraining; thin ones much slower', () => {
    const big = gemmRate(g(16384, 16384, 16384), dev, DEFAULT_PARAMS).tflops;
    expect(big / (989.4 * 0.8 * DEFAULT_PARAMS.gemmInTraining)).toBeGreaterThan(0.99);
    const thin = gemmRate(g(16384, 16384, 64), dev, DEFAULT_PARAMS).tflops;
    expect(thin / big).toBeCloseTo(sizeRamp(16384, 16384, 64, 32) / sizeRamp(16384, 16384, 16384, 32), 9);
    expect(thin).toBeLessThan(big * 0.7);
  });

  it('is a roofline: a batched product with k = 64 is bound by HBM traffic, not FLOPs', () => {
    const scores = g(2048, 2048, 64, 256);
    const bytes = 2 * 256 * (2048 * 64 * 2 + 2048 * 2048);
    expect(gemmTime(scores, dev, DEFAULT_PARAMS)).toBeCloseTo(bytes / (3350e9 * DEFAULT_PARAMS.memEfficiency), 9);
  });

  it('a measured matmul of the nearest shape and same dtype replaces the catalog rate', () => {
    const measured = [
      { m: 8192, n: 8192, k: 8192, precision: 'bf16', tflops: 600, caseId: 'a' },
      { m: 1024, n: 1024, k: 1024, precision: 'bf16', tflops: 300, caseId: 'b' },
      { m: 8192, n: 8192, k: 8192, precision: 'fp16', tflops: 900, caseId: 'c' },
    ];
    const d = { ...dev, measured };
    expect(nearestMeasured({ m: 8000, n: 9000, k: 7000 }, d)?.caseId).toBe('a');
    expect(nearestMeasured({ m: 1500, n: 900, k: 1000 }, d)?.caseId).toBe('b');
    const r = gemmRate(g(8192, 8192, 8192), d, DEFAULT_PARAMS);
    expect(r.source).toBe('measured');
    expect(r.tflops).toBeCloseTo(600 * DEFAULT_PARAMS.gemmInTraining, 6);
    expect(gemmRate(g(8192, 8192, 8192), { ...d, precision: 'fp8' }, DEFAULT_PARAMS).source).toBe('catalog');
  });

  it('flash attention under a causal mask runs half the products, backward at 2.5× the forward', () => {
    const F = 1e15;
    const rate = 989.4 * 0.35 * DEFAULT_PARAMS.gemmInTraining * 1e12;
    expect(flashAttentionTime(F, dev, DEFAULT_PARAMS)).toBeCloseTo((F / 2) * 3.5 / rate, 9);
    expect(flashAttentionTime(F, dev, DEFAULT_PARAMS, false)).toBeCloseTo(2 * flashAttentionTime(F, dev, DEFAULT_PARAMS), 9);
  });
});
