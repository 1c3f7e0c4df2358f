import { describe, expect, it } from 'vitest';
import { DEFAULT_RELIABILITY, LLAMA3_FAILURES_PER_GPU_HOUR, estimateGoodput, overheadFactor, youngInterval, dalyInterval } from '../src/estimate/goodput.js';

const P405 = 405e9;

describe('goodput at scale: failures, checkpoints, Young/Daly', () => {
  it('the default failure rate is the Llama 3 one: 419 interruptions in 54 days on 16,384 GPUs', () => {
    const g = estimateGoodput(16384, P405, DEFAULT_RELIABILITY);
    expect(g.mtbfHours).toBeCloseTo((54 * 24) / 419, 6);
    expect(g.failuresPerGpuHour).toBe(LLAMA3_FAILURES_PER_GPU_HOUR);
    // 14 B per parameter at 2 TB/s.
    expect(g.checkpointGB).toBeCloseTo(405 * 14, 6);
    expect(g.writeSeconds).toBeCloseTo((405e9 * 14) / 2000e9, 9);
    expect(g.goodput).toBeGreaterThan(0.8);
    expect(g.goodput).toBeLessThan(1);
  });

  it('a bigger checkpoint interval writes fewer checkpoints but loses more work per failure', () => {
    const r = { ...DEFAULT_RELIABILITY, storageWriteGBps: 200, storageReadGBps: 200 };
    const train = 30 * 86400;
    const short = estimateGoodput(16384, P405, { ...r, checkpointIntervalS: 600 }, train);
    const long = estimateGoodput(16384, P405, { ...r, checkpointIntervalS: 3600 }, train);
    expect(long.train!.checkpoints).toBeLessThan(short.train!.checkpoints);
    expect(long.lostSecondsPerFailure).toBeGreaterThan(short.lostSecondsPerFailure);
    expect(long.lostSecondsPerFailure - short.lostSecondsPerFailure).toBeCloseTo((3600 - 600) / 2, 6);
  });

  it('the overhead, minimised numerically over the interval, has its optimum where Young/Daly put it', () => {
    for (const [delta, mtbf] of [[30, 3 * 3600], [120, 6 * 3600], [10, 3600]] as const) {
      let best = Infinity;
      let bestTau = 0;
      for (let tau = 1; tau <= 20 * 3600; tau += 1) {
        const f = overheadFactor(tau, delta, mtbf, 60);
        if (f < best) { best = f; bestTau = tau; }
      }
      const young = youngInterval(delta, mtbf);
      // Young's first-order optimum within 10%, Daly's higher-order one closer still.
      expect(Math.abs(bestTau - young) / young).toBeLessThan(0.1);
      expect(Math.abs(bestTau - dalyInterval(delta, mtbf)) / young).toBeLessThan(0.1);
      // Exactly, this model's optimum is sqrt(δ² + 2δM') − δ with M' = M − restart − restore − δ/2
      // (the time a failure leaves), which Young's sqrt(2δM) approximates when those are ≪ M.
      const eff = mtbf - 60 - delta / 2;
      expect(Math.abs(bestTau - (Math.sqrt(delta * delta + 2 * delta * eff) - delta))).toBeLessThanOrEqual(1);
      // And the default interval is Young's.
      const g = estimateGoodput(1, 1, { ...DEFAULT_RELIABILITY, failuresPerGpuHour: 3600 / mtbf, checkpointBytesPerParam: delta * 2000e9, restartSeconds: 600, storageReadGBps: 1e12 });
      expect(g.intervalSeconds).toBeCloseTo(young, 6);
    }
  });

  it('more GPUs: a shorter job MTBF and a lower goodput', () => {
    const gs = [1024, 16384, 131072, 1048576].map((n) => estimateGoodput(n, P405, DEFAULT_RELIABILITY));
    for (let i = 1; i < gs.length; i++) {
      expect(gs[i]!.mtbfHours).toBeLessThan(gs[i - 1]!.mtbfHours);
      expect(gs[i]!.goodput).toBeLessThan(gs[i - 1]!.goodput);
    }
  });

  it('a higher failure rate or a slower restart lowers goodput; failures stretch time to train', () => {
    const base = estimateGoodput(16384, P405, DEFAULT_RELIABILITY, 86400 * 50);
    const flaky = estimateGoodput(16384, P405, { ...DEFAULT_RELIABILITY, failuresPerGpuHour: 2 * LLAMA3_FAILURES_PER_GPU_HOUR });
    const slow = estimateGoodput(16384, P405, { ...DEFAULT_RELIABILITY, restartSeconds: 1800 });
    expect(flaky.goodput).toBeLessThan(base.goodput);
    expect(slow.goodput).toBeLessThan(base.goodput);
    expect(base.train!.days).toBeCloseTo(50 / base.goodput, 6);
    expect(base.train!.idealDays).toBe(50);
  });

  it('when a job fails faster than it restarts it makes no progress, and says so', () => {
    const g = estimateGoodput(3_000_000, P405, DEFAULT_RELIABILITY, 86400);
    expect(g.goodput).toBe(0);
    expect(g.note).toMatch(/cannot progress/);
    expect(g.train!.days).toBe(Infinity);
  });
});
