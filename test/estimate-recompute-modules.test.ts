/**
 * Selective recompute by module, as Megatron-Core's `recompute_modules`: each module given
 * takes its activations off the memory and puts its forward back into the step.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { findGpu, loadGpuCatalog } from '../src/estimate/catalog.js';
import { resolveModel, stepFlops, type ResolvedModel } from '../src/estimate/flops.js';
import type { ModelSpec, RecomputeModule, TrainingSpec } from '../src/estimate/inputs.js';
import { layerActivationBytes } from '../src/estimate/memory.js';
import { DEFAULT_PARAMS } from '../src/estimate/params.js';
import { resolveFabric, resolveTraining } from '../src/estimate/resolve.js';
import { estimateStep } from '../src/estimate/step.js';
import { UsageError } from '../src/harness/errors.js';
import { CLI, ROOT } from './helpers/cli.js';

const h100 = findGpu(loadGpuCatalog(), 'H100-SXM5-80GB');
const fabric = resolveFabric(h100, 8, {}, DEFAULT_PARAMS, []);

/** DeepSeek-V3 (technical report Sec. 4.2, config.json): MLA, 1 shared + 256 routed experts, 3 dense layers. */
const dsv3: ModelSpec = {
  arch: 'llama', layers: 61, hidden: 7168, heads: 128, kvHeads: 128, ffnHidden: 18432, vocab: 129280, seqLength: 4096,
  moe: { experts: 256, topK: 8, expertFfnHidden: 2048, sharedExperts: 1, denseLayers: 3, capacityFactor: 1 },
  mla: { qLoraRank: 1536, kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128 },
};
const base: TrainingSpec = { globalBatchSequences: 8192, microBatch: 1, tp: 2, pp: 8, dp: 64, ep: 64, expertTp: 1, virtualStages: 4, precision: 'fp8', attention: 'flash', distributedOptimizer: true };

function estimate(model: ResolvedModel, spec: TrainingSpec) {
  const training = resolveTraining(spec, 1024, h100, model.heads, model.layers, [], 'training', false, model.moe?.experts, model.mla !== undefined);
  return { training, est: estimateStep({ model, training, gpu: h100, gpus: 1024, fabric, params: DEFAULT_PARAMS, measuredGemms: [] }) };
}

