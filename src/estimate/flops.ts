/**
 * FLOP counting from GEMM shapes. Conventions (as Megatron-LM and PaLM count them):
 * GEMMs only, 2·m·n·k per GEMM, the attention score and context products counted for
 * the full s×s matrix (no causal halving), the backward pass twice the forward.
 * Model FLOPs (MFU) = fwd + bwd; hardware FLOPs (HFU) add what recomputation runs again.
 */
import type { MlaSpec, ModelSpec, RecomputeMode, RecomputeModule } from './inputs.js';

/** A model with every optional shape field resolved. */
export interface ResolvedModel {
  arch: 'gpt' | 'llama';
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffnHidden: number;
  vocab: number;
  seqLength: number;
  /** Per-head dimension: `hidden/heads` unless the model gives `headDim` (Qwen3, GPT-OSS). */
  headDim: number;
  /** Query width, heads · headDim (= hidden for most models). */
  qDim: number;
  /** FFN input projections: 1 for GeLU (gpt), 2 for SwiGLU (llama: gate and up). */
  ffnInputs: number;
  /** Mixture of experts, when the model has one. */
  moe?: ResolvedMoe;
  /** Multi-head latent attention, when the model has it (headDim is then its v width). */
  mla?: MlaSpec;
  /** Layers with sliding-window attention and their window (at most seqLength), when any. */
  slidingWindow?: { window: number; layers: number };
}

/**
 * The attention layers by the keys they are counted with. Causal layers: `seqLength`, as the
 * s×s convention counts them (a causal kernel runs half: query i attends to i keys). Sliding-
 * window layers: query i attends to min(i, w) keys, on average w − w²/2s, counted the same way
 * at twice that, 2w − w²/s (= s when the window spans the sequence), so that flash's causal
 * halving and `counting: causal` give the keys actually attended for both kinds.
 */
export function attentionGroups(m: ResolvedModel): { layers: number; keys: number }[] {
  const w = m.slidingWindow;
  const s = m.seqLength;
  if (!w || w.layers === 0) return [{ layers: m.layers, keys: s }];
  const out = [{ layers: w.layers, keys: 2 * w.window - (w.window * w.window) / s }];
  if (w.layers < m.layers) out.unshift({ layers: m.layers - w.layers, keys: s });
  return out;
}

/** The keys a layer is counted with (`attentionGroups`), averaged over the layers. */
export function meanAttentionKeys(m: ResolvedModel): number {
  return attentionGroups(m).reduce((sum, g) => sum + (g.layers / m.layers) * g.keys, 0);
}

/** A mixture-of-experts FFN with every field decided. */
export interface ResolvedMoe {
  experts: number;
  topK: number;
  expertFfnHidden: number;
  sharedExperts: number;
  /** Leading layers with a dense FFN; the other `layers − denseLayers` are MoE layers. */
  denseLayers: number;
  capacityFactor: number;
  /** Node-limited routing: at most this many nodes per token (undefined: no limit). */
  maxNodesPerToken?: number;
}

/** Fills in kvHeads (= heads) and ffnHidden (4h for gpt; Llama's 2/3·4h rounded to 256). */
export function resolveModel(m: ModelSpec): ResolvedModel {
  const arch = m.arch ?? 'gpt';
  const ffnDefault = arch === 'llama' ? Math.ceil(((8 / 3) * m.hidden) / 256) * 256 : 4 * m.hidden;
  return {
    arch,
    layers: m.layers,
    hidden: m.hidden,
    heads: m.heads,
    kvHeads: m.kvHeads ?? m.heads,
    ffnHidden: m.ffnHidden ?? ffnDefault,
    vocab: m.vocab,
    seqLength: m.seqLength,
    headDim: m.mla ? m.mla.vHeadDim : (m.headDim ?? m.hidden / m.heads),
    qDim: m.heads * (m.mla ? m.mla.qkNopeHeadDim + m.mla.qkRopeHeadDim : (m.headDim ?? m.hidden / m.heads)),
    ...(m.mla && { mla: m.mla }),
    ...(m.slidingWindow && { slidingWindow: { window: Math.min(m.slidingWindow.window, m.seqLength), layers: Math.min(m.slidingWindow.layers, m.layers) } }),
    ffnInputs: arch === 'llama' ? 2 : 1,
    ...(m.moe && {
      moe: {
        experts: m.moe.experts,
        topK: Math.min(m.moe.topK, m.moe.experts),
        expertFfnHidden: m.moe.expertFfnHidden ?? m.ffnHidden ?? ffnDefault,
        sharedExperts: m.moe.sharedExperts ?? 0,
        denseLayers: Math.min(m.moe.denseLayers ?? 0, m.layers),
        capacityFactor: m.moe.capacityFactor ?? 1,
        ...(m.moe.maxNodesPerToken !== undefined && { maxNodesPerToken: m.moe.maxNodesPerToken }),
      },
    }),
  };
}

