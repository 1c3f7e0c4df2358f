import { describe, expect, it } from 'vitest';
import { findGpu, loadGpuCatalog } from '../src/estimate/catalog.js';
import { resolveModel, type ResolvedModel } from '../src/estimate/flops.js';
import { memoryPerGpu, layerActivationBytes } from '../src/estimate/memory.js';
import { DEFAULT_PARAMS } from '../src/estimate/params.js';
import { resolveFabric, resolveTraining, type ResolvedTraining } from '../src/estimate/resolve.js';
import { defaultSpace, searchLayouts } from '../src/estimate/search.js';
import { estimateStep } from '../src/estimate/step.js';
import type { TrainingSpec } from '../src/estimate/inputs.js';

const cat = loadGpuCatalog();
const h100 = findGpu(cat, 'H100-SXM5-80GB');
const a100 = findGpu(cat, 'A100-SXM4-80GB');
const llama70 = resolveModel({ arch: 'llama', layers: 80, hidden: 8192, heads: 64, kvHeads: 8, ffnHidden: 28672, vocab: 128256, seqLength: 8192 });
const gpt175 = resolveModel({ arch: 'gpt', layers: 96, hidden: 12288, heads: 96, vocab: 51200, seqLength: 2048 });

function run(model: ResolvedModel, spec: TrainingSpec, gpus: number, gpu = h100) {
  const assumed: string[] = [];
  const training = resolveTraining(spec, gpus, gpu, model.heads, model.layers, assumed);
  const fabric = resolveFabric(gpu, 8, {}, DEFAULT_PARAMS, assumed);
  return { est: estimateStep({ model, training, gpu, gpus, fabric, params: DEFAULT_PARAMS, measuredGemms: [] }), training, assumed };
}

describe('step model moves the right way when one thing changes', () => {
  const base: TrainingSpec = { globalBatchSequences: 512, microBatch: 1, tp: 8, pp: 4, virtualStages: 5, recompute: 'selective', sequenceParallel: true, distributedOptimizer: true };

  it('full recompute is slower than selective, which is slower than none; HFU counts the extra work', () => {
    const none = run(llama70, { ...base, recompute: 'none' }, 1024).est;
    const sel = run(llama70, { ...base, recompute: 'selective' }, 1024).est;
    const full = run(llama70, { ...base, recompute: 'full' }, 1024).est;
    expect(sel.stepSeconds).toBeGreaterThanOrEqual(none.stepSeconds);
    expect(full.stepSeconds).toBeGreaterThan(sel.stepSeconds * 1.15);
    expect(full.mfu).toBeLessThan(sel.mfu);
    expect(full.hfu).toBeGreaterThan(full.mfu);
  });

  it('more GPUs on the same global batch: shorter step, lower per-GPU TFLOP/s (bigger bubble, more DP)', () => {
    const small = run(llama70, base, 512).est;
    const big = run(llama70, base, 2048).est;
    expect(big.stepSeconds).toBeLessThan(small.stepSeconds);
    expect(big.modelTflopsPerGpu).toBeLessThan(small.modelTflopsPerGpu);
  });

  it('context parallelism on the same sequence adds communication: per-GPU TFLOP/s does not rise', () => {
    const long = resolveModel({ ...llama70, seqLength: 65536 });
    const cp1 = run(long, { ...base, globalBatchSequences: 64, pp: 4, cp: 1 }, 1024).est;
    const cp4 = run(long, { ...base, globalBatchSequences: 64, pp: 4, cp: 4 }, 4096).est;
    expect(cp4.modelTflopsPerGpu).toBeLessThanOrEqual(cp1.modelTflopsPerGpu * 1.001);
    expect(cp4.stepSeconds).toBeLessThan(cp1.stepSeconds);
  });

  it('longer sequences at the same tokens per step cost more time (attention grows as s²)', () => {
    const s4k = run(resolveModel({ ...llama70, seqLength: 4096 }), { ...base, globalBatchSequences: 1024 }, 1024).est;
    const s16k = run(resolveModel({ ...llama70, seqLength: 16384 }), { ...base, globalBatchSequences: 256 }, 1024).est;
    expect(s16k.stepSeconds).toBeGreaterThan(s4k.stepSeconds);
  });

  it('interleaving shrinks the pipeline bubble by v', () => {
    const v1 = run(gpt175, { globalBatchSequences: 64, microBatch: 1, tp: 8, pp: 8, virtualStages: 1 }, 64, a100).est;
    const v4 = run(gpt175, { globalBatchSequences: 64, microBatch: 1, tp: 8, pp: 8, virtualStages: 4 }, 64, a100).est;
    expect(v4.breakdown.bubble).toBeLessThan(v1.breakdown.bubble / 3);
  });

  it('an H100 is faster than an A100 on the same layout', () => {
    const spec: TrainingSpec = { globalBatchSequences: 256, microBatch: 1, tp: 8, pp: 8, virtualStages: 2, precision: 'bf16', recompute: 'selective', sequenceParallel: true, attention: 'flash' };
    expect(run(gpt175, spec, 512, h100).est.stepSeconds).toBeLessThan(run(gpt175, spec, 512, a100).est.stepSeconds / 2);
  });
});

