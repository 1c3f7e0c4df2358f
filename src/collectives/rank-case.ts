/**
 * One collective case as a rank runs it: fresh inputs from the case seed, a poisoned
 * checked call verified against the reference on this rank, then the measurement loop.
 * Rank 0 leads the harness's `measure()` loop and tells the others, over the same
 * transport, how many iterations each sample has; every sample starts after a barrier
 * and its time is the slowest rank's (as nccl-tests reports).
 */
import type { Check, Warmup } from '../harness/results/schema.js';
import { measure, type MeasureOptions } from '../harness/measure.js';
import type { Transport } from './transport.js';
import { bytesOf } from './dtypes.js';
import { allocateBuffers, resolveAlgorithm, runCollective, type CollectiveCall } from './collective.js';
import { checkedBytes, checkOutput, prepareRank } from './reference.js';
import { recursiveDoublingAllReduce } from './algorithms/recursive-doubling.js';
import { hostReduction } from './native-reduce.js';
import { warmJit } from './jit-warmup.js';
import { DEFAULT_NCCL_LOOP } from './nccl-tests.js';
import { mergeChecks } from './workload.js';

/** What one rank reports for one case. */
export interface RankCaseResult {
  rank: number;
  check: Check;
  /** The algorithm that ran (`auto` resolved). */
  algorithm: string;
  /** What reduced on this rank's host: the native addon's loops or the JS ones. */
  reduction?: 'native' | 'js';
  /** Per-iteration ms of each sample as this rank saw it. */
  ownSamplesMs: number[];
  /** Rank 0 only: per-iteration ms of each sample, the slowest rank's. */
  samplesMs?: number[];
  /** Rank 0 only: every rank's own per-sample ms, by rank. */
  perRankSamplesMs?: number[][];
  /** Rank 0 only: how the warm-up it led went. */
  warmup?: Warmup;
  /** How the samples were timed, where not on the wall clock (`nccl`: CUDA events). */
  timer?: 'wall-clock' | 'cuda-event';
  /** The device this rank ran on, where it has one (`nccl`: "NVIDIA H100 … (cuda:0)"). */
  device?: string;
  /** The NCCL version this rank loaded (`nccl`). */
  ncclVersion?: string;
  /** Rank 0 only: every rank's time per call in the nccl-tests-convention loop, µs, by rank. */
  ncclTimesUs?: number[];
}

/** Synchronises all ranks: a 4-byte all-reduce, which no rank can finish before all have entered. */
export async function barrier(t: Transport): Promise<void> {
  if (t.size > 1) await recursiveDoublingAllReduce(t, new Uint8Array(4), 'i32', 'sum');
}

const f64 = (x: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, x, true);
  return b;
};
const readF64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(0, true);

/**
 * Runs the case on this rank (`onSample`: rank 0's count of samples taken, for progress).
 * The check runs on every rank; a failed check skips
 * timing on every rank alike (each rank learns every rank's verdict first), so no rank
 * is left waiting for a call the others will not make.
 */
export async function runRankCase(t: Transport, c: CollectiveCall, seed: number, opts: MeasureOptions, onSample?: (samples: number) => void): Promise<RankCaseResult> {
  const { rank, size } = t;
  const bufs = allocateBuffers(c, size, rank);
  // nccl-tests' -c: each checked call starts from fresh inputs and poisoned outputs.
  const checks = [];
  for (let i = 0; i < Math.max(1, opts.checkIters ?? 1); i++) {
    prepareRank(c, size, rank, seed, bufs);
    await runCollective(t, c, bufs);
    checks.push(checkOutput(c, size, rank, seed, checkedBytes(c, size, rank, bufs)));
  }
  const check = mergeChecks(checks);
  const result: RankCaseResult = { rank, check, algorithm: resolveAlgorithm(c, size), reduction: hostReduction(), ownSamplesMs: [] };

  // Agree on the verdict: a 4-byte sum of failures.
  const verdict = new Int32Array([check.passed ? 0 : 1]);
  if (size > 1) await recursiveDoublingAllReduce(t, bytesOf(verdict), 'i32', 'sum');
  if (verdict[0]! > 0) return result;
  const jitCalls = await warmJit(t, c);

  const timeOwn = async (iterations: number) => {
    await barrier(t);
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) await runCollective(t, c, bufs);
    return performance.now() - t0;
  };
  await measureRanks(t, opts, timeOwn, result, onSample, jitCalls);
  const ncclTimes = await ncclTestsLoop(t, opts, async (n) => {
    for (let i = 0; i < n; i++) await runCollective(t, c, bufs);
  });
  if (ncclTimes) result.ncclTimesUs = ncclTimes;
  return result;
}

