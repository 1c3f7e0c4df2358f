/**
 * Goodput at scale: failures interrupt the job, each costing a restart, a checkpoint
 * restore and the work done since the last checkpoint; checkpoints cost their write time.
 *
 *   job MTBF  M = 1 / (failuresPerGpuHour · gpus)                 (hours → seconds)
 *   write     δ = checkpoint bytes / storage write bandwidth      (blocking part)
 *   restore   ρ = checkpoint bytes / storage read bandwidth
 *   interval  τ = sqrt(2·δ·M) (Young 1974; Daly 2006 to first order) unless given
 *   lost per failure  L = restart + ρ + (τ + δ)/2                 (half an interval on average)
 *   wall / useful     = (1 + δ/τ) / (1 − L/M)                     goodput = its inverse
 *
 * The denominator is the share of wall-clock time not lost to failures (failures arrive
 * at rate 1/M per wall-clock second, each losing L), the numerator the checkpoint writes.
 * When L ≥ M the job makes no progress: goodput 0.
 */
import { z } from 'zod';

/**
 * Unexpected interruptions per GPU-hour: 419 in 54 days on 16,384 H100 (The Llama 3 Herd
 * of Models, 2024, Sec. 3.3.4 and Table 5) = 419 / (16384 · 54 · 24).
 */
export const LLAMA3_FAILURES_PER_GPU_HOUR = 419 / (16384 * 54 * 24);

/** Reliability and checkpointing facts of a cluster (`reliability:` in a cluster file). */
export const ReliabilitySpec = z.object({
  /** Unexpected job interruptions per GPU-hour. */
  failuresPerGpuHour: z.number().min(0).default(LLAMA3_FAILURES_PER_GPU_HOUR),
  /**
   * Aggregate checkpoint write bandwidth, GB/s. Llama 3 paper Sec. 3.3.1: Tectonic
   * "supports a sustainable throughput of 2 TB/s and a peak throughput of 7 TB/s".
   */
  storageWriteGBps: z.number().positive().default(2000),
  /** Aggregate restore (read) bandwidth, GB/s; the same sustained figure by default. */
  storageReadGBps: z.number().positive().default(2000),
  /**
   * Bytes saved per parameter: bf16 weights (2) + fp32 master weights (4) + Adam m and v
   * (4 + 4) = 14, the Megatron mixed-precision checkpoint; gradients are not saved.
   */
  checkpointBytesPerParam: z.number().positive().default(14),
  /**
   * Seconds from a failure to the job running again, before the restore: detection,
   * rescheduling onto spares, process start, NCCL initialisation. An assumption (10 min);
   * see docs/estimate.md.
   */
  restartSeconds: z.number().min(0).default(600),
  /** Share of the write the training waits for (1 = synchronous; async checkpointing less). */
  checkpointBlocking: z.number().min(0).max(1).default(1),
  /** Compute seconds between checkpoints; default the Young/Daly optimum. */
  checkpointIntervalS: z.number().positive().optional(),
}).strict();
export type ReliabilitySpec = z.infer<typeof ReliabilitySpec>;

/** The defaults (Llama 3 failure rate, Tectonic bandwidth, 14 B/param, 10 min restart). */
export const DEFAULT_RELIABILITY: ReliabilitySpec = ReliabilitySpec.parse({});

/** Young's optimal checkpoint interval τ = sqrt(2·δ·M), seconds. */
export function youngInterval(writeSeconds: number, mtbfSeconds: number): number {
  return Math.sqrt(2 * writeSeconds * mtbfSeconds);
}

/** Daly 2006's higher-order optimum (for δ < 2M), seconds; M when δ ≥ 2M. */
export function dalyInterval(writeSeconds: number, mtbfSeconds: number): number {
  const d = writeSeconds;
  const M = mtbfSeconds;
  if (d >= 2 * M) return M;
  const x = d / (2 * M);
  return Math.sqrt(2 * d * M) * (1 + Math.sqrt(x) / 3 + x / 9) - d;
}

