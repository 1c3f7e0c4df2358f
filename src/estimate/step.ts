/**
 * The step-time model: one training step of a dense transformer on a cluster, from the
 * GEMM shapes each GPU runs, the bytes its memory-bound kernels move, and the bytes
 * each parallel dimension communicates.
 *
 *   step = (m + (p−1)/v) · t_microbatch(slowest stage) + exposed DP + optimizer + overhead
 *   t_microbatch = layers/p · (fwd + bwd + recompute + TP + CP) [+ logits on the last stage] + P2P
 */
import type { GpuEntry } from './catalog.js';
import { peak16, peakTflops } from './catalog.js';
import { collectiveTime, dedupDispatchTime, p2pTime, type Fabric } from './comm.js';
import { attentionGroups, gemmFlops, layerGemms, layerMix, meanAttentionKeys, logitGemm, moeLayerGemms, parameterCount, stepFlops, type AttentionCounting, type Gemm, type ResolvedModel } from './flops.js';
import { flashAttentionTime, gemmRate, gemmTime, type GemmDevice, type MeasuredGemm } from './gemm.js';
import { memoryPerGpu, stageParameters, type MemoryBreakdown } from './memory.js';
import type { EfficiencyParams } from './params.js';
import type { RecomputeModule } from './inputs.js';
import type { ResolvedTraining } from './resolve.js';

/** Where the time of one step goes, seconds (per GPU, on the critical path). */
export interface StepBreakdown {
  /** Linear-layer GEMMs (QKV, projection, MLP, logits), fwd + bwd. */
  gemm: number;
  /** Attention score/context products (unfused roofline or flash kernel). */
  attention: number;
  /** Memory-bound kernels: norms, dropout, softmax, activation, residuals, cross-entropy. */
  elementwise: number;
  /** Recomputation (forward again), all kinds. */
  recompute: number;
  /** Tensor-parallel collectives not hidden. */
  tpComm: number;
  /** Context-parallel KV exchange not hidden behind attention. */
  cpComm: number;
  /** Pipeline point-to-point sends. */
  ppComm: number;
  /** Pipeline fill and drain: (p−1)/v micro-batch times. */
  bubble: number;
  /** Data-parallel gradient reduction not hidden behind the last backward. */
  dpComm: number;
  /** FSDP parameter all-gathers and gradient reduce-scatters not hidden behind compute. */
  fsdpComm: number;
  /** MoE all-to-all (dispatch and combine) not hidden. */
  epComm: number;
  /** Optimizer step (memory-bound Adam). */
  optimizer: number;
  /** Fixed per-step overhead. */
  overhead: number;
}

/** Everything the model needs about one run. */
export interface RunSetup {
  model: ResolvedModel;
  training: ResolvedTraining;
  gpu: GpuEntry;
  gpus: number;
  fabric: Fabric;
  params: EfficiencyParams;
  measuredGemms: MeasuredGemm[];
  /** How the FLOPs for TFLOP/s are counted (full s×s by default). */
  attentionCounting?: AttentionCounting;
}

/** The estimate of one step. */
export interface StepEstimate {
  stepSeconds: number;
  tokensPerSecond: number;
  flops: { model: number; hardware: number };
  /** Model FLOPs per second per GPU, TFLOP/s. */
  modelTflopsPerGpu: number;
  /** Hardware FLOPs (with recompute) per second per GPU, TFLOP/s. */
  hardwareTflopsPerGpu: number;
  /** Model FLOPs utilisation against the 16-bit dense peak. */
  mfu: number;
  hfu: number;
  peak16Tflops: number;
  aggregatePflops: number;
  breakdown: StepBreakdown;
  memory: MemoryBreakdown;
  /** Where GEMM rates came from. */
  gemmSource: 'measured' | 'catalog';
  /** The same step with every efficiency ±uncertainty: [fast, slow] seconds. */
  range: [number, number];
}

const ACT_BYTES = 2; // activations travel and sit in 16 bits

/** The linear GEMMs of attention (every layer has them, dense or MoE). */
const ATTENTION_LINEAR = new Set(['qkv', 'proj', 'q-down', 'q-up', 'kv-down', 'kv-up']);

