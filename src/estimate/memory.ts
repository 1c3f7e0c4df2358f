/**
 * Memory per GPU: weights, gradients, optimizer state (mixed-precision Adam) and
 * activations (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
 * Transformer Models", Sec. 4), for the most loaded pipeline stage.
 */
import type { ResolvedModel } from './flops.js';
import { layerMix, meanAttentionKeys, parameterCount } from './flops.js';
import type { ResolvedTraining } from './resolve.js';

/** The layout facts memory depends on: the resolved training layout, plus the gradient width. */
export type MemoryLayout = Pick<
  ResolvedTraining,
  'microBatch' | 'tp' | 'pp' | 'dp' | 'cp' | 'virtualStages' | 'microBatches' | 'recompute' | 'sequenceParallel' | 'attention' | 'distributedOptimizer'
> & Partial<Pick<ResolvedTraining, 'fsdp' | 'fsdpShard' | 'ep' | 'etp' | 'recomputeModules'>> & {
  /** Bytes per main gradient element (4 when gradients accumulate in fp32). */
  gradBytes: number;
};

export interface MemoryBreakdown {
  /** Parameters held by the GPU (most loaded stage). */
  params: number;
  weightsGB: number;
  gradientsGB: number;
  optimizerGB: number;
  activationsGB: number;
  /** CUDA context, NCCL buffers, cuBLAS workspace, allocator fragmentation. */
  reserveGB: number;
  totalGB: number;
  capacityGB: number;
  fits: boolean;
}

/** Reserve for what is not tensors, GB. */
export const MEMORY_RESERVE_GB = 3;

/** Activation bytes of one layer for one micro-batch (Korthikanti Table 2, generalised to GQA/SwiGLU and CP). */
export function layerActivationBytes(m: ResolvedModel, L: MemoryLayout): number {
  const s = m.seqLength / L.cp;
  const b = L.microBatch;
  const h = m.hidden;
  const t = L.tp;
  const a = m.heads;
  const kvFrac = (m.kvHeads * m.headDim) / h;
  const qFrac = m.qDim / h;
  // Per token, in units of h bytes (Korthikanti Sec. 4.1): attention block = QKV input 2,
  // Q 2, K and V 4·kvFrac, projection input 2, dropout mask 1 (= 11 for MHA); MLP = input 2,
  // activation input and output 4f/h, mask 1 (= 19 for f = 4h; SwiGLU keeps gate, up and
  // product: 6f/h, no dropout); two norm inputs 4.
  // Selective recompute (Megatron-Core's modules) keeps a module's input and drops what it
  // makes inside; without `selective` nothing is dropped but the scores under `full` below.
  const rc = new Set(L.recompute === 'selective' ? (L.recomputeModules ?? ['core_attn']) : []);
  // The two norms' outputs are the QKV and MLP inputs: `layernorm` recomputes them from the norm inputs.
  const normOut = rc.has('layernorm') ? 0 : 2;
  // MLA keeps its query and key/value latents (and the RoPE key) for the up-projections;
  // `mla_up_proj` recomputes the up-projected Q, K and V from them.
  const mla = m.mla;
  const qkv = mla && rc.has('mla_up_proj') ? (2 * (mla.qLoraRank + mla.kvLoraRank + mla.qkRopeHeadDim)) / h : 2 * qFrac + 4 * kvFrac;
  const attnLinear = normOut + qkv + 2 * qFrac + 1;
  // SwiGLU keeps gate and up (4f/h) and their product (2f/h); GeLU its input and output, and
  // the block's dropout mask.
  const actOf = (f: number, product: boolean, mask = true) => (m.arch === 'llama' ? (4 * f) / h + (product ? (2 * f) / h : 0) : (4 * f) / h + (mask ? 1 : 0));
  const denseMlp = rc.has('mlp') ? normOut : normOut + actOf(m.ffnHidden, true);
  let mlp = denseMlp;
  if (m.moe) {
    // MoE layer: expert activations on topK·cf token copies plus shared experts on every
    // token, and the permuted (dispatched) inputs kept for backward: 2·topK·cf. `moe` keeps
    // the layer's input only; `moe_act` drops the experts' SwiGLU product; `shared_experts`
    // the shared experts' activations.
    const moe = m.moe;
    const copies = moe.topK * moe.capacityFactor;
    const experts = actOf(moe.expertFfnHidden * copies, !rc.has('moe_act')) + 2 * copies;
    const shared = rc.has('shared_experts') ? 0 : actOf(moe.expertFfnHidden * moe.sharedExperts, true, false);
    const moeMlp = rc.has('moe') ? normOut : normOut + experts + (moe.sharedExperts > 0 ? shared : 0);
    const mix = layerMix(m);
    mlp = (mix.dense * denseMlp + mix.moe * moeMlp) / m.layers;
  }
  const norms = 4;
  // s×keys scores, softmax, dropout mask (keys averaged over causal and sliding-window layers).
  const scores = L.attention === 'flash' ? 0 : (5 * a * meanAttentionKeys(m)) / h;
  const sbh = s * b * h;
  if (L.recompute === 'full') return (2 * sbh) / (L.sequenceParallel ? t : 1);
  // Korthikanti: 34·sbh per layer for GPT, of which 10·sbh (norm inputs and outputs, dropout
  // masks) is replicated across TP ranks unless sequence parallelism shards it; 6 when the
  // norms' outputs are recomputed.
  const total = attnLinear + mlp + norms;
  const replicated = 6 + 2 * normOut;
  const linear = L.sequenceParallel ? total / t : replicated + (total - replicated) / t;
  const kept = rc.has('core_attn') ? 0 : scores / t;
  return sbh * (linear + kept);
}

