import { describe, expect, it } from 'vitest';
import { percentile, summarize } from '../src/harness/stats.js';
import { measure, SETTLE_WINDOW_MS, type MeasureOptions, type Timed } from '../src/harness/measure.js';
import { mulberry32 } from '../src/reporters/compare/stats.js';

describe('summary statistics', () => {
  it('matches hand-computed values (numpy conventions: linear percentiles, sample stddev)', () => {
    const s = summarize([4, 1, 3, 2, 10]);
    expect(s.medianMs).toBe(3);
    expect(s.meanMs).toBe(4);
    expect(s.minMs).toBe(1);
    expect(s.maxMs).toBe(10);
    expect(s.p10Ms).toBeCloseTo(1.4, 12); // numpy.percentile([1,2,3,4,10], 10)
    expect(s.p90Ms).toBeCloseTo(7.6, 12);
    expect(s.stddevMs).toBeCloseTo(Math.sqrt(12.5), 12); // numpy.std(ddof=1)
    expect(s.cv).toBeCloseTo(Math.sqrt(12.5) / 4, 12);
  });
  it('handles one sample and an even count', () => {
    expect(summarize([5])).toMatchObject({ medianMs: 5, stddevMs: 0, cv: 0, p10Ms: 5, p90Ms: 5 });
    expect(summarize([1, 2, 3, 4]).medianMs).toBe(2.5);
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
  });
  it('refuses no samples', () => {
    expect(() => summarize([])).toThrow(/no samples/);
  });
});

/** A task whose duration is given, standing in for a device (the loop's logic is under test). */
function fakeTask(perIterMs: number): Timed & { calls: number[] } {
  const calls: number[] = [];
  return { timer: 'wall-clock', calls, time: async (n) => { calls.push(n); return n * perIterMs; } };
}

const opts: MeasureOptions = { warmupMs: 0, warmupIterations: 2, minTimeMs: 100, minSamples: 5, maxSamples: 50, minSampleMs: 10, maxTimeMs: 60_000 };

describe('the measurement loop', () => {
  it('warms up, then batches iterations so each sample lasts at least minSampleMs', async () => {
    const t = fakeTask(0.5);
    const m = await measure(t, opts);
    expect(m.warmup).toEqual({ iterations: 2, ms: expect.any(Number) });
    expect(t.calls.slice(0, 2)).toEqual([1, 1]);
    expect(m.iterationsPerSample).toBe(20);
    expect(m.samplesMs.every((s) => s === 0.5)).toBe(true);
    // 100 ms of measured time at 10 ms per sample
    expect(m.samplesMs).toHaveLength(10);
  });
  it('takes at least minSamples even when each sample is long', async () => {
    const m = await measure(fakeTask(200), opts);
    expect(m.iterationsPerSample).toBe(1);
    expect(m.samplesMs).toHaveLength(5);
  });
  it('never takes more than maxSamples', async () => {
    const m = await measure(fakeTask(0.001), { ...opts, minTimeMs: 1e9, maxSamples: 7 });
    expect(m.samplesMs).toHaveLength(7);
  });
  it('stops at maxTimeMs of wall time with at least one sample', async () => {
    const slow: Timed = { timer: 'wall-clock', time: async (n) => { await new Promise((r) => setTimeout(r, 30)); return n * 30; } };
    const m = await measure(slow, { ...opts, warmupIterations: 1, minSamples: 100, maxTimeMs: 50 });
    expect(m.samplesMs.length).toBeGreaterThanOrEqual(1);
    expect(m.samplesMs.length).toBeLessThan(5);
  });
});

/** A task whose per-iteration time follows `perIter(calls so far)`: a speed-up under way, or noise. */
function trajectory(perIter: (calls: number) => number): Timed {
  let calls = 0;
  return {
    timer: 'wall-clock',
    time: async (n) => {
      let ms = 0;
      for (let i = 0; i < n; i++) ms += perIter(calls++);
      return ms;
    },
  };
}

const settling: MeasureOptions = { ...opts, warmupMs: 100, maxWarmupMs: 60_000 };

describe('warm-up that settles', () => {
  it('goes on while the calls still get faster, and samples the steady state', async () => {
    // 3 ms per call falling to 0.2 ms over a few thousand calls, as a JIT warms up.
    const speedUp = (c: number) => 0.2 + 2.8 * Math.exp(-c / 500);
    const fixed = await measure(trajectory(speedUp), { ...settling, maxWarmupMs: 100 });
    const settled = await measure(trajectory(speedUp), settling);
    expect(fixed.warmup.settled).toBeUndefined();
    expect(summarize(fixed.samplesMs).medianMs).toBeGreaterThan(0.3);
    expect(settled.warmup.settled).toBe(true);
    expect(settled.warmup.iterations).toBeGreaterThan(2000);
    expect(summarize(settled.samplesMs).medianMs).toBeLessThan(0.2 * 1.25);
    // Calibrated on the settled speed: samples of at least minSampleMs, not 15x that.
    expect(settled.iterationsPerSample).toBeGreaterThanOrEqual(Math.floor(opts.minSampleMs / 0.25));
  });
  it('takes noise for noise: a steady task with ±30% jitter settles after two windows', async () => {
    const rand = mulberry32(7);
    const m = await measure(trajectory(() => 1 + 0.6 * (rand() - 0.5)), settling);
    expect(m.warmup.settled).toBe(true);
    // Two windows of SETTLE_WINDOW_MS of samples plus the minimum warm-up, not a minute.
    expect(m.warmup.iterations).toBeLessThan((3 * SETTLE_WINDOW_MS) / 0.7 + 1000);
  });
  it('says so when it runs out of time still getting faster', async () => {
    const m = await measure(trajectory((c) => 1 / (1 + c / 10)), { ...settling, warmupMs: 5, maxWarmupMs: 30 });
    expect(m.warmup.settled).toBe(false);
    expect(m.warmup.ms).toBeGreaterThanOrEqual(30);
  });
});
