/**
 * Input schemas of the cluster model: the model architecture, the training layout and
 * the cluster. The same shapes are used by `configs/models/*.yaml`,
 * `configs/clusters/*.yaml` and the entries of a published-runs file.
 */
import { z } from 'zod';
import { ReliabilitySpec } from './goodput.js';
import { RECOMPUTE_MODULES } from './recompute-modules.js';

const pos = () => z.number().positive();
const posInt = () => z.number().int().positive();

/**
 * Accepts the spellings sources use for one value (case-insensitive, by pattern), and
 * leaves anything else to the enum, whose error lists the allowed values.
 */
function aliased<T extends z.ZodEnum>(e: T, aliases: [RegExp, string][]) {
  return z.preprocess((v) => {
    if (typeof v === 'boolean') v = String(v);
    if (typeof v !== 'string') return v;
    const low = v.trim().toLowerCase();
    if ((e.options as readonly string[]).includes(low)) return low;
    for (const [re, to] of aliases) if (re.test(low)) return to;
    return v;
  }, e);
}

/** Transformer architecture: `gpt` = GeLU MLP with 2 matrices, `llama` = SwiGLU with 3. */
export const ModelArch = z.enum(['gpt', 'llama']);
const ModelArchIn = aliased(ModelArch, [
  [/llama|swiglu|mistral|qwen|gemma|deepseek|olmo/, 'llama'],
  [/gpt|gelu|bloom|opt|megatron|mt-nlg|falcon|neox/, 'gpt'],
]);

/** Mixture-of-experts FFN: routed experts, top-k routing, shared experts. */
export const MoeSpec = z.object({
  /** Routed experts per MoE layer. */
  experts: posInt(),
  /** Routed experts each token goes to. */
  topK: posInt(),
  /** FFN inner size of one expert; defaults to the model's ffnHidden. */
  expertFfnHidden: posInt().optional(),
  /** Shared experts every token goes through (DeepSeekMoE), each of expertFfnHidden. */
  sharedExperts: z.number().int().min(0).default(0),
  /** Leading layers with a dense FFN (ffnHidden) instead of experts (DeepSeek-V3: 3). */
  denseLayers: z.number().int().min(0).default(0),
  /**
   * Capacity factor: expert buffers hold capacityFactor × the balanced share of tokens,
   * so compute and all-to-all bytes scale with it (1 = dropless and balanced).
   */
  capacityFactor: z.number().min(1).default(1),
  /**
   * Node-limited routing: each token's experts lie on at most this many nodes (DeepSeek-V3
   * report Sec. 2.1.2 and 4.2: 4; config n_group 8, topk_group 4 with one group per node).
   * Only a node-deduplicating dispatcher (`training.epDispatch: dedup`) gains from it.
   */
  maxNodesPerToken: posInt().optional(),
}).strict();
export type MoeSpec = z.infer<typeof MoeSpec>;

/**
 * Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values pass through
 * low-rank projections; each head's scores use qkNope + qkRope dims, its values vDim.
 * DeepSeek-V3 config.json: q_lora_rank 1536, kv_lora_rank 512, qk_nope_head_dim 128,
 * qk_rope_head_dim 64, v_head_dim 128.
 */
export const MlaSpec = z.object({
  qLoraRank: posInt(),
  kvLoraRank: posInt(),
  qkNopeHeadDim: posInt(),
  qkRopeHeadDim: posInt(),
  vHeadDim: posInt(),
}).strict();
export type MlaSpec = z.infer<typeof MlaSpec>;

/** A decoder-only transformer, dense or mixture-of-experts (`moe`). */
export const ModelSpec = z.object({
  name: z.string().optional(),
  arch: ModelArchIn.default('gpt'),
  /** Published parameter count; informational (FLOPs come from the shapes). */
  params: pos().optional(),
  layers: posInt(),
  hidden: posInt(),
  heads: posInt(),
  /** Key/value heads (GQA); defaults to `heads` (multi-head attention). */
  kvHeads: posInt().optional(),
  /**
   * Per-head dimension when it is not hidden/heads (Qwen3: 128 with hidden 2048 and 32
   * heads; GPT-OSS: 64 with hidden 2880): QKV and the projection are then heads·headDim wide.
   */
  headDim: posInt().optional(),
  /** FFN inner size; defaults to 4·hidden (gpt) or the Llama rule 8/3·hidden rounded. */
  ffnHidden: posInt().optional(),
  vocab: posInt(),
  seqLength: posInt(),
  moe: MoeSpec.optional(),
  mla: MlaSpec.optional(),
  /**
   * Sliding-window (local) attention: `layers` of the layers attend only to the last `window`
   * keys (GPT-OSS: window 128 on 18 of its 36 layers, alternating; Mistral 7B v0.1: 4096 on
   * all 32); the others attend to the whole causal prefix.
   */
  slidingWindow: z.object({ window: posInt(), layers: z.number().int().min(0) }).strict().optional(),
}).passthrough();
export type ModelSpec = z.infer<typeof ModelSpec>;

