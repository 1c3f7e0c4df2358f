/** How a group all-reduce (bisection level, k-batch) is judged against the others that ran with it. */
import { describe, expect, it } from 'vitest';
import { judgeGroups, MIN_K_BATCH_OTHERS } from '../src/fleet/bisect.js';

/** n samples around `center`, spread ±`jitter` (deterministic). */
const samples = (center: number, jitter: number, n = 10) => Array.from({ length: n }, (_, i) => center * (1 + jitter * Math.sin(i * 2.1)));

describe('group all-reduce verdict', () => {
  it('names a group far below the others, beyond the tolerance, significant and many MADs out', () => {
    const level = [
      { ranks: [0, 1], busbwGBps: samples(10, 0.02) },
      { ranks: [2, 3], busbwGBps: samples(5, 0.02) },
      { ranks: [4, 5], busbwGBps: samples(10.2, 0.02) },
      { ranks: [6, 7], busbwGBps: samples(9.9, 0.02) },
    ];
    const j = judgeGroups(level, 0.1, 0.01, 5, MIN_K_BATCH_OTHERS);
    expect(j.filter((g) => g.slow).map((g) => g.ranks)).toEqual([[2, 3]]);
    expect(j[1]!.mads).toBeGreaterThan(5);
  });

  it('does not name a group whose shortfall is within the others\' own jitter, however significant', () => {
    // Groups sharing a CPU: the others scatter ±60%, the low one sits 40% under their median.
    const level = [
      { ranks: [0, 1], busbwGBps: samples(0.57, 0.6, 40) },
      { ranks: [2, 3], busbwGBps: samples(0.4, 0.05, 40) },
      { ranks: [4, 5], busbwGBps: samples(0.6, 0.6, 40) },
      { ranks: [6, 7], busbwGBps: samples(0.55, 0.6, 40) },
    ];
    const j = judgeGroups(level, 0.1, 0.05, 5, MIN_K_BATCH_OTHERS);
    // Beyond the tolerance and significant: only the MAD rule keeps it from being named.
    expect(j[1]!.slowdown).toBeGreaterThan(0.1);
    expect(j[1]!.p).toBeLessThan(0.05);
    expect(judgeGroups(level, 0.1, 0.05, 0, MIN_K_BATCH_OTHERS)[1]!.slow).toBe(true);
    expect(j.some((g) => g.slow)).toBe(false);
  });

  it('judges no k-batch of fewer than 4 groups (a median of two others is no reference), while a bisection level of 2 halves is judged', () => {
    const three = [
      { ranks: [0, 1], busbwGBps: samples(10, 0.02) },
      { ranks: [2, 3], busbwGBps: samples(2, 0.02) },
      { ranks: [4, 5], busbwGBps: samples(10, 0.02) },
    ];
    expect(judgeGroups(three, 0.1, 0.01, 5, MIN_K_BATCH_OTHERS)).toEqual([]);
    const halves = [
      { ranks: [0, 1, 2], busbwGBps: samples(10, 0.02) },
      { ranks: [3, 4, 5], busbwGBps: samples(2, 0.02) },
    ];
    expect(judgeGroups(halves, 0.1, 0.01, 5).filter((g) => g.slow).map((g) => g.ranks)).toEqual([[3, 4, 5]]);
  });
});
