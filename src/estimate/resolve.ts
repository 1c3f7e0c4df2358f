/**
 * Filling in what a run description leaves out, with documented defaults, and recording
 * every default used so the output can say what was assumed.
 */
import { UsageError } from '../harness/errors.js';
import type { GpuEntry } from './catalog.js';
import { peakTflops } from './catalog.js';
import type { Fabric, Link } from './comm.js';
import { NVLINK_GBPS } from './comm.js';
import type { AttentionImpl, ClusterSpec, InterconnectSpec, Precision, RecomputeMode, RecomputeModule, TrainingSpec } from './inputs.js';
import type { Measurements } from './measured.js';
import type { EfficiencyParams } from './params.js';

/** A training layout with every field decided. */
export interface ResolvedTraining {
  globalBatch: number;
  microBatch: number;
  tp: number;
  pp: number;
  dp: number;
  cp: number;
  virtualStages: number;
  /** Micro-batches per pipeline per step: globalBatch / (dp · microBatch). */
  microBatches: number;
  recompute: RecomputeMode;
  /** What selective recompute runs again (only with recompute: selective). */
  recomputeModules?: RecomputeModule[];
  precision: Precision;
  sequenceParallel: boolean;
  attention: AttentionImpl;
  distributedOptimizer: boolean;
  /** FSDP / ZeRO-3 sharding of parameters, gradients and optimizer state over dp·cp. */
  fsdp: boolean;
  /** FSDP shard group: dp·cp (full sharding) when absent, smaller for HSDP. */
  fsdpShard?: number;
  /** Expert-parallel size (1 for dense models). */
  ep: number;
  /** TP all-gathers / reduce-scatters pipelined with their GEMMs (TE userbuffers). */
  tpCommOverlap?: boolean;
  /** Expert tensor parallelism; tp when absent. */
  etp?: number;
  /** The schedule overlaps the all-to-all with compute (DualPipe, Megatron batch-level overlap). */
  epCommOverlap?: boolean;
  /** Token dispatch: every copy (`alltoall`, default) or once per remote node (`dedup`). */
  epDispatch?: 'alltoall' | 'dedup';
}

/** GPUs of the Ampere generation and older run the pre-flash-attention Megatron stack by default. */
function isPreHopper(gpu: GpuEntry): boolean {
  const gen = gpu.nvlinkGen ?? '';
  return /NVLink[123]$/.test(gen) || /A100|V100|A800|A40|A10|P100/i.test(gpu.id);
}

/**
 * Decides every training field for `gpus` GPUs; `assumed` collects the defaults used.
 * `lenient` (validation of published runs) turns layout inconsistencies into notes: the
 * layout wins, and the caller counts tp·pp·dp·cp GPUs.
 */