/** Forward times, per layer (averaged over dense and MoE layers), of what selective recompute can run again. */
export interface RecomputableTimes {
  /** The attention core (flash or scores, softmax and context) and its element-wise work. */
  attention: number;
  /** The two RMSNorm/LayerNorms: read and write of the hidden states. */
  norms: number;
  /** MLA's query and key/value up-projections. */
  mlaUp: number;
  /** A dense layer's MLP GEMMs. */
  denseMlp: number;
  /** A whole MoE layer: router, shared and routed experts, dispatch and combine. */
  moe: number;
  /** The routed experts' activation function (SwiGLU: read gate and up, write the product). */
  moeAct: number;
  /** The shared experts' GEMMs. */
  sharedExperts: number;
}

/** Time selective recompute adds per layer and micro-batch for the modules it runs again. */
export function selectiveRecomputeTime(modules: readonly RecomputeModule[], x: RecomputableTimes): number {
  const on = new Set(modules);
  return (
    (on.has('core_attn') ? x.attention : 0) +
    (on.has('layernorm') ? x.norms : 0) +
    (on.has('mla_up_proj') ? x.mlaUp : 0) +
    (on.has('mlp') ? x.denseMlp : 0) +
    (on.has('moe') ? x.moe : (on.has('moe_act') ? x.moeAct : 0) + (on.has('shared_experts') ? x.sharedExperts : 0))
  );
}

/** Element traffic of the memory-bound kernels of one layer's forward, in elements (×ACT_BYTES). */
function layerElementwiseElements(m: ResolvedModel, t: ResolvedTraining): { linear: number; attention: number } {
  const tokens = (t.microBatch * m.seqLength) / t.cp;
  const h = m.hidden;
  const tokensReplicated = t.sequenceParallel ? tokens / t.tp : tokens;
  const kvDim = m.kvHeads * m.headDim;
  const gpt = m.arch === 'gpt';
  // Two norms (read + write), two residual adds (+ dropout and its 1-byte mask for GPT).
  const perTokenReplicated = 4 * h + (gpt ? 7 : 6) * h;
  // Activation (GeLU: read/write f; SwiGLU: read 2f, write f) and QKV/context layout copies.
  const perTokenSharded = ((gpt ? 2 : 3) * m.ffnHidden + 2 * (m.qDim + 2 * kvDim) + 2 * m.qDim) / t.tp;
  const linear = tokensReplicated * perTokenReplicated + tokens * perTokenSharded;
  // Unfused attention: fused scale-mask-softmax (read+write) and dropout (read, write, mask) on
  // s×keys, averaged over the causal and the sliding-window layers.
  const scores = ((t.microBatch * m.heads) / t.tp) * (m.seqLength / t.cp) * meanAttentionKeys(m);
  const attention = t.attention === 'flash' ? 0 : scores * (gpt ? 4.5 : 2);
  return { linear, attention };
}

