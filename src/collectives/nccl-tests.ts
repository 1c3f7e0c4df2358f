/**
 * nccl-tests' conventions, so its users can read gpubench's collective results as they
 * read `all_reduce_perf`'s: its type names, its timing (after `-w` warm-up calls, the host
 * time of `-n` back-to-back calls divided by `-n`, each rank's combined as `-a` says), and
 * its average bus bandwidth. gpubench's own figure stays the median over samples of the
 * slowest rank; both are recorded for every collective case that runs across ranks.
 */
import type { CaseResult, NcclTestsResult } from '../harness/results/schema.js';
import { quantile, sampleStandardDeviation, mean } from 'simple-statistics';
import type { CollectiveDtype } from './dtypes.js';
import { collectiveModule, COLLECTIVES } from './collective.js';

/** nccl-tests' -a: how the ranks' times combine. */
export const AVERAGE_MODES = ['rank0', 'avg', 'min', 'max'] as const;
export type AverageMode = (typeof AVERAGE_MODES)[number];

/** The nccl-tests-convention loop a collective case ends with. */
export interface NcclTestsLoop {
  /** -n: back-to-back calls timed. @default 20 */
  iters: number;
  /** -w: calls before them. @default 5 */
  warmupIters: number;
}

export const DEFAULT_NCCL_LOOP: NcclTestsLoop = { iters: 20, warmupIters: 5 };

/** nccl-tests' names of the element types gpubench's collectives have (its `-d` names). */
export const NCCL_TYPE_NAMES: Record<CollectiveDtype, string> = {
  i8: 'int8',
  u8: 'uint8',
  i32: 'int32',
  u32: 'uint32',
  i64: 'int64',
  u64: 'uint64',
  f16: 'half',
  f32: 'float',
  f64: 'double',
  bf16: 'bfloat16',
  fp8e4m3: 'fp8_e4m3',
  fp8e5m2: 'fp8_e5m2',
};

/** nccl-tests' -d names (and NCCL's, and gpubench's own) → gpubench dtypes; `all` is every one. */
export const NCCL_TYPE_ALIASES: Record<string, CollectiveDtype> = {
  int8: 'i8', char: 'i8', i8: 'i8',
  uint8: 'u8', u8: 'u8',
  int32: 'i32', int: 'i32', i32: 'i32',
  uint32: 'u32', u32: 'u32',
  int64: 'i64', i64: 'i64',
  uint64: 'u64', u64: 'u64',
  half: 'f16', float16: 'f16', f16: 'f16',
  float: 'f32', float32: 'f32', f32: 'f32',
  double: 'f64', float64: 'f64', f64: 'f64',
  bfloat16: 'bf16', bf16: 'bf16',
  fp8_e4m3: 'fp8e4m3', f8e4m3: 'fp8e4m3', fp8e4m3: 'fp8e4m3',
  fp8_e5m2: 'fp8e5m2', f8e5m2: 'fp8e5m2', fp8e5m2: 'fp8e5m2',
};

/** Combines each rank's time per call as nccl-tests' -a does. */
export function combineRankTimes(us: readonly number[], mode: AverageMode): number {
  if (us.length === 0) return NaN;
  switch (mode) {
    case 'rank0':
      return us[0]!;
    case 'min':
      return Math.min(...us);
    case 'max':
      return Math.max(...us);
    default:
      return us.reduce((s, x) => s + x, 0) / us.length;
  }
}

/** The record of one case in nccl-tests' convention, from every rank's loop time. */
export function ncclTestsRecord(
  p: { bytes: number; count: number; dtype: CollectiveDtype; op?: string; root?: number; inPlace: boolean },
  o: { loop: NcclTestsLoop; average: AverageMode; busFactor: number; rankTimesUs: number[]; nwrong: number; samplesMs: number[]; rooted: boolean },
): NcclTestsResult {
  const timeUs = combineRankTimes(o.rankTimesUs, o.average);
  const algBw = timeUs > 0 ? p.bytes / 1e3 / timeUs : 0;
  const us = o.samplesMs.map((ms) => ms * 1e3);
  const stats = us.length > 1 ? { minUs: Math.min(...us), maxUs: Math.max(...us), p99Us: quantile(us, 0.99), stdevUs: sampleStandardDeviation(us), cv: sampleStandardDeviation(us) / mean(us) } : {};
  return {
    size: p.bytes,
    count: p.count,
    type: NCCL_TYPE_NAMES[p.dtype],
    redop: p.op ?? 'none',
    root: o.rooted ? (p.root ?? 0) : -1,
    inPlace: p.inPlace,
    iters: o.loop.iters,
    warmupIters: o.loop.warmupIters,
    average: o.average,
    timeUs,
    algBw,
    busBw: algBw * o.busFactor,
    nwrong: o.nwrong,
    rankTimesUs: o.rankTimesUs,
    ...stats,
  };
}

/** Whether a collective of this kind has a root (its module says so; nccl-tests prints -1 for the others). */
export const isRooted = (workload: string): boolean => (COLLECTIVES as readonly string[]).includes(workload) && collectiveModule(workload).rooted;

/**
 * A case's figures as nccl-tests prints them: its own record where the case ran the
 * nccl-tests loop, else gpubench's median (the in-process backends).
 */
export function ncclTestsView(c: CaseResult): { time: number; algbw: number; busbw: number; wrong: number } | undefined {
  if (c.status !== 'ok' && !c.ncclTests) return undefined;
  if (c.ncclTests) return { time: c.ncclTests.timeUs, algbw: c.ncclTests.algBw, busbw: c.ncclTests.busBw, wrong: c.ncclTests.nwrong };
  if (!c.stats) return undefined;
  return { time: c.stats.medianMs * 1e3, algbw: c.metrics.algbwGBps ?? 0, busbw: c.metrics.busbwGBps ?? 0, wrong: c.check?.wrong ?? 0 };
}

/** The smallest S that counts as a large size for `--min-busbw`. */
export const MIN_BUSBW_FROM_BYTES = 1 << 20;

/**
 * The average bus bandwidth `--min-busbw` judges: over every ok collective case whose S
 * is at least 1 MiB (out-of-place and in-place alike), or, where a sweep never reaches
 * 1 MiB, over its largest size. Unlike nccl-tests (every size, failing below 0.9 × X),
 * small sizes measure latency, not the links, so they stay out, and the floor is X itself.
 */
export function averageBusBw(cases: readonly CaseResult[]): { gbps: number; cases: number; fromBytes: number } | undefined {
  const ok = cases.filter((c) => c.status === 'ok' && c.metrics.busbwGBps !== undefined && typeof c.params.bytes === 'number');
  if (ok.length === 0) return undefined;
  const largest = Math.max(...ok.map((c) => c.params.bytes as number));
  const from = Math.min(MIN_BUSBW_FROM_BYTES, largest);
  const big = ok.filter((c) => (c.params.bytes as number) >= from);
  const bw = big.map((c) => ncclTestsView(c)?.busbw ?? c.metrics.busbwGBps!);
  return { gbps: bw.reduce((s, x) => s + x, 0) / bw.length, cases: big.length, fromBytes: from };
}