describe('memory per GPU', () => {
  it('reproduces Korthikanti et al. 2022 activation formulas (GPT, per layer)', () => {
    const m = resolveModel({ arch: 'gpt', layers: 1, hidden: 12288, heads: 96, vocab: 51200, seqLength: 2048 });
    const sbh = 2048 * 1 * 12288;
    const L = { microBatch: 1, tp: 8, pp: 1, dp: 1, cp: 1, virtualStages: 1, microBatches: 1, distributedOptimizer: false, gradBytes: 4, attention: 'unfused' as const };
    expect(layerActivationBytes(m, { ...L, recompute: 'none', sequenceParallel: false })).toBeCloseTo(sbh * (10 + 24 / 8 + (5 * 96 * 2048) / (12288 * 8)), -2);
    expect(layerActivationBytes(m, { ...L, recompute: 'none', sequenceParallel: true })).toBeCloseTo(sbh * (34 / 8 + (5 * 96 * 2048) / (12288 * 8)), -2);
    expect(layerActivationBytes(m, { ...L, recompute: 'selective', sequenceParallel: true })).toBeCloseTo((sbh * 34) / 8, -2);
    expect(layerActivationBytes(m, { ...L, recompute: 'full', sequenceParallel: false })).toBe(2 * sbh);
  });

  it('mixed-precision Adam holds 18 bytes per parameter, the optimizer part sharded by a distributed optimizer', () => {
    const L = { microBatch: 1, tp: 8, pp: 8, dp: 16, cp: 1, virtualStages: 1, microBatches: 8, recompute: 'full' as const, sequenceParallel: true, attention: 'unfused' as const, gradBytes: 4 };
    const plain = memoryPerGpu(gpt175, { ...L, distributedOptimizer: false }, 80);
    const dist = memoryPerGpu(gpt175, { ...L, distributedOptimizer: true }, 80);
    expect((plain.weightsGB + plain.gradientsGB + plain.optimizerGB) / plain.params).toBeCloseTo(18e-9, 12);
    expect(dist.optimizerGB).toBeCloseTo(plain.optimizerGB / 16, 9);
  });

  it('a 175B model on 8 GPUs does not fit, and says by how much', () => {
    const { est } = run(gpt175, { globalBatchSequences: 8, tp: 8, pp: 1, microBatch: 1 }, 8, a100);
    expect(est.memory.fits).toBe(false);
    expect(est.memory.totalGB).toBeGreaterThan(300);
  });
});

describe('layout search', () => {
  it('sweeps thousands of layouts in well under a few seconds and returns only ones that fit, fastest first', () => {
    const fabric = resolveFabric(h100, 8, {}, DEFAULT_PARAMS, []);
    const base = { precision: 'bf16' as const, sequenceParallel: true, attention: 'flash' as const, distributedOptimizer: true };
    const space = defaultSpace(llama70, 8, true);
    space.microBatch = [1, 2, 4, 8, 16];
    const out = searchLayouts({ model: llama70, gpu: h100, gpus: 4096, fabric, params: DEFAULT_PARAMS, globalBatch: 2048, base, space, top: 5 });
    expect(out.evaluated).toBeGreaterThan(1000);
    expect(out.elapsedMs).toBeLessThan(5000);
    expect(out.best.length).toBeGreaterThan(0);
    for (const r of out.best) expect(r.estimate.memory.fits).toBe(true);
    for (let i = 1; i < out.best.length; i++) expect(out.best[i]!.estimate.stepSeconds).toBeGreaterThanOrEqual(out.best[i - 1]!.estimate.stepSeconds);
    const t: ResolvedTraining = out.best[0]!.training;
    expect(t.tp * t.pp * t.cp * t.dp).toBe(4096);
  });
});

describe('input spellings', () => {
  it('accepts the spellings sources use for recompute, precision, attention and architecture', async () => {
    const { TrainingSpec, ModelSpec } = await import('../src/estimate/inputs.js');
    const t = TrainingSpec.parse({ globalBatchSequences: 8, recompute: 'uniform', precision: 'bfloat16', attention: 'FlashAttention-2' });
    expect([t.recompute, t.precision, t.attention]).toEqual(['full', 'bf16', 'flash']);
    expect(TrainingSpec.parse({ globalBatchSequences: 8, recompute: false, attention: 'unfused' })).toMatchObject({ recompute: 'none', attention: 'unfused' });
    expect(ModelSpec.parse({ arch: 'Llama-3', layers: 1, hidden: 8, heads: 1, vocab: 8, seqLength: 8 }).arch).toBe('llama');
    expect(TrainingSpec.safeParse({ globalBatchSequences: 8, recompute: 'sometimes' }).success).toBe(false);
  });

  it('fp8 speeds up the linear layers but not attention, and MFU stays against the 16-bit peak', () => {
    const spec: TrainingSpec = { globalBatchSequences: 512, microBatch: 1, tp: 8, pp: 4, virtualStages: 5, recompute: 'none', sequenceParallel: true, distributedOptimizer: true };
    const bf16 = run(llama70, { ...spec, precision: 'bf16' }, 1024).est;
    const fp8 = run(llama70, { ...spec, precision: 'fp8' }, 1024).est;
    expect(fp8.stepSeconds).toBeLessThan(bf16.stepSeconds);
    expect(fp8.stepSeconds).toBeGreaterThan(bf16.stepSeconds / 2);
    expect(fp8.breakdown.attention).toBeCloseTo(bf16.breakdown.attention, 9);
    expect(fp8.peak16Tflops).toBe(989.4);
  });
});
