import { describe, expect, it } from 'vitest';
import { percentile, summarize } from '../src/harness/stats.js';
import { measure, type MeasureOptions, type Timed } from '../src/harness/measure.js';

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
    expect(m.warmupIterations).toBe(2);
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