/** Layers with a dense FFN and layers with experts. */
export function layerMix(m: ResolvedModel): { dense: number; moe: number } {
  if (!m.moe) return { dense: m.layers, moe: 0 };
  return { dense: m.moe.denseLayers, moe: m.layers - m.moe.denseLayers };
}

/** One GEMM as a GPU runs it: `batch` independent m×k · k×n products. */
export interface Gemm {
  name: string;
  m: number;
  n: number;
  k: number;
  batch: number;
  /** True for the attention score/context products (flash-attention candidates). */
  attention: boolean;
  /** True for routed-expert GEMMs (run as grouped GEMMs). */
  expert?: boolean;
}

/** FLOPs of one GEMM call: 2·m·n·k·batch. */
export function gemmFlops(g: Gemm): number {
  return 2 * g.m * g.n * g.k * g.batch;
}

/**
 * The forward GEMMs of one transformer layer for one micro-batch on one GPU, under
 * tensor parallelism `tp` and context parallelism `cp` (each GPU holds s/cp tokens of
 * every sequence and attends them against all s keys).
 */
export function layerGemms(m: ResolvedModel, microBatch: number, tp = 1, cp = 1, keys = m.seqLength): Gemm[] {
  const tokens = (microBatch * m.seqLength) / cp;
  const h = m.hidden;
  const kvDim = m.kvHeads * m.headDim;
  const headsPerGpu = m.heads / tp;
  if (m.mla) return [...mlaGemms(m, m.mla, tokens, microBatch, tp, cp, keys), ...ffnGemms(m, tokens, tp)];
  return [
    { name: 'qkv', m: tokens, n: (m.qDim + 2 * kvDim) / tp, k: h, batch: 1, attention: false },
    { name: 'scores', m: m.seqLength / cp, n: keys, k: m.headDim, batch: microBatch * headsPerGpu, attention: true },
    { name: 'context', m: m.seqLength / cp, n: m.headDim, k: keys, batch: microBatch * headsPerGpu, attention: true },
    { name: 'proj', m: tokens, n: h, k: m.qDim / tp, batch: 1, attention: false },
    { name: 'ffn-in', m: tokens, n: (m.ffnInputs * m.ffnHidden) / tp, k: h, batch: 1, attention: false },
    { name: 'ffn-out', m: tokens, n: h, k: m.ffnHidden / tp, batch: 1, attention: false },
  ];
}

/**
 * Multi-head latent attention's GEMMs (DeepSeek-V2 Sec. 2.1): the down-projections to the
 * query and key/value latents (not split by tp), the up-projections to the heads, the
 * scores over qkNope + qkRope dims, the context over vDim, and the output projection.
 */
function mlaGemms(m: ResolvedModel, a: MlaSpec, tokens: number, microBatch: number, tp: number, cp: number, keys: number): Gemm[] {
  const h = m.hidden;
  const heads = m.heads / tp;
  const qk = a.qkNopeHeadDim + a.qkRopeHeadDim;
  return [
    { name: 'q-down', m: tokens, n: a.qLoraRank, k: h, batch: 1, attention: false },
    { name: 'q-up', m: tokens, n: heads * qk, k: a.qLoraRank, batch: 1, attention: false },
    { name: 'kv-down', m: tokens, n: a.kvLoraRank + a.qkRopeHeadDim, k: h, batch: 1, attention: false },
    { name: 'kv-up', m: tokens, n: heads * (a.qkNopeHeadDim + a.vHeadDim), k: a.kvLoraRank, batch: 1, attention: false },
    { name: 'scores', m: m.seqLength / cp, n: keys, k: qk, batch: microBatch * heads, attention: true },
    { name: 'context', m: m.seqLength / cp, n: a.vHeadDim, k: keys, batch: microBatch * heads, attention: true },
    { name: 'proj', m: tokens, n: h, k: heads * a.vHeadDim, batch: 1, attention: false },
  ];
}

/** The dense FFN's two GEMMs of one layer. */
function ffnGemms(m: ResolvedModel, tokens: number, tp: number): Gemm[] {
  return [
    { name: 'ffn-in', m: tokens, n: (m.ffnInputs * m.ffnHidden) / tp, k: m.hidden, batch: 1, attention: false },
    { name: 'ffn-out', m: tokens, n: m.hidden, k: m.ffnHidden / tp, batch: 1, attention: false },
  ];
}