describe('selective recompute by module', () => {
  const m = resolveModel(dsv3);
  const none = estimate(m, { ...base, recompute: 'none' });
  const withModules = (mods: RecomputeModule[]) => estimate(m, { ...base, recompute: 'selective', recomputeModules: mods as [RecomputeModule, ...RecomputeModule[]] });

  it('selective with no module list is the attention core alone, Megatron-Core\'s default', () => {
    const dflt = estimate(m, { ...base, recompute: 'selective' });
    expect(dflt.training.recomputeModules).toEqual(['core_attn']);
    expect(dflt.est.stepSeconds).toBe(withModules(['core_attn']).est.stepSeconds);
    expect(dflt.est.memory.activationsGB).toBe(withModules(['core_attn']).est.memory.activationsGB);
    // With flash attention the core keeps no s×s scores: the same memory as no recompute, and more time.
    expect(dflt.est.memory.activationsGB).toBe(none.est.memory.activationsGB);
    expect(dflt.est.stepSeconds).toBeGreaterThan(none.est.stepSeconds);
  });

  it('every module takes memory off and puts time on, and more modules more of both', () => {
    const mods: RecomputeModule[] = ['layernorm', 'mla_up_proj', 'mlp', 'moe_act', 'shared_experts', 'moe'];
    for (const mod of mods) {
      const one = withModules([mod]).est;
      expect(one.memory.activationsGB, mod).toBeLessThan(none.est.memory.activationsGB);
      expect(one.stepSeconds, mod).toBeGreaterThan(none.est.stepSeconds);
      expect(one.breakdown.recompute, mod).toBeGreaterThan(0);
    }
    let prev = none.est;
    for (let i = 1; i <= mods.length; i++) {
      const cur = withModules(mods.slice(0, i)).est;
      expect(cur.memory.activationsGB, mods.slice(0, i).join('+')).toBeLessThanOrEqual(prev.memory.activationsGB);
      expect(cur.stepSeconds, mods.slice(0, i).join('+')).toBeGreaterThanOrEqual(prev.stepSeconds);
      prev = cur;
    }
    // Recomputing the whole MoE layer costs more than its activation alone, and saves more.
    expect(withModules(['moe']).est.stepSeconds).toBeGreaterThan(withModules(['moe_act']).est.stepSeconds);
    expect(withModules(['moe']).est.memory.activationsGB).toBeLessThan(withModules(['moe_act']).est.memory.activationsGB);
  });

  it('the MLA up-projections keep the latents instead of the per-head Q, K and V', () => {
    const L = { ...estimate(m, { ...base, recompute: 'none' }).training, gradBytes: 4 };
    const kept = layerActivationBytes(m, L);
    const upRecomputed = layerActivationBytes(m, { ...L, recompute: 'selective', recomputeModules: ['mla_up_proj'] });
    // Per token: 2 bytes each of Q (128 heads · 192) and K, V (counted at 128 · 128 each) go, the
    // latents (1536 + 512 + 64) stay; sharded by tp 2 under sequence parallelism.
    const tokens = 4096;
    const dropped = (2 * 128 * 192 + 4 * 128 * 128 - 2 * (1536 + 512 + 64)) * tokens / 2;
    expect(kept - upRecomputed).toBeCloseTo(dropped, -3);
  });

  it('hardware FLOPs count the recomputed GEMMs; model FLOPs do not', () => {
    const f0 = stepFlops(m, 8192, 'none');
    const fUp = stepFlops(m, 8192, 'selective', 'full', ['mla_up_proj']);
    const fMoe = stepFlops(m, 8192, 'selective', 'full', ['moe']);
    expect(fUp.model).toBe(f0.model);
    expect(fUp.hardware).toBeGreaterThan(f0.hardware);
    expect(fMoe.hardware).toBeGreaterThan(fUp.hardware);
    // The MLA up-projections: tokens · (1536·128·192 + 512·128·256) · 2 FLOPs a layer.
    expect(fUp.hardware - f0.hardware).toBeCloseTo(8192 * 4096 * 61 * 2 * (1536 * 128 * 192 + 512 * 128 * 256), -12);
  });

  it('refuses modules the model has not, and modules with a mode other than selective', () => {
    const dense = resolveModel({ arch: 'llama', layers: 32, hidden: 4096, heads: 32, vocab: 32000, seqLength: 4096 });
    const bad = (model: ResolvedModel, spec: TrainingSpec, gpus = 64) => () => resolveTraining(spec, gpus, h100, model.heads, model.layers, [], 'training', false, model.moe?.experts, model.mla !== undefined);
    expect(bad(dense, { globalBatchSequences: 64, recomputeModules: ['mla_up_proj'] })).toThrow(/mla_up_proj but the model has no MLA/);
    expect(bad(dense, { globalBatchSequences: 64, recomputeModules: ['moe_act'] })).toThrow(/moe_act but the model has no experts/);
    expect(bad(m, { ...base, recompute: 'full', recomputeModules: ['layernorm'] }, 1024)).toThrow(UsageError);
    expect(bad(m, { ...base, recompute: 'full', recomputeModules: ['layernorm'] }, 1024)).toThrow(/recompute is full/);
  });

  it('from the CLI: --recompute-modules sets them; an unknown module exits 2 naming the flag', () => {
    // Megatron-Bridge's H100 DeepSeek-V3 layout and recompute (the preset itself recomputes in full).
    const args = ['estimate', '--model', 'deepseek-v3', '--gpus', '1024', '--tp', '2', '--pp', '8', '--virtual-stages', '4', '--ep', '64', '--global-batch', '8192'];
    const ok = spawnSync(process.execPath, [CLI, ...args, '--recompute-modules', 'mla_up_proj,mlp', '--json', '-', '-q'], { cwd: ROOT, encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    const doc = JSON.parse(ok.stdout);
    expect(doc.inputs.training.recompute).toBe('selective');
    expect(doc.inputs.training.recomputeModules).toEqual(['mla_up_proj', 'mlp']);
    const table = spawnSync(process.execPath, [CLI, ...args, '--recompute-modules', 'mla_up_proj,mlp'], { cwd: ROOT, encoding: 'utf8' });
    expect(table.stdout).toMatch(/recompute selective \(mla_up_proj, mlp\)/);
    const bad = spawnSync(process.execPath, [CLI, 'estimate', '--model', 'deepseek-v3', '--recompute-modules', 'mla_up_proj,attention'], { cwd: ROOT, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--recompute-modules.*"attention" is not allowed/);
  });
});
