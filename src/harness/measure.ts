/**
 * The measurement loop every case goes through: warm-up (compilation, autotuning and
 * first-touch stay out) until the calls stop getting faster, calibration of iterations
 * per sample so each sample is long enough for its clock, then samples until both a
 * minimum time and a minimum count are reached. A task may time itself on the device;
 * the loop only sees milliseconds.
 */
import { median } from 'simple-statistics';
import type { TimerKind, Warmup } from './results/schema.js';
import { mannWhitneyU } from './mann-whitney.js';

/** Knobs of the measurement loop, from the suite's `measure` block. */
export interface MeasureOptions {
  /** Minimum time spent warming up. @default 200 */
  warmupMs: number;
  /** Minimum warm-up iterations. @default 2 */
  warmupIterations: number;
  /**
   * Longest warm-up: past `warmupMs` it goes on while the calls are still getting faster
   * (see SETTLE_TOLERANCE), up to this. Equal to `warmupMs`: no settling.
   * @default 10 × warmupMs
   */
  maxWarmupMs?: number;
  /** Keep taking samples until this much measured time has accumulated. @default 1000 */
  minTimeMs: number;
  /** …and at least this many samples. @default 5 */
  minSamples: number;
  /** Never more than this many samples. @default 50 */
  maxSamples: number;
  /** Batch iterations so one sample lasts at least this long (host clocks need it). @default 20 */
  minSampleMs: number;
  /** Stop sampling after this much wall time even if minSamples is not reached (≥ 1 sample). @default 60000 */
  maxTimeMs: number;
  /**
   * Rounds of the whole plan, interleaved: each case is measured once per round, the later
   * rounds in a shuffled order, and keeps the round with the median of its rounds' medians
   * (harness/repetitions.ts). More robust to a shared host's slow moments than one longer
   * window. @default 1
   */
  repetitions?: number;
  /** Checked calls before timing, each on freshly poisoned outputs (nccl-tests' -c). @default 1 */
  checkIters?: number;
  /** Collectives across ranks: back-to-back calls timed in nccl-tests' convention after the samples (its -n). @default 20 */
  ncclIters?: number;
  /** …after this many untimed calls (its -w). @default 5 */
  ncclWarmupIters?: number;
}

export const DEFAULT_MEASURE: MeasureOptions = {
  warmupMs: 200,
  warmupIterations: 2,
  minTimeMs: 1000,
  minSamples: 5,
  maxSamples: 50,
  minSampleMs: 20,
  maxTimeMs: 60_000,
};

/** Something that runs its timed region n times and says how long that took. */
export interface Timed {
  timer: TimerKind;
  time(iterations: number): Promise<number>;
}

/**
 * Lets the event loop turn. A stack whose awaits all resolve as microtasks (tfjs-cpu)
 * would otherwise starve signal handlers (Ctrl-C) and timers until the whole run ends.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What the loop measured. */
export interface Measurement {
  /** Milliseconds per iteration, one entry per sample. */
  samplesMs: number[];
  /** Iterations batched into each sample. */
  iterationsPerSample: number;
  warmup: Warmup;
}

/**
 * Warm-up goes on while the latest window of samples is faster than the window before
 * by more than this fraction of its median, and significantly so (SETTLE_P): a speed-up
 * still under way. Smaller gains, or gains the noise of a shared host explains, count as
 * settled.
 */
export const SETTLE_TOLERANCE = 0.1;

/** One-sided Mann-Whitney p-value below which a window's gain is taken as real. */
export const SETTLE_P = 0.05;

/**
 * The window the settling rule compares: this long (at least 3 samples), or a quarter of
 * the longest warm-up where that is shorter, so that two windows and a verdict fit in it.
 * Speed-ups drift over seconds: 4 processes all-reducing 64 KiB over loopback on 2 cores
 * go 2.1 → 1.4 → 1.1 → 1.0 → 0.8 ms per call in successive quarter seconds, steps of
 * 10–35% that windows of a few tens of ms would each call noise.
 */
export const SETTLE_WINDOW_MS = 500;

/** Calls of the minimum warm-up phase at most (a µs-task needs no more to be warm). */
const MAX_MIN_WARMUP_CALLS = 1000;

/**
 * Warms up, calibrates and samples `task`.
 * @param onSample called after each sample (progress display)
 * @param onPhase called as warm-up and sampling begin (progress display)
 */