export function resolveTraining(t: TrainingSpec, gpus: number, gpu: GpuEntry, heads: number, layers: number, assumed: string[], field = 'training', lenient = false, experts?: number, mla = false): ResolvedTraining {
  const tp = t.tp ?? 1;
  const pp = t.pp ?? 1;
  const cp = t.cp ?? 1;
  if (t.tp === undefined) assumed.push('tp=1');
  if (t.pp === undefined) assumed.push('pp=1');
  if (t.cp === undefined && t.dp === undefined) assumed.push('cp=1');
  const fail = (msg: string, f: string) => {
    if (!lenient) throw new UsageError(msg, f);
    assumed.push(`${f}: ${msg} (kept the layout as given)`);
  };
  let dp = t.dp;
  if (dp === undefined) {
    dp = gpus / (tp * pp * cp);
    if (!Number.isInteger(dp) || dp < 1) {
      fail(`gpus ${gpus} is not divisible by tp·pp·cp = ${tp * pp * cp}`, `${field}.dp`);
      dp = Math.max(1, Math.floor(dp));
    }
    assumed.push(`dp=${dp} (gpus/(tp·pp·cp))`);
  } else if (tp * pp * cp * dp !== gpus) {
    fail(`tp·pp·dp·cp = ${tp * pp * dp * cp} but the run has ${gpus} GPUs`, `${field}.dp`);
  }
  if (heads % tp !== 0) fail(`tp=${tp} does not divide heads=${heads}`, `${field}.tp`);
  const microBatch = t.microBatch ?? 1;
  if (t.microBatch === undefined) assumed.push('microBatch=1');
  const preHopper = isPreHopper(gpu);
  // Interleaving became the norm with Megatron-Core and NeMo recipes (about two layers per
  // virtual stage); the Ampere-era stack used it only when asked.
  let vs = t.virtualStages ?? (preHopper || pp === 1 ? 1 : Math.max(1, Math.floor(layers / pp / 2)));
  if (vs > 1 && layers / (pp * vs) < 1) vs = Math.max(1, Math.floor(layers / pp));
  if (t.virtualStages === undefined && pp > 1) assumed.push(`virtualStages=${vs} (${vs === 1 ? 'no interleaving, Ampere-era stack' : 'interleaved, ~2 layers per virtual stage'})`);
  if (layers % pp !== 0 && layers < pp) throw new UsageError(`pp=${pp} is larger than layers=${layers}`, `${field}.pp`);
  const mbRaw = t.globalBatchSequences / (dp * microBatch);
  const microBatches = Math.ceil(mbRaw);
  if (microBatches < 1) fail('globalBatchSequences is smaller than dp·microBatch', `${field}.globalBatchSequences`);
  if (!Number.isInteger(mbRaw)) assumed.push(`microBatches=${microBatches} (globalBatch/(dp·microBatch)=${mbRaw.toFixed(2)} rounded up)`);
  const precision = t.precision ?? 'bf16';
  if (t.precision === undefined) assumed.push('precision=bf16');
  peakTflops(gpu, precision); // throws a UsageError when the GPU has no such peak
  const sequenceParallel = t.sequenceParallel ?? tp > 1;
  if (t.sequenceParallel === undefined && tp > 1) assumed.push('sequenceParallel=true (tp>1)');
  const attention = t.attention ?? (preHopper ? 'unfused' : 'flash');
  if (t.attention === undefined) assumed.push(`attention=${attention} (${preHopper ? 'Ampere-era stack' : 'Hopper-era stack'})`);
  if (cp > 1 && attention === 'unfused') assumed.push('context parallelism with unfused attention (unusual)');
  // Selective recompute exists to drop the s×s attention activations; flash attention never
  // stores them, so with flash the default is no recompute.
  if (t.recomputeModules && t.recompute !== undefined && t.recompute !== 'selective') fail(`recomputeModules is given but recompute is ${t.recompute} (modules are what selective recompute runs again)`, `${field}.recomputeModules`);
  const recompute = t.recompute ?? (t.recomputeModules ? 'selective' : attention === 'flash' ? 'none' : 'selective');
  if (t.recompute === undefined && !t.recomputeModules) assumed.push(`recompute=${recompute}`);
  // Megatron-Core's default module list for selective recompute.
  const recomputeModules: RecomputeModule[] | undefined = recompute === 'selective' ? [...new Set<RecomputeModule>(t.recomputeModules ?? ['core_attn'])] : undefined;
  if (recomputeModules?.includes('mla_up_proj') && !mla) fail('recomputeModules has mla_up_proj but the model has no MLA', `${field}.recomputeModules`);
  if (recomputeModules?.some((x) => x === 'moe' || x === 'moe_act' || x === 'shared_experts') && experts === undefined) fail(`recomputeModules has ${recomputeModules.filter((x) => x.startsWith('moe') || x === 'shared_experts').join(', ')} but the model has no experts`, `${field}.recomputeModules`);
  // Sharded optimizer state (Megatron distributed optimizer, ZeRO-1, FSDP) is standard on the Hopper-era stack.
  const distributedOptimizer = t.distributedOptimizer ?? (!preHopper && dp * cp > 1);
  if (t.distributedOptimizer === undefined) assumed.push(`distributedOptimizer=${distributedOptimizer}`);
  const fsdp = t.fsdp ?? false;
  const fsdpShard = Math.min(t.fsdpShardGroup ?? dp * cp, dp * cp);
  if (t.fsdpShardGroup !== undefined && !fsdp) fail('fsdpShardGroup is given but fsdp is not on', `${field}.fsdpShardGroup`);
  if ((dp * cp) % fsdpShard !== 0) fail(`fsdpShardGroup=${fsdpShard} does not divide dp·cp = ${dp * cp}`, `${field}.fsdpShardGroup`);
  const ep = t.ep ?? 1;
  if (ep > 1 && experts === undefined) fail(`ep=${ep} but the model has no experts`, `${field}.ep`);
  const etp = t.expertTp ?? tp;
  if (t.expertTp !== undefined && experts === undefined) fail(`expertTp=${etp} but the model has no experts`, `${field}.expertTp`);
  if (ep > 1 && (tp * dp * cp) % (ep * etp) !== 0) fail(`ep·expertTp = ${ep * etp} does not divide tp·dp·cp = ${tp * dp * cp}`, `${field}.ep`);
  if (experts !== undefined && experts % ep !== 0) fail(`ep=${ep} does not divide experts=${experts}`, `${field}.ep`);
  return { globalBatch: t.globalBatchSequences, microBatch, tp, pp, dp, cp, virtualStages: vs, microBatches, recompute, ...(recomputeModules && { recomputeModules }), precision, sequenceParallel, attention, distributedOptimizer: distributedOptimizer || fsdp, fsdp, fsdpShard, ep, ...(t.expertTp !== undefined && { etp }), ...(t.epCommOverlap !== undefined && { epCommOverlap: t.epCommOverlap }), ...(t.epDispatch !== undefined && { epDispatch: t.epDispatch }), ...(t.tpCommOverlap !== undefined && { tpCommOverlap: t.tpCommOverlap }) };
}

