/**
 * Sliding-window attention (GPT-OSS, Mistral 7B v0.1): the windowed layers attend to their
 * window, not the whole prefix; the estimate's attention time and FLOPs follow.
 */
import { describe, expect, it } from 'vitest';
import { findGpu, loadGpuCatalog } from '../src/estimate/catalog.js';
import { attentionGroups, forwardFlopsPerSequence, resolveModel, type ResolvedModel } from '../src/estimate/flops.js';
import type { ModelSpec, TrainingSpec } from '../src/estimate/inputs.js';
import { DEFAULT_PARAMS } from '../src/estimate/params.js';
import { resolveFabric, resolveTraining } from '../src/estimate/resolve.js';
import { estimateStep } from '../src/estimate/step.js';

const h100 = findGpu(loadGpuCatalog(), 'H100-SXM5-80GB');
const fabric = resolveFabric(h100, 8, {}, DEFAULT_PARAMS, []);

/** GPT-OSS-120B shapes (config.json): 36 layers, hidden 2880, 64 heads of 64, 8 KV heads; 128 experts, top-4. */
const gptOss: ModelSpec = {
  arch: 'llama', layers: 36, hidden: 2880, heads: 64, headDim: 64, kvHeads: 8, ffnHidden: 2880, vocab: 201088, seqLength: 4096,
  moe: { experts: 128, topK: 4, expertFfnHidden: 2880, sharedExperts: 0, denseLayers: 0, capacityFactor: 1 },
};
const spec: TrainingSpec = { globalBatchSequences: 1280, microBatch: 1, tp: 1, pp: 4, dp: 16, ep: 8, expertTp: 1, virtualStages: 1, precision: 'bf16', attention: 'flash', recompute: 'none' };

function step(m: ResolvedModel, s: TrainingSpec = spec) {
  const training = resolveTraining(s, 64, h100, m.heads, m.layers, [], 'training', false, m.moe?.experts);
  return estimateStep({ model: m, training, gpu: h100, gpus: 64, fabric, params: DEFAULT_PARAMS, measuredGemms: [] });
}
const windowed = (window: number, layers: number) => resolveModel({ ...gptOss, slidingWindow: { window, layers } });

describe('sliding-window attention', () => {
  it('counts a windowed layer at twice the keys it attends to on average, as causal layers are counted', () => {
    // GPT-OSS: 18 of 36 layers at a 128-token window; query i attends to min(i, 128) keys.
    expect(attentionGroups(windowed(128, 18))).toEqual([{ layers: 18, keys: 4096 }, { layers: 18, keys: 2 * 128 - (128 * 128) / 4096 }]);
    // Under causal counting (half the counted keys) a windowed layer's keys are those attended.
    const causalNone = forwardFlopsPerSequence(resolveModel(gptOss), 'causal').attention;
    const causalAll = forwardFlopsPerSequence(windowed(128, 36), 'causal').attention;
    expect(causalAll / causalNone).toBeCloseTo((128 - (128 * 128) / (2 * 4096)) / (4096 / 2), 10);
  });

  it('a window as long as the sequence is plain causal attention', () => {
    const plain = step(resolveModel(gptOss));
    const full = step(windowed(4096, 36));
    expect(full.stepSeconds).toBeCloseTo(plain.stepSeconds, 12);
    expect(full.flops.model).toBeCloseTo(plain.flops.model, 0);
  });

  it('a smaller window or more windowed layers: less attention time and fewer FLOPs, the rest unchanged', () => {
    let prev = step(resolveModel(gptOss));
    for (const w of [2048, 512, 128]) {
      const cur = step(windowed(w, 18));
      expect(cur.breakdown.attention, `window ${w}`).toBeLessThan(prev.breakdown.attention);
      expect(cur.flops.model, `window ${w}`).toBeLessThan(prev.flops.model);
      expect(cur.breakdown.gemm, `window ${w}`).toBeCloseTo(prev.breakdown.gemm, 9);
      expect(cur.memory.totalGB, `window ${w}`).toBeCloseTo(prev.memory.totalGB, 9); // flash keeps no scores
      prev = cur;
    }
    expect(step(windowed(128, 36)).breakdown.attention).toBeLessThan(step(windowed(128, 18)).breakdown.attention);
    // Half the layers at a 128 window: attention a little over half of all-causal.
    const ratio = step(windowed(128, 18)).breakdown.attention / step(resolveModel(gptOss)).breakdown.attention;
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(0.55);
  });

  it('unfused attention keeps s×keys scores: a window shrinks its activation memory', () => {
    const unfused: TrainingSpec = { ...spec, attention: 'unfused' };
    expect(step(windowed(128, 36), unfused).memory.activationsGB).toBeLessThan(step(resolveModel(gptOss), unfused).memory.activationsGB);
  });
});