/** Estimates one training step. */
export function estimateStep(run: RunSetup): StepEstimate {
  const { model: m, training: t, gpu, fabric, params: p } = run;
  const fp8 = t.precision === 'fp8';
  // Linear layers run in the training precision; attention stays in 16 bits even in fp8 runs.
  const dev: GemmDevice = {
    peakTflops: peakTflops(gpu, t.precision),
    gemmFraction: fp8 ? (gpu.fp8GemmFraction ?? 0.8 * gpu.gemmFraction) : gpu.gemmFraction,
    flashFraction: gpu.flashFraction,
    memoryGBps: gpu.memoryGBps,
    bytesPerElement: fp8 ? 1 : t.precision === 'fp32' || t.precision === 'tf32' ? 4 : 2,
    precision: t.precision,
    measured: run.measuredGemms,
  };
  const attDev: GemmDevice = fp8
    ? { ...dev, peakTflops: peak16(gpu), gemmFraction: gpu.gemmFraction, bytesPerElement: 2, precision: gpu.tflops.bf16 ? 'bf16' : 'fp16' }
    : dev;
  const memBps = gpu.memoryGBps * 1e9 * p.memEfficiency;
  const b = t.microBatch;
  const tokens = (b * m.seqLength) / t.cp;

  // --- one layer, one micro-batch, forward ---
  const gemms = layerGemms(m, b, t.tp, t.cp);
  let attFwd = 0;
  let measuredUsed = false;
  // Linear GEMMs of one layer, forward; routed experts run as a grouped GEMM.
  const linearTime = (gs: Gemm[]) => {
    let sum = 0;
    for (const g of gs) {
      if (g.attention) continue;
      sum += gemmTime(g, dev, p) / (g.expert ? p.groupedGemmEfficiency : 1);
      if (gemmRate(g, dev, p).source === 'measured') measuredUsed = true;
    }
    return sum;
  };
  // Attention per layer, averaged over the causal and the sliding-window layers.
  let flashTotal = 0;
  for (const grp of attentionGroups(m)) {
    const share = grp.layers / m.layers;
    let flops = 0;
    for (const g of layerGemms(m, b, t.tp, t.cp, grp.keys)) {
      if (!g.attention) continue;
      flops += gemmFlops(g);
      if (t.attention === 'unfused') attFwd += share * gemmTime(g, attDev, p);
    }
    // Flash: forward and backward together at one efficiency (it recomputes scores inside bwd).
    if (t.attention === 'flash') flashTotal += share * flashAttentionTime(flops, attDev, p);
  }
  const mix = layerMix(m);
  // Expert tensor parallelism (MoE parallel folding); Megatron's default is the dense tp.
  const etp = t.etp ?? t.tp;
  const moeGemms = m.moe ? moeLayerGemms(m, b, t.tp, t.cp, t.ep, undefined, etp) : [];
  // Per-layer figures are averages over dense and MoE layers.
  let linFwd = (mix.dense * linearTime(gemms) + (mix.moe ? mix.moe * linearTime(moeGemms) : 0)) / m.layers;
  // Book a third as forward, two thirds as backward, as for GEMMs.
  if (t.attention === 'flash') attFwd = flashTotal / 3;
  const ew = layerElementwiseElements(m, t);
  if (m.moe && mix.moe) {
    // MoE layers: the activation runs on topK·cf token copies of the expert width plus the
    // shared experts; dispatch and combine permute the hidden states (read + write, twice).
    const moe = m.moe;
    const act = m.arch === 'gpt' ? 2 : 3;
    const copies = moe.topK * moe.capacityFactor;
    const tokensRep = t.sequenceParallel ? tokens / t.tp : tokens;
    const denseFfn = (tokens * act * m.ffnHidden) / t.tp;
    const moeFfn = (tokens * act * moe.expertFfnHidden * (copies + moe.sharedExperts)) / t.tp + tokensRep * 4 * copies * m.hidden;
    ew.linear += (mix.moe * (moeFfn - denseFfn)) / m.layers;
  }
  // fp8: the inputs of every fp8 GEMM are cast from 16 bits (read 2 B, write 1 B per element).
  const castElems = (gs: Gemm[]) => gs.filter((g) => !g.attention).reduce((a, g) => a + g.m * g.k * g.batch, 0);
  const fp8Cast = fp8 ? (3 * (mix.dense * castElems(gemms) + mix.moe * castElems(moeGemms))) / m.layers : 0;
  const ewLinFwd = (ew.linear * ACT_BYTES + fp8Cast) / memBps;
  const ewAttFwd = (ew.attention * ACT_BYTES) / memBps;

  // TP: two all-reduces per layer forward (or all-gather + reduce-scatter pairs under SP,
  // the same bus bytes), two in backward; on the TP group (stride 1).
  const actBytes = tokens * m.hidden * ACT_BYTES;
  const tpOne = t.sequenceParallel
    ? collectiveTime('allgather', actBytes, t.tp, 1, fabric) + collectiveTime('reducescatter', actBytes, t.tp, 1, fabric)
    : 2 * collectiveTime('allreduce', actBytes, t.tp, 1, fabric);
  // With TP communication overlap (Transformer Engine userbuffers, Megatron --tp-comm-overlap:
  // each all-gather / reduce-scatter split into tp chunks pipelined with the GEMM it feeds,
  // Wang et al., ASPLOS 2023) only the first chunk waits; the rest hides behind the layer's
  // linear GEMMs (twice as long in backward). Otherwise tpOverlap of it is hidden (default none).
  const tpHidden = (gemm: number) => tpOne / t.tp + Math.max(0, (tpOne * (t.tp - 1)) / t.tp - gemm);
  const tpFwd = t.tpCommOverlap && t.tp > 1 ? tpHidden(linFwd) : tpOne * (1 - p.tpOverlap);
  const tpBwd = t.tpCommOverlap && t.tp > 1 ? tpHidden(2 * linFwd) : tpOne * (1 - p.tpOverlap);

  // CP: each rank's K and V chunk goes round the ring (c−1 hops), in part hidden behind attention.
  const kvBytes = 2 * tokens * ((m.kvHeads * m.headDim) / t.tp) * ACT_BYTES;
  const cpRaw = t.cp > 1 ? (t.cp - 1) * p2pTime(kvBytes, t.tp, fabric) : 0;
  // The hidden part is bounded by the attention compute it hides behind.
  const cpFwd = cpRaw - Math.min(cpRaw * p.cpOverlap, attFwd);
  const cpBwd = 2 * cpRaw - Math.min(2 * cpRaw * p.cpOverlap, 2 * attFwd);

  // EP: dispatch and combine all-to-alls per MoE layer, forward and backward, over the ep
  // ranks (stride etp: the expert group is etp-innermost), averaged over layers.
  const tokensLocal = t.sequenceParallel ? tokens / t.tp : tokens;
  const a2aBytes = m.moe ? tokensLocal * m.moe.topK * m.moe.capacityFactor * m.hidden * ACT_BYTES : 0;
  const a2aOne = !m.moe || t.ep <= 1
    ? 0
    : t.epDispatch === 'dedup'
      ? dedupDispatchTime(tokensLocal * m.hidden * ACT_BYTES, m.moe.topK * m.moe.capacityFactor, m.moe.topK, t.ep, etp, fabric, m.moe.maxNodesPerToken)
      : collectiveTime('alltoall', a2aBytes, t.ep, etp, fabric);
  const epRaw = (2 * a2aOne * mix.moe) / m.layers;

  // The layer's own forward compute, which overlapped communication can hide behind.
  const computeFwd = linFwd + attFwd + ewLinFwd + ewAttFwd;

  // FSDP / ZeRO-3: each layer's parameters (16-bit) gathered in forward and again in backward,
  // its gradients reduce-scattered in backward, every micro-batch; prefetching hides them
  // behind up to fsdpOverlap of the layer's compute.
  const gradBytes = t.precision === 'fp16' ? 2 : 4; // bf16 accumulates and reduces fp32 main grads
  const dpRanks = t.dp * t.cp;
  let fsdpFwd = 0;
  let fsdpBwd = 0;
  // HSDP shards over a group of `shard` consecutive dp ranks and replicates across groups.
  const shard = t.fsdp ? Math.min(t.fsdpShard ?? dpRanks, dpRanks) : dpRanks;
  if (t.fsdp && shard > 1) {
    const pcl = parameterCount(m);
    const ed = Math.max(1, Math.min(shard, (t.tp * dpRanks) / (t.ep * etp)));
    const dense = pcl.nonExpertLayer / t.tp;
    const expert = pcl.expertLayer / (etp * t.ep);
    const gather = collectiveTime('allgather', dense * 2, shard, t.tp, fabric) + collectiveTime('allgather', expert * 2, ed, etp * t.ep, fabric);
    const scatter = collectiveTime('reducescatter', dense * gradBytes, shard, t.tp, fabric) + collectiveTime('reducescatter', expert * gradBytes, ed, etp * t.ep, fabric);
    fsdpFwd = Math.max(0, gather - p.fsdpOverlap * computeFwd);
    fsdpBwd = Math.max(0, gather + scatter - p.fsdpOverlap * 2 * computeFwd);
  }

  // An overlapping schedule (DualPipe, Megatron's batch-level overlap) runs one micro-batch's
  // all-to-all under another's compute: hidden up to epOverlap of the layer's compute, the
  // rest exposed. Without it the all-to-all sits on the critical path (Megatron's default).
  const epFwd = t.epCommOverlap ? Math.max(0, epRaw - p.epOverlap * computeFwd) : epRaw;
  const epBwd = t.epCommOverlap ? Math.max(0, epRaw - p.epOverlap * 2 * computeFwd) : epRaw;
  const fwdLayer = linFwd + attFwd + ewLinFwd + ewAttFwd + tpFwd + cpFwd + epFwd + fsdpFwd;
  const bwdLayer = 2 * linFwd + 2 * attFwd + 2 * (ewLinFwd + ewAttFwd) + tpBwd + cpBwd + epBwd + fsdpBwd;
  // Full recompute runs the forward again, with the parameters the backward gathered already;
  // selective runs again the modules it names (Megatron-Core's, default the attention core).
  const recLayer = t.recompute === 'full' ? fwdLayer - fsdpFwd : t.recompute === 'selective' ? selectiveRecomputeTime(t.recomputeModules ?? ['core_attn'], {
    attention: attFwd + ewAttFwd,
    norms: (2 * 2 * (t.sequenceParallel ? tokens / t.tp : tokens) * m.hidden * ACT_BYTES) / memBps,
    mlaUp: linearTime(gemms.filter((g) => g.name === 'q-up' || g.name === 'kv-up')),
    denseMlp: (mix.dense * linearTime(gemms.filter((g) => g.name.startsWith('ffn')))) / m.layers,
    moe: mix.moe ? (mix.moe * linearTime(moeGemms.filter((g) => !g.attention && !ATTENTION_LINEAR.has(g.name)))) / m.layers + epFwd : 0,
    moeAct: mix.moe ? (mix.moe * moeGemms.filter((g) => g.expert && g.name === 'expert-in').reduce((a, g) => a + (3 * g.m * g.batch * (g.n / m.ffnInputs) * ACT_BYTES) / memBps, 0)) / m.layers : 0,
    sharedExperts: mix.moe ? (mix.moe * linearTime(moeGemms.filter((g) => g.name.startsWith('shared')))) / m.layers : 0,
  }) : 0;

  // --- last stage extras: logits GEMM and cross-entropy; SP gathers the final hidden ---
  const lg = logitGemm(m, b, t.tp, t.cp);
  const logitsFwd = gemmTime(lg, dev, p);
  const ceBytes = tokens * (m.vocab / t.tp) * 12; // fp32 logits: softmax read/write, grad write
  const logitsTime = 3 * logitsFwd + ceBytes / memBps + (t.sequenceParallel ? tpOne : 0) * (1 - p.tpOverlap);

  // The slowest stage sets the pace; with uneven splits it holds ceil(L/p) layers.
  const layersPerStage = Math.ceil(m.layers / t.pp);
  // P2P: activations (scatter/gather over TP: 1/tp each) per virtual stage, fwd and bwd.
  const ppStride = t.tp * t.cp * t.dp;
  const p2pOne = t.pp > 1 ? p2pTime(actBytes / t.tp, ppStride, fabric) : 0;
  const ppPerMb = t.pp > 1 ? 2 * t.virtualStages * p2pOne : 0;

  const perMbLayers = layersPerStage * (fwdLayer + bwdLayer + recLayer);
  const perMb = perMbLayers + logitsTime + ppPerMb;
  const mbs = t.microBatches;
  const bubbleMbs = (t.pp - 1) / t.virtualStages;
  const pipeline = (mbs + bubbleMbs) * perMb;

  // --- data parallel: gradients of the most loaded stage over dp·cp ranks (stride tp) ---
  // Non-expert gradients over dp·cp (stride tp); expert gradients over the expert-data-parallel
  // group dp·cp/ep (stride tp·ep). Under FSDP they were reduce-scattered inside the layers.
  const sp = stageParameters(m, t);
  const stageParams = sp.dense + sp.expert;
  const edRanks = Math.max(1, (t.tp * dpRanks) / (t.ep * etp));
  const dpOne = (bytesPer: number, params: number, ranks: number, stride: number) =>
    t.distributedOptimizer
      ? collectiveTime('reducescatter', params * bytesPer, ranks, stride, fabric) + collectiveTime('allgather', params * 2, ranks, stride, fabric)
      : collectiveTime('allreduce', params * bytesPer, ranks, stride, fabric);
  // HSDP: each shard's gradients are all-reduced across the dp·cp/shard replicas (stride tp·shard).
  const replicas = t.fsdp ? dpRanks / shard : 1;
  const fsdpEd = Math.max(1, Math.min(shard, edRanks));
  const dpRaw = t.fsdp
    ? replicas > 1
      ? collectiveTime('allreduce', (sp.dense / shard) * gradBytes, replicas, t.tp * shard, fabric) +
        (sp.expert ? collectiveTime('allreduce', (sp.expert / fsdpEd) * gradBytes, Math.max(1, edRanks / fsdpEd), etp * t.ep * fsdpEd, fabric) : 0)
      : 0
    : dpOne(gradBytes, sp.dense, dpRanks, t.tp) + (sp.expert ? dpOne(gradBytes, sp.expert, edRanks, etp * t.ep) : 0);
  const lastBwd = layersPerStage * bwdLayer;
  const dpExposed = Math.max(0, dpRaw - p.dpOverlap * lastBwd);

  // --- optimizer: mixed-precision Adam reads/writes ~40 bytes per parameter it owns ---
  const ownedParams = t.fsdp ? sp.dense / shard + sp.expert / fsdpEd : t.distributedOptimizer ? sp.dense / dpRanks + sp.expert / edRanks : stageParams;
  const optimizer = (ownedParams * 40) / memBps;

  const stepSeconds = pipeline + dpExposed + optimizer + p.stepOverheadS;

  const breakdown: StepBreakdown = {
    gemm: mbs * (layersPerStage * 3 * linFwd + 3 * logitsFwd),
    attention: mbs * layersPerStage * 3 * attFwd,
    elementwise: mbs * (layersPerStage * 3 * (ewLinFwd + ewAttFwd) + ceBytes / memBps),
    recompute: mbs * layersPerStage * recLayer,
    tpComm: mbs * (layersPerStage * (tpFwd + tpBwd) + (t.sequenceParallel ? tpOne * (1 - p.tpOverlap) : 0)),
    cpComm: mbs * layersPerStage * (cpFwd + cpBwd),
    ppComm: mbs * ppPerMb,
    bubble: bubbleMbs * perMb,
    dpComm: dpExposed,
    fsdpComm: mbs * layersPerStage * (fsdpFwd + fsdpBwd),
    epComm: mbs * layersPerStage * (epFwd + epBwd),
    optimizer,
    overhead: p.stepOverheadS,
  };

  const counting = run.attentionCounting ?? 'full';
  const fl = stepFlops(m, t.globalBatch, t.recompute, counting, t.recomputeModules);
  const pk16 = peak16(gpu);
  const modelT = fl.model / stepSeconds / run.gpus / 1e12;
  const hwT = fl.hardware / stepSeconds / run.gpus / 1e12;
  const memory = memoryPerGpu(
    m,
    { ...t, gradBytes },
    (gpu.memoryGB * 1024 ** 3) / 1e9, // datasheet "80 GB" is 80 GiB
  );
  const u = p.uncertainty;
  return {
    stepSeconds,
    tokensPerSecond: (t.globalBatch * m.seqLength) / stepSeconds,
    flops: fl,
    modelTflopsPerGpu: modelT,
    hardwareTflopsPerGpu: hwT,
    mfu: modelT / pk16,
    hfu: hwT / pk16,
    peak16Tflops: pk16,
    aggregatePflops: (hwT * run.gpus) / 1e3,
    breakdown,
    memory,
    gemmSource: measuredUsed ? 'measured' : 'catalog',
    range: [stepSeconds * (1 - u), stepSeconds * (1 + u)],
  };
}