/** Network line rate per GPU when nothing says: 200 Gb/s HDR on Ampere, 400 Gb/s NDR after. */
export function defaultNetworkGbps(gpu: GpuEntry): number {
  return isPreHopper(gpu) ? 200 : 400;
}

/** Builds the two-level fabric from interconnect facts, measurements first, catalog second. */
export function resolveFabric(
  gpu: GpuEntry,
  gpusPerNode: number,
  ic: InterconnectSpec,
  p: EfficiencyParams,
  assumed: string[],
  measured?: Measurements,
  oversubscription = 1,
  latency: { intraUs?: number; interUs?: number } = {},
): Fabric {
  let intraGBps = ic.intraNodeGBps;
  if (intraGBps === undefined && ic.intraNode) intraGBps = NVLINK_GBPS[ic.intraNode];
  if (intraGBps === undefined && gpu.nvlinkGen) {
    intraGBps = NVLINK_GBPS[gpu.nvlinkGen];
    assumed.push(`intraNode=${gpu.nvlinkGen} (catalog)`);
  }
  if (intraGBps === undefined) {
    intraGBps = (gpu.nvlinkGBps ?? 128) / 2;
    assumed.push(`intraNode ${intraGBps} GB/s per direction (catalog nvlinkGBps/2)`);
  }
  let gbps = ic.interNodeGbpsPerGPU;
  if (gbps === undefined) {
    gbps = defaultNetworkGbps(gpu);
    assumed.push(`interNodeGbpsPerGPU=${gbps}`);
  }
  const intra: Link = measured?.intra ?? { busbwGBps: intraGBps * p.nvlinkEfficiency, latencyUs: latency.intraUs ?? p.nvlinkLatencyUs, source: 'catalog' };
  const inter: Link = measured?.inter ?? {
    busbwGBps: ((gbps / 8) * p.networkEfficiency) / oversubscription,
    latencyUs: latency.interUs ?? p.networkLatencyUs,
    source: 'catalog',
  };
  const ops = measured?.ops && Object.keys(measured.ops).length ? measured.ops : undefined;
  return { gpusPerNode, intra, inter, ...(ops && { ops }) };
}

/** Cluster facts in the shape `resolveFabric` takes. */
export function clusterInterconnect(c: ClusterSpec): InterconnectSpec {
  return c.interconnect ?? {};
}
