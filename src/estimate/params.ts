/**
 * The efficiency parameters of the cluster model: the only numbers in it that are not
 * physics (datasheet peaks, byte and FLOP counts) or facts about the run. Each one is a
 * property of the software stack or of the hardware as it behaves in practice, shared
 * by every run; none is specific to one published result. `docs/estimate.md` explains
 * where each default comes from and what moves it.
 */
import { z } from 'zod';

export const EfficiencyParams = z.object({
  /**
   * Fraction of the catalog's dense peak that a large, well-shaped GEMM sustains inside
   * a training step (clocks under power load, L2 and SM contention from overlapped
   * kernels), relative to the GPU's `gemmFraction` (isolated cuBLAS large-GEMM fraction
   * of peak, a catalog fact). Calibrated once on Megatron-LM 2021 Table 1.
   * @default 0.85
   */
  gemmInTraining: z.number().gt(0).max(1.2).default(0.85),
  /**
   * GEMM size ramp: each dimension d contributes d / (d + gemmHalfDim) to the efficiency,
   * modelling tile and wave under-filling of small matrices.
   * @default 32
   */
  gemmHalfDim: z.number().min(0).default(32),
  /**
   * Fraction of HBM bandwidth that memory-bound kernels (layer norm, dropout, softmax,
   * GeLU, optimizer) sustain.
   * @default 0.7
   */
  memEfficiency: z.number().gt(0).max(1).default(0.7),
  /**
   * Multiplier on the catalog's `flashFraction` (the share of peak a flash-attention
   * kernel sustains on that GPU, from the FlashAttention-2/3 papers). 1 = as published.
   * @default 1
   */
  flashAttentionEfficiency: z.number().gt(0).max(3).default(1),
  /**
   * Bus bandwidth a collective reaches inside a node, as a fraction of the per-GPU
   * unidirectional NVLink bandwidth (nccl-tests: 232 GB/s busbw on 8x A100 with 300 GB/s
   * links = 0.77).
   * @default 0.77
   */
  nvlinkEfficiency: z.number().gt(0).max(1.5).default(0.77),
  /**
   * Bus bandwidth a collective reaches across nodes, as a fraction of the per-GPU NIC
   * line rate (nccl-tests: ~47 GB/s on a 400 Gb/s ConnectX-7 = 0.94; 192 GB/s on
   * 2x DGX A100 with 8x200 Gb/s = 0.96 of the hierarchical ideal; we take 0.85 for
   * fabric congestion at scale).
   * @default 0.85
   */
  networkEfficiency: z.number().gt(0).max(1).default(0.85),
  /** Latency of one collective step inside a node, microseconds. @default 8 */
  nvlinkLatencyUs: z.number().min(0).default(8),
  /** Latency of one collective step across nodes, microseconds. @default 15 */
  networkLatencyUs: z.number().min(0).default(15),
  /**
   * Fraction of the tensor-parallel communication hidden behind GEMMs. Megatron-LM
   * before Transformer Engine's userbuffers overlapped none of it.
   * @default 0
   */
  tpOverlap: z.number().min(0).max(1).default(0),
  /**
   * Fraction of the context-parallel K/V exchange hidden behind attention compute.
   * Megatron's ring exchange overlaps it; Llama 3's all-gather leaves it exposed (Llama 3
   * paper, Sec. 3.3.2); half is the default between the two.
   * @default 0.5
   */
  cpOverlap: z.number().min(0).max(1).default(0.5),
  /**
   * Fraction of the last micro-batch's backward pass that the data-parallel gradient
   * reduction can hide behind (gradients are only final on the last micro-batch).
   * @default 0.5
   */
  dpOverlap: z.number().min(0).max(1).default(0.5),
  /**
   * FSDP / ZeRO-3: share of a layer's compute that the next layer's parameter all-gather
   * (and, in backward, the gradient reduce-scatter) can hide behind. 1 = prefetching hides
   * the communication up to the layer's whole compute (PyTorch FSDP forward/backward
   * prefetch, Zhao et al. 2023, Sec. 3.4); what exceeds it is exposed.
   * @default 1
   */
  fsdpOverlap: z.number().min(0).max(1).default(1),
  /**
   * When the schedule overlaps the MoE all-to-all with compute (`training.epCommOverlap`:
   * DeepSeek-V3's DualPipe, Megatron-Core's batch-level `--overlap-moe-expert-parallel-comm`),
   * the share of the layer's compute it can hide behind; what exceeds it is exposed. 1 =
   * the whole compute of the overlapped micro-batch, as DualPipe is described ("both
   * all-to-all and PP communication can be fully hidden", DeepSeek-V3 report Sec. 3.2.1).
   * Runs that do not overlap expose the whole all-to-all.
   * @default 1
   */
  epOverlap: z.number().min(0).max(1).default(1),
  /**
   * Grouped-GEMM rate of the routed experts relative to one GEMM of the per-expert shape
   * (the size ramp already charges the smaller per-expert GEMMs). 1 = as efficient.
   * @default 1
   */
  groupedGemmEfficiency: z.number().gt(0).max(1).default(1),
  /**
   * Fixed time per training step outside the model: data loader, logging, launching
   * the step, loss-scale checks. Seconds.
   * @default 0.02
   */
  stepOverheadS: z.number().min(0).default(0.02),
  /** Fractional half-width of the reported uncertainty range. @default 0.1 */
  uncertainty: z.number().min(0).max(1).default(0.1),
}).strict();
export type EfficiencyParams = z.infer<typeof EfficiencyParams>;

/** The defaults, as calibrated (see docs/estimate.md). */
export const DEFAULT_PARAMS: EfficiencyParams = EfficiencyParams.parse({});