export const RecomputeMode = z.enum(['none', 'selective', 'full']);
export type RecomputeMode = z.infer<typeof RecomputeMode>;
/**
 * What selective recompute runs again in backward, as Megatron-Core names it
 * (`TransformerConfig.recompute_modules`, `--recompute-modules`): `core_attn` the attention
 * core (its default), `layernorm` the two norms before attention and MLP, `mla_up_proj`
 * MLA's query and key/value up-projections (and RoPE), `mlp` a dense layer's MLP, `moe` a
 * whole MoE layer (dispatch and combine included), `moe_act` the experts' activation
 * function, `shared_experts` the shared experts.
 */
export const RecomputeModule = z.enum(RECOMPUTE_MODULES);
export type RecomputeModule = z.infer<typeof RecomputeModule>;
export const Precision = z.enum(['fp16', 'bf16', 'fp8', 'tf32', 'fp32']);
export type Precision = z.infer<typeof Precision>;
/** `unfused` materialises the s×s score matrix (Megatron 2021/22); `flash` does not. */
export const AttentionImpl = z.enum(['unfused', 'flash']);
export type AttentionImpl = z.infer<typeof AttentionImpl>;

const RecomputeIn = aliased(RecomputeMode, [
  [/^(uniform|block|true|yes|on|activation[s]?[- ]checkpointing)$/, 'full'],
  [/^(false|no|off|disabled)$/, 'none'],
  [/^selective/, 'selective'],
]);
const PrecisionIn = aliased(Precision, [
  [/^(bfloat16|bf16-mixed|mixed-bf16)$/, 'bf16'],
  [/^(float16|half|fp16-mixed|mixed-fp16|mixed|mixed precision|amp)$/, 'fp16'],
  [/^(fp8|float8|e4m3|hybrid-fp8|fp8-hybrid)/, 'fp8'],
]);
const AttentionIn = aliased(AttentionImpl, [
  [/unfused|non-fused|eager|naive|materiali[sz]ed/, 'unfused'],
  [/flash|fused|cudnn|sdpa|fa2|fa3/, 'flash'],
]);

/** How one step is laid out across GPUs. Missing fields get documented defaults. */
export const TrainingSpec = z.object({
  globalBatchSequences: posInt(),
  microBatch: posInt().optional(),
  tp: posInt().optional(),
  pp: posInt().optional(),
  dp: posInt().optional(),
  cp: posInt().optional(),
  virtualStages: posInt().optional(),
  recompute: RecomputeIn.optional(),
  /** With `recompute: selective` (implied when given): the modules recomputed (default [core_attn]). */
  recomputeModules: z.array(RecomputeModule).nonempty().optional(),
  precision: PrecisionIn.optional(),
  sequenceParallel: z.boolean().optional(),
  attention: AttentionIn.optional(),
  /** ZeRO-1 style sharded optimizer (reduce-scatter grads, all-gather params). */
  distributedOptimizer: z.boolean().optional(),
  /**
   * FSDP / ZeRO-3: parameters, gradients and optimizer state sharded over the dp·cp
   * group; each layer's parameters all-gathered in forward and again in backward, its
   * gradients reduce-scattered in backward, every micro-batch.
   */
  fsdp: z.boolean().optional(),
  /**
   * Hybrid sharding (HSDP, PyTorch `HYBRID_SHARD`; ZeRO++ hpZ): FSDP shards over groups of
   * this many consecutive data-parallel ranks (a node: 8) and replicates across groups, whose
   * gradients are all-reduced once per step. Defaults to dp·cp (full sharding).
   */
  fsdpShardGroup: posInt().optional(),
  /**
   * Tensor-parallel communication overlapped with the GEMMs it feeds (Megatron
   * `--tp-comm-overlap`, Transformer Engine userbuffers; NeMo's `tp_comm_overlap`). Off by
   * default: Megatron-LM before Transformer Engine, and plain PyTorch TP, hide none of it.
   */
  tpCommOverlap: z.boolean().optional(),
  /** Expert parallelism: experts split over `ep` ranks (MoE models). */
  ep: posInt().optional(),
  /**
   * Expert tensor parallelism (Megatron `--expert-tensor-parallel-size`); defaults to tp.
   * With MoE parallel folding the expert layer has its own layout: etp·ep·edp = tp·dp·cp,
   * so ep may exceed dp when etp < tp (Megatron-Core MoE README, "MoE Parallel Folding").
   */
  expertTp: posInt().optional(),
  /**
   * The schedule overlaps the MoE all-to-all with another micro-batch's compute: DeepSeek-V3's
   * DualPipe (report Sec. 3.2.1), Megatron-Core `--overlap-moe-expert-parallel-comm`
   * (NeMo `moe_a2a_overlap`). Off by default (Megatron's default schedule).
   */
  epCommOverlap: z.boolean().optional(),
  /**
   * How tokens reach their experts: `alltoall` (default; every routed copy is sent, as
   * Megatron's all-to-all dispatcher and NCCL do) or `dedup` (once per distinct remote
   * node, then NVLink: DeepEP, HybridEP, DeepSeek-V3's kernels).
   */
  epDispatch: z.enum(['alltoall', 'dedup']).optional(),
  /** Tokens (or FLOPs via `budgetFlops`) to train for, for time-to-train. */
  trainTokens: pos().optional(),
}).passthrough();
export type TrainingSpec = z.infer<typeof TrainingSpec>;

