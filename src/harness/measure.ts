/**
 * The measurement loop every case goes through: warm-up (compilation, autotuning and
 * first-touch stay out), calibration of iterations per sample so each sample is long
 * enough for its clock, then samples until both a minimum time and a minimum count are
 * reached. A task may time itself on the device; the loop only sees milliseconds.
 */
import type { TimerKind } from './results/schema.js';

/** Knobs of the measurement loop, from the suite's `measure` block. */
export interface MeasureOptions {
  /** Minimum time spent warming up. @default 200 */
  warmupMs: number;
  /** Minimum warm-up iterations. @default 2 */
  warmupIterations: number;
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
  warmupIterations: number;
}

/**
 * Warms up, calibrates and samples `task`.
 * @param onSample called after each sample (progress display)
 */
export async function measure(task: Timed, opts: MeasureOptions, onSample?: (n: number) => void): Promise<Measurement> {
  const start = performance.now();
  // Warm-up: at least warmupIterations, at least warmupMs; the last one calibrates.
  let lastMs = 0;
  let warm = 0;
  const warmStart = performance.now();
  while (warm < opts.warmupIterations || performance.now() - warmStart < opts.warmupMs) {
    lastMs = await task.time(1);
    warm++;
    if (warm >= 1000) break;
  }
  const perIter = Math.max(lastMs, 1e-6);
  const iterations = Math.max(1, Math.min(1_000_000, Math.ceil(opts.minSampleMs / perIter)));
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
  return { samplesMs, iterationsPerSample: iterations, warmupIterations: warm };
}