export async function measure(task: Timed, opts: MeasureOptions, onSample?: (n: number) => void, onPhase?: (phase: 'warm-up' | 'samples') => void): Promise<Measurement> {
  const start = performance.now();
  onPhase?.('warm-up');
  const { warmup, iterations } = await warmUp(task, opts);
  onPhase?.('samples');
  const samplesMs: number[] = [];
  let total = 0;
  while (samplesMs.length < opts.maxSamples) {
    const ms = await task.time(iterations);
    samplesMs.push(ms / iterations);
    total += ms;
    onSample?.(samplesMs.length);
    await yieldToEventLoop();
    const enough = total >= opts.minTimeMs && samplesMs.length >= opts.minSamples;
    const outOfTime = performance.now() - start >= opts.maxTimeMs;
    if (enough || outOfTime) break;
  }
  return { samplesMs, iterationsPerSample: iterations, warmup };
}

/** Iterations per sample so that a sample lasts minSampleMs at `perIterMs`. */
const calibrate = (perIterMs: number, opts: MeasureOptions) => Math.max(1, Math.min(1_000_000, Math.ceil(opts.minSampleMs / Math.max(perIterMs, 1e-6))));

/**
 * At least `warmupIterations` single calls and `warmupMs`, which calibrate a sample's
 * iterations; then, while settling is on, samples as the measurement takes them until
 * the latest window of them has settled (see `steady`), or `maxWarmupMs`. The latest
 * window's median calibrates the samples.
 */
async function warmUp(task: Timed, opts: MeasureOptions): Promise<{ warmup: Warmup; iterations: number }> {
  const t0 = performance.now();
  const elapsed = () => performance.now() - t0;
  const single: number[] = [];
  let turned = 0;
  while ((single.length < opts.warmupIterations || elapsed() < opts.warmupMs) && single.length < MAX_MIN_WARMUP_CALLS) {
    single.push(await task.time(1));
    // A stack whose awaits are all microtasks (tfjs-cpu) would freeze the live progress line for the whole warm-up.
    if (elapsed() - turned >= 100) {
      await yieldToEventLoop();
      turned = elapsed();
    }
  }
  // One call alone may be an outlier: the median of the last few calibrates.
  let iterations = calibrate(single.length ? median(single.slice(-5)) : 0, opts);
  let calls = single.length;
  const maxMs = opts.maxWarmupMs ?? 10 * opts.warmupMs;
  if (maxMs <= opts.warmupMs) return { warmup: { iterations: calls, ms: elapsed() }, iterations };

  // Settling, on samples taken exactly as the measurement will take them. Windows are
  // measured in the samples' own time (the task's clock); the longest warm-up in wall time.
  const windowMs = Math.min(SETTLE_WINDOW_MS, maxMs / 4);
  const perIter: number[] = [];
  const ends: number[] = [];
  let clock = 0;
  /** Samples in the latest window: at least 3, at most 500 (a median of more says nothing new). */
  const windowSamples = () => {
    let n = 0;
    while (n < ends.length && ends[ends.length - 1 - n]! > clock - windowMs) n++;
    return Math.min(500, Math.max(3, n));
  };
  let settled = false;
  while (elapsed() < maxMs) {
    await yieldToEventLoop();
    const ms = await task.time(iterations);
    perIter.push(ms / iterations);
    ends.push((clock += ms));
    calls += iterations;
    settled = steady(perIter, windowSamples());
    if (settled) break;
  }
  if (perIter.length) iterations = calibrate(median(perIter.slice(-windowSamples())), opts);
  return { warmup: { iterations: calls, ms: elapsed(), settled }, iterations };
}

/**
 * Whether the latest k values have settled: their median is not more than
 * SETTLE_TOLERANCE below that of the k before them, or the gain is not significant.
 */
function steady(xs: readonly number[], k: number): boolean {
  if (xs.length < 2 * k) return false;
  const latest = xs.slice(-k);
  const before = xs.slice(-2 * k, -k);
  if (median(latest) >= (1 - SETTLE_TOLERANCE) * median(before)) return true;
  // The medians say which way: half the two-sided p-value is the one-sided one.
  return mannWhitneyU(latest, before).p / 2 >= SETTLE_P;
}