/**
 * The forward GEMMs of one MoE layer for one micro-batch on one GPU: attention as in
 * `layerGemms`, the router, shared experts on every token, and the routed experts as a
 * grouped GEMM over the E/ep local experts. The ep·etp ranks of an expert group each
 * dispatch their T/tp tokens (sequence parallel), so on balanced routing each expert gets
 * (T/tp)·ep·etp·topK·cf/E tokens (T·ep·topK·cf/E when etp = tp), and each of its etp
 * ranks runs 1/etp of its width. `etp` defaults to tp (experts tensor-parallel like the
 * dense FFN).
 */
export function moeLayerGemms(m: ResolvedModel, microBatch: number, tp = 1, cp = 1, ep = 1, capacityFactor = m.moe?.capacityFactor ?? 1, etp = tp): Gemm[] {
  const moe = m.moe;
  if (!moe) return layerGemms(m, microBatch, tp, cp);
  const tokens = (microBatch * m.seqLength) / cp;
  const h = m.hidden;
  const fe = moe.expertFfnHidden;
  const attn = layerGemms(m, microBatch, tp, cp).filter((g) => !g.name.startsWith('ffn'));
  const local = moe.experts / ep;
  const perExpert = ((tokens / tp) * ep * etp * moe.topK * capacityFactor) / moe.experts;
  const out: Gemm[] = [...attn, { name: 'router', m: tokens, n: moe.experts, k: h, batch: 1, attention: false }];
  if (moe.sharedExperts > 0) {
    out.push(
      { name: 'shared-in', m: tokens, n: (m.ffnInputs * moe.sharedExperts * fe) / tp, k: h, batch: 1, attention: false },
      { name: 'shared-out', m: tokens, n: h, k: (moe.sharedExperts * fe) / tp, batch: 1, attention: false },
    );
  }
  out.push(
    { name: 'expert-in', m: perExpert, n: (m.ffnInputs * fe) / etp, k: h, batch: local, attention: false, expert: true },
    { name: 'expert-out', m: perExpert, n: h, k: fe / etp, batch: local, attention: false, expert: true },
  );
  return out;
}

/** The forward logit GEMM (vocabulary-parallel over tp) for one micro-batch. */
export function logitGemm(m: ResolvedModel, microBatch: number, tp = 1, cp = 1): Gemm {
  return { name: 'logits', m: (microBatch * m.seqLength) / cp, n: m.vocab / tp, k: m.hidden, batch: 1, attention: false };
}

/** How attention FLOPs are counted: the full s×s matrix (Megatron, PaLM) or half (causal). */
export type AttentionCounting = 'full' | 'causal';

/** Forward FLOPs of one sequence through the whole model: layers and logits apart. */
export function forwardFlopsPerSequence(m: ResolvedModel, counting: AttentionCounting = 'full'): { layer: number; attention: number; logits: number } {
  const gs = layerGemms(m, 1, 1, 1);
  // Per layer, averaged over the causal and the sliding-window layers.
  const att = attentionGroups(m).reduce((sum, grp) => {
    const f = layerGemms(m, 1, 1, 1, grp.keys).filter((g) => g.attention).reduce((a, g) => a + gemmFlops(g), 0);
    return sum + (grp.layers / m.layers) * f * (counting === 'causal' ? 0.5 : 1);
  }, 0);
  let lin = gs.filter((g) => !g.attention).reduce((a, g) => a + gemmFlops(g), 0);
  if (m.moe) {
    // Active FLOPs: top-k experts per token, no capacity padding (that is wasted work, not model FLOPs).
    const moeLin = moeLayerGemms(m, 1, 1, 1, 1, 1).filter((g) => !g.attention).reduce((a, g) => a + gemmFlops(g), 0);
    const mix = layerMix(m);
    lin = (mix.dense * lin + mix.moe * moeLin) / m.layers;
  }
  return { layer: lin + att, attention: att, logits: gemmFlops(logitGemm(m, 1)) };
}

/** FLOPs of one training step on the model (MFU) and hardware (HFU) bases. */
export interface StepFlops {
  /** fwd + bwd: 3× the forward (the MFU convention). */
  model: number;
  /** model + recomputation: full adds a forward of every layer, selective the attention core. */
  hardware: number;
}

/**
 * Step FLOPs for `globalBatch` sequences under a recompute mode; selective recompute adds
 * the GEMMs of the modules it runs again (default the attention core).
 */