/** Wall-clock seconds per useful second for interval τ (Infinity when the job cannot progress). */
export function overheadFactor(interval: number, writeSeconds: number, mtbfSeconds: number, lostFixedSeconds: number): number {
  const lost = lostFixedSeconds + (interval + writeSeconds) / 2;
  const alive = 1 - lost / mtbfSeconds;
  if (!(alive > 0)) return Infinity;
  return (1 + writeSeconds / interval) / alive;
}

/** The goodput estimate for one job. */
export interface Goodput {
  gpus: number;
  failuresPerGpuHour: number;
  /** Mean time between failures of the whole job, hours. */
  mtbfHours: number;
  checkpointGB: number;
  /** Blocking checkpoint write time δ, seconds. */
  writeSeconds: number;
  restoreSeconds: number;
  restartSeconds: number;
  /** Compute seconds between checkpoints τ, and whether it is the Young/Daly optimum. */
  intervalSeconds: number;
  intervalSource: 'young' | 'given';
  youngSeconds: number;
  dalySeconds: number;
  /** Work lost per failure on average: restart + restore + (τ + δ)/2, seconds. */
  lostSecondsPerFailure: number;
  /** Useful time / wall-clock time, 0..1 (0: the job cannot progress). */
  goodput: number;
  /** With trainSeconds (failure-free): wall-clock, checkpoints written, failures expected. */
  train?: { idealDays: number; days: number; checkpoints: number; failures: number; lostDays: number };
  note?: string;
}

/** Goodput of a job of `gpus` GPUs holding `params` parameters; `trainSeconds` failure-free. */
export function estimateGoodput(gpus: number, params: number, r: ReliabilitySpec, trainSeconds?: number): Goodput {
  const rate = r.failuresPerGpuHour * gpus; // per hour
  const mtbfSeconds = rate > 0 ? 3600 / rate : Infinity;
  const bytes = params * r.checkpointBytesPerParam;
  const write = (bytes / (r.storageWriteGBps * 1e9)) * r.checkpointBlocking;
  const restore = bytes / (r.storageReadGBps * 1e9);
  const fixed = r.restartSeconds + restore;
  const young = youngInterval(write, mtbfSeconds);
  const daly = dalyInterval(write, mtbfSeconds);
  // With no failures or free checkpoints the optimum is degenerate: checkpoint hourly.
  const interval = r.checkpointIntervalS ?? (Number.isFinite(young) && young > 0 ? young : 3600);
  const factor = Number.isFinite(mtbfSeconds) ? overheadFactor(interval, write, mtbfSeconds, fixed) : 1 + write / interval;
  const goodput = Number.isFinite(factor) ? 1 / factor : 0;
  const out: Goodput = {
    gpus,
    failuresPerGpuHour: r.failuresPerGpuHour,
    mtbfHours: mtbfSeconds / 3600,
    checkpointGB: bytes / 1e9,
    writeSeconds: write,
    restoreSeconds: restore,
    restartSeconds: r.restartSeconds,
    intervalSeconds: interval,
    intervalSource: r.checkpointIntervalS === undefined ? 'young' : 'given',
    youngSeconds: young,
    dalySeconds: daly,
    lostSecondsPerFailure: fixed + (interval + write) / 2,
    goodput,
  };
  if (goodput === 0) {
    out.note = `the job cannot progress: it fails every ${mtbfSeconds.toFixed(0)} s on average and loses ${out.lostSecondsPerFailure.toFixed(0)} s per failure (restart + restore + half an interval)`;
  }
  if (trainSeconds !== undefined) {
    const wall = trainSeconds * factor;
    out.train = {
      idealDays: trainSeconds / 86400,
      days: wall / 86400,
      checkpoints: trainSeconds / interval,
      failures: wall / mtbfSeconds,
      lostDays: (wall - trainSeconds) / 86400,
    };
  }
  return out;
}
