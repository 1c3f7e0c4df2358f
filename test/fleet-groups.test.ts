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

  it('measures two halves\' gap in the scatter of both, by ratio: samples from this VM, a healthy level and one with a rank at a tenth of a core', () => {
    // 6 ranks, 1 MiB ring all-reduces, both halves at once (fleet --local-nodes 6, 2026-12-03).
    const healthy = [
      { ranks: [0, 1, 2], busbwGBps: [0.488, 0.422, 0.397, 0.646, 0.612, 0.658, 0.433, 0.622, 0.386, 0.438] },
      { ranks: [3, 4, 5], busbwGBps: [0.39, 0.689, 0.501, 0.819, 0.816, 0.769, 0.738, 0.443, 0.53, 0.489] },
    ];
    const faulty = [
      { ranks: [0, 1, 2], busbwGBps: [0.594, 0.612, 0.596, 0.388, 0.394, 0.618, 0.361, 0.661, 0.915, 0.819] },
      { ranks: [3, 4, 5], busbwGBps: [0.154, 0.136, 0.1, 0.147, 0.177, 0.143, 0.101, 0.176, 0.1, 0.177] },
    ];
    const h = judgeGroups(healthy, 0.1, 0.01, 5);
    const f = judgeGroups(faulty, 0.1, 0.01, 5);
    // The healthy halves lie under one MAD apart; the faulty half 4.1× slower lies ~5 out (the
    // others' linear scatter alone put it at 2.3).
    expect(Math.max(...h.map((g) => g.mads ?? 0))).toBeLessThan(1);
    expect(f[1]!.slowdown).toBeGreaterThan(3);
    expect(f[1]!.mads).toBeGreaterThan(4.5);
    expect(f[1]!.mads).toBeLessThan(5.5);
    expect(judgeGroups(faulty, 0.1, 0.01, 4).filter((g) => g.slow).map((g) => g.ranks)).toEqual([[3, 4, 5]]);
    expect(judgeGroups(healthy, 0.1, 0.01, 1).some((g) => g.slow)).toBe(false);
  });
});