export function stepFlops(m: ResolvedModel, globalBatch: number, recompute: RecomputeMode, counting: AttentionCounting = 'full', modules: readonly RecomputeModule[] = ['core_attn']): StepFlops {
  const f = forwardFlopsPerSequence(m, counting);
  const model = 3 * (m.layers * f.layer + f.logits) * globalBatch;
  const extra = recompute === 'full' ? m.layers * f.layer : recompute === 'selective' ? recomputedFlopsPerSequence(m, modules, f.attention) : 0;
  return { model, hardware: model + extra * globalBatch };
}

/** Forward GEMM FLOPs of one sequence that selective recompute runs again, over all layers. */
function recomputedFlopsPerSequence(m: ResolvedModel, modules: readonly RecomputeModule[], attentionPerLayer: number): number {
  const on = new Set(modules);
  const sum = (gs: Gemm[], pick: (g: Gemm) => boolean) => gs.filter(pick).reduce((a, g) => a + gemmFlops(g), 0);
  const dense = layerGemms(m, 1, 1, 1);
  const mix = layerMix(m);
  let flops = m.layers * ((on.has('core_attn') ? attentionPerLayer : 0) + (on.has('mla_up_proj') ? sum(dense, (g) => g.name === 'q-up' || g.name === 'kv-up') : 0));
  if (on.has('mlp')) flops += mix.dense * sum(dense, (g) => g.name.startsWith('ffn'));
  if (m.moe && mix.moe) {
    // Active FLOPs (no capacity padding), as the model FLOPs count them.
    const moe = moeLayerGemms(m, 1, 1, 1, 1, 1);
    const moeLinear = (g: Gemm) => g.name === 'router' || g.name.startsWith('shared') || g.name.startsWith('expert');
    if (on.has('moe')) flops += mix.moe * sum(moe, moeLinear);
    else if (on.has('shared_experts')) flops += mix.moe * sum(moe, (g) => g.name.startsWith('shared'));
  }
  return flops;
}

/** Narayanan et al. 2021, Eq. 3: hardware FLOPs per iteration with full recompute. */
export function megatronEq3(B: number, s: number, l: number, h: number, V: number): number {
  return 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h));
}

/** The MFU counterpart of Eq. 3 (no recompute): 72·B·s·l·h²·(1 + s/6h + V/12lh). */
export function megatronModelFlops(B: number, s: number, l: number, h: number, V: number): number {
  return 72 * B * s * l * h * h * (1 + s / (6 * h) + V / (12 * l * h));
}

/** Parameters of the model from its shapes (weights only; biases and norms ignored). */
export function parameterCount(m: ResolvedModel): ParameterCount {
  const h = m.hidden;
  const kvDim = m.kvHeads * m.headDim;
  const a = m.mla;
  const attn = a
    ? h * a.qLoraRank + a.qLoraRank * m.heads * (a.qkNopeHeadDim + a.qkRopeHeadDim) + h * (a.kvLoraRank + a.qkRopeHeadDim) +
      a.kvLoraRank * m.heads * (a.qkNopeHeadDim + a.vHeadDim) + m.heads * a.vHeadDim * h
    : h * (m.qDim + 2 * kvDim) + m.qDim * h;
  const denseLayer = attn + (m.ffnInputs + 1) * h * m.ffnHidden;
  const embedding = m.vocab * h;
  if (!m.moe) return { layer: denseLayer, nonExpertLayer: denseLayer, expertLayer: 0, embedding, total: m.layers * denseLayer + embedding, active: m.layers * denseLayer + embedding };
  const mix = layerMix(m);
  const one = (m.ffnInputs + 1) * h * m.moe.expertFfnHidden;
  const moeNonExpert = attn + h * m.moe.experts + m.moe.sharedExperts * one;
  const nonExpertLayer = (mix.dense * denseLayer + mix.moe * moeNonExpert) / m.layers;
  const expertLayer = (mix.moe * m.moe.experts * one) / m.layers;
  const layer = nonExpertLayer + expertLayer;
  return {
    layer,
    nonExpertLayer,
    expertLayer,
    embedding,
    total: m.layers * layer + embedding,
    active: m.layers * nonExpertLayer + mix.moe * m.moe.topK * one + embedding,
  };
}

/** Parameter counts; per-layer figures are averages over the layers (dense and MoE layers differ). */
export interface ParameterCount {
  /** All parameters of an average layer. */
  layer: number;
  /** Of which not in routed experts (attention, router, shared experts, dense FFNs). */
  nonExpertLayer: number;
  /** Of which in routed experts. */
  expertLayer: number;
  embedding: number;
  total: number;
  /** Parameters one token goes through (6·N_active·tokens ≈ the model FLOPs). */
  active: number;
}
