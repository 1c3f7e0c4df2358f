/**
 * Search over parallel layouts: every TP × PP × CP × DP × micro-batch × recompute ×
 * interleaving that divides the GPUs and the model, keeping those that fit in memory,
 * ranked by step time. Each candidate costs one `estimateStep` (microseconds), so tens
 * of thousands of layouts take well under a second.
 */
import type { GpuEntry } from './catalog.js';
import type { Fabric } from './comm.js';
import type { ResolvedModel } from './flops.js';
import type { RecomputeMode } from './inputs.js';
import type { MeasuredGemm } from './gemm.js';
import type { EfficiencyParams } from './params.js';
import type { ResolvedTraining } from './resolve.js';
import { estimateStep, type StepEstimate } from './step.js';

export interface SearchSpace {
  tp: number[];
  pp: number[];
  cp: number[];
  microBatch: number[];
  recompute: RecomputeMode[];
  /** Interleaving factors tried when pp > 1. */
  virtualStages: number[];
}

/** The default space: powers of two for TP (within a node) and CP, divisors of the layers for PP. */
export function defaultSpace(m: ResolvedModel, gpusPerNode: number, allowCp: boolean): SearchSpace {
  const pow2 = (max: number) => [1, 2, 4, 8, 16, 32, 64].filter((x) => x <= max);
  // Divisors of the layer count, and powers of two (uneven stages: the slowest has ceil(L/p)).
  const pp: number[] = [];
  for (let p = 1; p <= Math.min(m.layers, 128); p++) if (m.layers % p === 0 || (p & (p - 1)) === 0) pp.push(p);
  return {
    tp: pow2(gpusPerNode).filter((t) => m.heads % t === 0),
    pp,
    cp: allowCp ? pow2(32).filter((c) => m.seqLength / c >= 1024) : [1],
    microBatch: [1, 2, 4, 8],
    recompute: ['none', 'selective', 'full'],
    virtualStages: [1, 2, 3, 4, 6, 8],
  };
}

export interface SearchResult {
  training: ResolvedTraining;
  estimate: StepEstimate;
}

export interface SearchOutcome {
  /** Best first, fitting in memory only. */
  best: SearchResult[];
  /** Layouts evaluated. */
  evaluated: number;
  /** Layouts that did not fit in memory. */
  rejectedMemory: number;
  elapsedMs: number;
}

/** Finds the fastest layouts of `globalBatch` sequences on `gpus` GPUs. */
export function searchLayouts(opts: {
  model: ResolvedModel;
  gpu: GpuEntry;
  gpus: number;
  fabric: Fabric;
  params: EfficiencyParams;
  globalBatch: number;
  base: Pick<ResolvedTraining, 'precision' | 'sequenceParallel' | 'attention' | 'distributedOptimizer'> & Partial<Pick<ResolvedTraining, 'fsdp' | 'ep' | 'fsdpShard' | 'epCommOverlap' | 'epDispatch' | 'tpCommOverlap'>>;
  space: SearchSpace;
  measuredGemms?: MeasuredGemm[];
  top?: number;
}): SearchOutcome {
  const t0 = performance.now();
  const { model: m, gpus, space } = opts;
  const results: SearchResult[] = [];
  let evaluated = 0;
  let rejectedMemory = 0;
  for (const tp of space.tp) {
    for (const cp of space.cp) {
      for (const pp of space.pp) {
        const replica = tp * cp * pp;
        if (gpus % replica !== 0) continue;
        const dp = gpus / replica;
        const ep = opts.base.ep ?? 1;
        if ((dp * cp) % ep !== 0) continue;
        if (opts.base.fsdpShard !== undefined && (dp * cp) % opts.base.fsdpShard !== 0) continue;
        for (const mb of space.microBatch) {
          if (opts.globalBatch % (dp * mb) !== 0) continue;
          const microBatches = opts.globalBatch / (dp * mb);
          for (const vs of pp > 1 ? space.virtualStages : [1]) {
            if (vs > 1 && m.layers / (pp * vs) < 1) continue;
            for (const recompute of space.recompute) {
              const training: ResolvedTraining = {
                ...opts.base,
                fsdp: opts.base.fsdp ?? false,
                ep,
                sequenceParallel: tp > 1 && opts.base.sequenceParallel,
                globalBatch: opts.globalBatch, microBatch: mb, tp, pp, dp, cp, virtualStages: vs, microBatches, recompute,
              };
              evaluated++;
              const estimate = estimateStep({ model: m, training, gpu: opts.gpu, gpus, fabric: opts.fabric, params: opts.params, measuredGemms: opts.measuredGemms ?? [] });
              if (!estimate.memory.fits) {
                rejectedMemory++;
                continue;
              }
              results.push({ training, estimate });
            }
          }
        }
      }
    }
  }
  results.sort((a, b) => a.estimate.stepSeconds - b.estimate.stepSeconds);
  return { best: results.slice(0, opts.top ?? 10), evaluated, rejectedMemory, elapsedMs: performance.now() - t0 };
}