/**
 * Parameters one GPU of the most loaded stage holds before any data-parallel sharding:
 * non-expert parameters split by tp, routed experts split by etp (default tp) and ep.
 */
export function stageParameters(m: ResolvedModel, L: Pick<MemoryLayout, 'tp' | 'pp'> & { ep?: number; etp?: number }): { dense: number; expert: number } {
  const pc = parameterCount(m);
  const layers = Math.ceil(m.layers / L.pp);
  return { dense: (layers * pc.nonExpertLayer + pc.embedding) / L.tp, expert: (layers * pc.expertLayer) / ((L.etp ?? L.tp) * (L.ep ?? 1)) };
}

/** Memory per GPU on the most loaded stage (the first: it holds the most micro-batches in flight). */
export function memoryPerGpu(m: ResolvedModel, L: MemoryLayout, capacityGB: number): MemoryBreakdown {
  const sp = stageParameters(m, L);
  const params = sp.dense + sp.expert;
  const dpRanks = L.dp * L.cp;
  const ep = L.ep ?? 1;
  const fsdp = L.fsdp ?? false;
  // Sharded state: non-expert parameters over dp·cp, expert parameters over the expert-data-parallel
  // dp·cp/ep; under HSDP over the shard group only (replicated across groups).
  const shard = fsdp ? Math.min(L.fsdpShard ?? dpRanks, dpRanks) : dpRanks;
  const edRanks = Math.max(1, (L.tp * dpRanks) / (ep * (L.etp ?? L.tp)));
  const sharded = sp.dense / shard + sp.expert / Math.max(1, Math.min(shard, edRanks));
  // FSDP keeps two layers unsharded (the one running, the one prefetched) and one layer's full gradients.
  const layerParams = (parameterCount(m).layer) / L.tp;
  const weights = fsdp ? 2 * sharded + 2 * 2 * layerParams : 2 * params;
  const grads = fsdp ? L.gradBytes * (sharded + layerParams) : L.gradBytes * params;
  const optimizer = 12 * (L.distributedOptimizer || fsdp ? sharded : params); // fp32 master, Adam m and v
  // 1F1B: the first stage holds min(m, p) micro-batches of L/p layers; interleaving adds (p−1)/(p·v).
  const inflight = Math.min(L.microBatches, L.pp) * (L.pp > 1 && L.virtualStages > 1 ? 1 + (L.pp - 1) / (L.pp * L.virtualStages) : 1);
  let act = layerActivationBytes(m, L) * Math.ceil(m.layers / L.pp) * inflight;
  if (L.recompute === 'full') {
    // The one layer being recomputed holds its full activations.
    act += layerActivationBytes(m, { ...L, recompute: 'none' });
  }
  // fp32 logits and their gradient on the last stage (vocabulary-parallel).
  const logits = ((L.microBatch * m.seqLength) / L.cp) * (m.vocab / L.tp) * 4 * 2;
  const GB = 1e9;
  const activationsGB = (act + (L.pp === 1 ? logits : 0)) / GB;
  const totalGB = (weights + grads + optimizer) / GB + activationsGB + MEMORY_RESERVE_GB;
  return {
    params,
    weightsGB: weights / GB,
    gradientsGB: grads / GB,
    optimizerGB: optimizer / GB,
    activationsGB,
    reserveGB: MEMORY_RESERVE_GB,
    totalGB,
    capacityGB,
    fits: totalGB <= capacityGB,
  };
}
