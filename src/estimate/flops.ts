/**
 * FLOP counting from GEMM shapes. Conventions (as Megatron-LM and PaLM count them):
 * GEMMs only, 2·m·n·k per GEMM, the attention score and context products counted for
 * the full s×s matrix (no causal halving), the backward pass twice the forward.
 * Model FLOPs (MFU) = fwd + bwd; hardware FLOPs (HFU) add what recomputation runs again.
 */
import type { ModelSpec, RecomputeMode } from './inputs.js';

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
  headDim: number;
  /** FFN input projections: 1 for GeLU (gpt), 2 for SwiGLU (llama: gate and up). */
  ffnInputs: number;
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
    headDim: m.hidden / m.heads,
    ffnInputs: arch === 'llama' ? 2 : 1,
  };
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
export function layerGemms(m: ResolvedModel, microBatch: number, tp = 1, cp = 1): Gemm[] {
  const tokens = (microBatch * m.seqLength) / cp;
  const h = m.hidden;
  const kvDim = m.kvHeads * m.headDim;
  const headsPerGpu = m.heads / tp;
  return [
    { name: 'qkv', m: tokens, n: (h + 2 * kvDim) / tp, k: h, batch: 1, attention: false },
    { name: 'scores', m: m.seqLength / cp, n: m.seqLength, k: m.headDim, batch: microBatch * headsPerGpu, attention: true },
    { name: 'context', m: m.seqLength / cp, n: m.headDim, k: m.seqLength, batch: microBatch * headsPerGpu, attention: true },
    { name: 'proj', m: tokens, n: h, k: h / tp, batch: 1, attention: false },
    { name: 'ffn-in', m: tokens, n: (m.ffnInputs * m.ffnHidden) / tp, k: h, batch: 1, attention: false },
    { name: 'ffn-out', m: tokens, n: h, k: m.ffnHidden / tp, batch: 1, attention: false },
  ];
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
  const att = gs.filter((g) => g.attention).reduce((a, g) => a + gemmFlops(g), 0) * (counting === 'causal' ? 0.5 : 1);
  const lin = gs.filter((g) => !g.attention).reduce((a, g) => a + gemmFlops(g), 0);
  return { layer: lin + att, attention: att, logits: gemmFlops(logitGemm(m, 1)) };
}

/** FLOPs of one training step on the model (MFU) and hardware (HFU) bases. */
export interface StepFlops {
  /** fwd + bwd: 3× the forward (the MFU convention). */
  model: number;
  /** model + recomputation: full adds a forward of every layer, selective the attention core. */
  hardware: number;
}

/** Step FLOPs for `globalBatch` sequences under a recompute mode. */
export function stepFlops(m: ResolvedModel, globalBatch: number, recompute: RecomputeMode, counting: AttentionCounting = 'full'): StepFlops {
  const f = forwardFlopsPerSequence(m, counting);
  const model = 3 * (m.layers * f.layer + f.logits) * globalBatch;
  const extra = recompute === 'full' ? m.layers * f.layer : recompute === 'selective' ? m.layers * f.attention : 0;
  return { model, hardware: model + extra * globalBatch };
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
export function parameterCount(m: ResolvedModel): { layer: number; embedding: number; total: number } {
  const h = m.hidden;
  const kvDim = m.kvHeads * m.headDim;
  const layer = h * (h + 2 * kvDim) + h * h + (m.ffnInputs + 1) * h * m.ffnHidden;
  const embedding = m.vocab * h;
  return { layer, embedding, total: m.layers * layer + embedding };
}
