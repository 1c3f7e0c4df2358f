import { describe, expect, it } from 'vitest';
import { datasheetPeak, findGpu, loadCatalog } from '../src/harness/peaks.js';

const peakTflops = (name: string, dtype: string | undefined) => datasheetPeak(name, dtype)?.tflops;

describe('the GPU peak catalog', () => {
  it('matches reported device names to the right datasheet entry, most specific first', () => {
    expect(findGpu('NVIDIA H100 80GB HBM3')?.id).toBe('H100-SXM5-80GB');
    expect(findGpu('NVIDIA H100 PCIe')?.id).toBe('H100-PCIe-80GB');
    expect(findGpu('NVIDIA H200')?.id).toBe('H200-SXM-141GB');
    expect(findGpu('NVIDIA GB200')?.id).toBe('GB200');
    expect(findGpu('NVIDIA B200')?.id).toBe('B200');
    expect(findGpu('NVIDIA A100-SXM4-80GB')?.id).toBe('A100-SXM4-80GB');
    expect(findGpu('NVIDIA A100-SXM4-40GB')?.id).toBe('A100-SXM4-40GB');
    expect(findGpu('llvmpipe (LLVM 15.0.6, 256 bits)')).toBeUndefined();
  });
  it('gives dense peaks per dtype with a source for every entry', () => {
    expect(peakTflops('NVIDIA H100 80GB HBM3', 'bf16')).toBe(989.4);
    expect(peakTflops('NVIDIA H100 80GB HBM3', 'fp32')).toBe(66.9);
    expect(peakTflops('NVIDIA H100 80GB HBM3', undefined)).toBeUndefined();
    expect(peakTflops('NVIDIA GB200', 'fp32')).toBeUndefined();
    for (const g of loadCatalog()) expect(g.source.length).toBeGreaterThan(10);
  });
});