/** Interconnect facts as published-runs entries give them. */
export const InterconnectSpec = z.object({
  /** NVLink generation name (NVLink3/4/5) or any string; see comm.ts. */
  intraNode: z.string().optional(),
  /** Per-GPU unidirectional intra-node bandwidth, GB/s (overrides `intraNode`). */
  intraNodeGBps: pos().optional(),
  /** Per-GPU network line rate, Gb/s (one NIC per GPU on rail-optimized fabrics). */
  interNodeGbpsPerGPU: pos().optional(),
}).passthrough();
export type InterconnectSpec = z.infer<typeof InterconnectSpec>;

/** A cluster: GPUs, how they are wired, what they draw and cost. */
export const ClusterSpec = z.object({
  name: z.string().optional(),
  gpu: z.string(),
  gpusPerNode: posInt().default(8),
  nodes: posInt().optional(),
  interconnect: InterconnectSpec.default({}),
  /** Intra-node / inter-node collective step latency, microseconds (override params). */
  intraNodeLatencyUs: z.number().min(0).optional(),
  interNodeLatencyUs: z.number().min(0).optional(),
  topology: z.object({
    kind: z.enum(['rail-optimized-fat-tree', 'fat-tree', 'torus', 'dragonfly']).default('rail-optimized-fat-tree'),
    /** Oversubscription of the network above the leaf (1 = non-blocking). */
    oversubscription: z.number().min(1).default(1),
  }).default({ kind: 'rail-optimized-fat-tree', oversubscription: 1 }),
  power: z.object({
    /** Board power per GPU; defaults to the catalog's `watts`. */
    gpuWatts: pos().optional(),
    /** Everything else in a node (CPUs, NICs, fans, memory, storage), watts per node. */
    nodeOverheadWatts: z.number().min(0).default(2800),
    /** Network switches, storage, management, per GPU, watts. */
    perGpuInfraWatts: z.number().min(0).default(100),
    /** Power usage effectiveness of the facility. */
    pue: z.number().min(1).default(1.2),
    /**
     * The scale-out network's own power, per GPU: switch ports (2·tiers − 1 per GPU in a
     * non-blocking fat tree) and optical transceivers (two per link, `tiers` links per
     * GPU). When given, it is added to the all-in watts and `perGpuInfraWatts` is what
     * remains (storage, management). NICs are in the node overhead.
     */
    network: z.object({
      tiers: posInt().default(3),
      switchWattsPerPort: z.number().min(0),
      transceiverWatts: z.number().min(0),
    }).strict().optional(),
  }).default({ nodeOverheadWatts: 2800, perGpuInfraWatts: 100, pue: 1.2 }),
  /** Failures and checkpointing, for goodput (src/estimate/goodput.ts). */
  reliability: ReliabilitySpec.partial().optional(),
  /** Price per GPU-hour, USD. */
  pricePerGpuHour: pos().optional(),
  /** GPUs per rack, for site sizing. */
  gpusPerRack: posInt().default(32),
}).passthrough();
export type ClusterSpec = z.infer<typeof ClusterSpec>;
