import { describe, expect, it } from 'vitest';
import { forwardFlopsPerSequence, gemmFlops, layerGemms, megatronEq3, megatronModelFlops, parameterCount, resolveModel, stepFlops } from '../src/estimate/flops.js';

const gpt = (l: number, h: number, a: number, s = 2048, V = 51200) => resolveModel({ arch: 'gpt', layers: l, hidden: h, heads: a, vocab: V, seqLength: s });

describe('FLOP counting from GEMM shapes', () => {
  it('matches Narayanan et al. Eq. 3 (hardware FLOPs with full recompute) for every Table 1 shape', () => {
    const rows: [number, number, number, number][] = [
      [24, 2304, 24, 512], [30, 3072, 32, 512], [36, 4096, 32, 512], [40, 6144, 48, 1024], [48, 8192, 64, 1536],
      [60, 10240, 80, 1792], [80, 12288, 96, 2304], [96, 16384, 128, 2160], [105, 20480, 128, 2520], [128, 25600, 160, 3072],
    ];
    for (const [l, h, a, B] of rows) {
      const f = stepFlops(gpt(l, h, a), B, 'full');
      expect(f.hardware / megatronEq3(B, 2048, l, h, 51200)).toBeCloseTo(1, 12);
    }
  });

  it('model FLOPs follow the MFU convention 72·B·s·l·h²·(1 + s/6h + V/12lh), recompute excluded', () => {
    const m = gpt(96, 12288, 96);
    for (const mode of ['none', 'selective', 'full'] as const) {
      expect(stepFlops(m, 1536, mode).model / megatronModelFlops(1536, 2048, 96, 12288, 51200)).toBeCloseTo(1, 12);
    }
  });

  it('full recompute adds exactly one forward of the layers: hardware/model = 4/3 without logits', () => {
    const m = gpt(24, 2304, 24, 2048, 1); // vocab 1: logits negligible
    const f = stepFlops(m, 8, 'full');
    expect(f.hardware / f.model).toBeCloseTo(4 / 3, 4);
  });

  it('selective recompute adds only the attention score/context products (4·s²·h per layer per sequence)', () => {
    const m = gpt(10, 1024, 16, 4096);
    const f = stepFlops(m, 3, 'selective');
    expect(f.hardware - f.model).toBeCloseTo(3 * 10 * 4 * 4096 * 4096 * 1024, -3);
  });

  it('a GEMM costs 2·m·n·k per batch entry', () => {
    expect(gemmFlops({ name: 'x', m: 3, n: 5, k: 7, batch: 2, attention: false })).toBe(420);
  });

  it('tensor and context parallelism split every GEMM: per-GPU FLOPs × tp × cp = whole-layer FLOPs', () => {
    const m = resolveModel({ arch: 'llama', layers: 2, hidden: 4096, heads: 32, kvHeads: 8, ffnHidden: 14336, vocab: 128256, seqLength: 8192 });
    const whole = layerGemms(m, 2, 1, 1).reduce((a, g) => a + gemmFlops(g), 0);
    const split = layerGemms(m, 2, 4, 2).reduce((a, g) => a + gemmFlops(g), 0);
    expect(split * 8).toBeCloseTo(whole, -3);
  });

  it('6·N per token for the linear layers (Kaplan/PaLM), GQA and SwiGLU included', () => {
    const m = resolveModel({ arch: 'llama', layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffnHidden: 14336, vocab: 128256, seqLength: 8192 });
    const f = forwardFlopsPerSequence(m);
    const N = parameterCount(m);
    const linearPerToken = (32 * (f.layer - f.attention) + f.logits) / 8192;
    expect(linearPerToken).toBeCloseTo(2 * (N.layer * 32 + N.embedding), -3);
    expect(N.total / 1e9).toBeCloseTo(7.5, 0); // Llama 3 8B without the input embedding copy
  });

  it('causal counting halves attention FLOPs, full counting does not', () => {
    const m = gpt(1, 1024, 16, 8192);
    expect(forwardFlopsPerSequence(m, 'causal').attention * 2).toBeCloseTo(forwardFlopsPerSequence(m, 'full').attention, -3);
  });
});