/**
 * The measurement loop every rank runs for a case that passed its check: rank 0 leads the
 * harness's `measure()` and tells the others, over `t`, how many iterations each sample
 * has; each rank times its own (`timeOwn`: milliseconds for the iterations, starting after
 * whatever synchronisation it needs) and a sample is the slowest rank's. Fills `result`'s
 * own samples and, on rank 0, the slowest rank's, every rank's and the warm-up.
 */
export async function measureRanks(
  t: Transport,
  opts: MeasureOptions,
  timeOwn: (iterations: number) => Promise<number>,
  result: RankCaseResult,
  onSample?: (samples: number) => void,
  jitCalls?: number,
  timer: 'wall-clock' | 'cuda-event' = 'wall-clock',
): Promise<void> {
  const { rank, size } = t;
  const own = async (iterations: number) => {
    const ms = await timeOwn(iterations);
    result.ownSamplesMs.push(ms / iterations);
    return ms;
  };
  if (rank === 0) {
    const perRank: number[][] = Array.from({ length: size }, () => []);
    const m = await measure(
      {
        timer,
        time: async (iterations) => {
          await Promise.all(Array.from({ length: size - 1 }, (_, i) => t.send(i + 1, f64(iterations))));
          let slowest = await own(iterations);
          perRank[0]!.push(slowest / iterations);
          for (let peer = 1; peer < size; peer++) {
            const ms = readF64(await t.recv(peer));
            perRank[peer]!.push(ms / iterations);
            slowest = Math.max(slowest, ms);
          }
          return slowest;
        },
      },
      opts,
      onSample,
    );
    await Promise.all(Array.from({ length: size - 1 }, (_, i) => t.send(i + 1, f64(0))));
    // measure() returns only the calibrated samples; warm-up calls are the leading entries.
    const warm = perRank[0]!.length - m.samplesMs.length;
    result.samplesMs = m.samplesMs;
    result.warmup = jitCalls ? { ...m.warmup, jitCalls } : m.warmup;
    result.perRankSamplesMs = perRank.map((s) => s.slice(warm));
    result.ownSamplesMs = result.ownSamplesMs.slice(warm);
  } else {
    for (;;) {
      const iterations = readF64(await t.recv(0));
      if (iterations === 0) break;
      await t.send(0, f64(await own(iterations)));
    }
  }
}

/**
 * nccl-tests' own timing, after gpubench's samples: `-w` untimed calls, a barrier, then
 * the host time of `-n` back-to-back calls (`calls(n)` returns once they have completed)
 * divided by `-n`, on every rank. Rank 0 gets every rank's time per call (µs, by rank);
 * the coordinator combines them per `-a`.
 */
export async function ncclTestsLoop(t: Transport, opts: MeasureOptions, calls: (n: number) => Promise<unknown>): Promise<number[] | undefined> {
  const iters = opts.ncclIters ?? DEFAULT_NCCL_LOOP.iters;
  const warmupIters = opts.ncclWarmupIters ?? DEFAULT_NCCL_LOOP.warmupIters;
  // No loop asked for (fleet passes 0): no nccl-tests figure, rather than a time per 0 calls.
  if (iters < 1) return undefined;
  if (warmupIters > 0) await calls(warmupIters);
  await barrier(t);
  const t0 = performance.now();
  await calls(iters);
  const us = ((performance.now() - t0) * 1e3) / iters;
  if (t.rank !== 0) {
    await t.send(0, f64(us));
    return undefined;
  }
  const all = [us];
  for (let peer = 1; peer < t.size; peer++) all.push(readF64(await t.recv(peer)));
  return all;
}
