import { describe, expect, it } from 'vitest';
import { halves, kBatches, pairsOf, roundCount, roundRobin, scheduleRound } from '../src/fleet/schedule.js';
import { spreadPick } from '../src/fleet/run-fleet.js';

describe('the round-robin pair schedule', () => {
  for (let n = 2; n <= 33; n++) {
    it(`measures every pair of ${n} nodes exactly once, no node twice in a round`, () => {
      const rounds = roundRobin(n);
      expect(rounds).toHaveLength(n % 2 === 0 ? n - 1 : n);
      const seen = new Set<string>();
      const byes = new Set<number>();
      for (const r of rounds) {
        const inRound = new Set<number>();
        for (const [a, b] of pairsOf(r)) {
          expect(a).toBeLessThan(b);
          expect(a).toBeGreaterThanOrEqual(0);
          expect(b).toBeLessThan(n);
          expect(inRound.has(a) || inRound.has(b)).toBe(false);
          inRound.add(a);
          inRound.add(b);
          const key = `${a}-${b}`;
          expect(seen.has(key)).toBe(false);
          seen.add(key);
        }
        if (n % 2 === 0) {
          expect(r.bye).toBeUndefined();
          expect(inRound.size).toBe(n);
        } else {
          // Everyone plays but the one with the bye.
          expect(r.bye).toBeDefined();
          expect(inRound.has(r.bye!)).toBe(false);
          expect(inRound.size).toBe(n - 1);
          byes.add(r.bye!);
        }
      }
      expect(seen.size).toBe((n * (n - 1)) / 2);
      expect(roundCount(n)).toBe(rounds.length);
      expect(scheduleRound(n, rounds.length - 1)).toEqual(rounds.at(-1));
      if (n % 2 === 1) expect(byes.size).toBe(n);
    });
  }

  it('has no rounds for fewer than two nodes and rejects nonsense', () => {
    expect(roundRobin(0)).toEqual([]);
    expect(roundRobin(1)).toEqual([]);
    expect(() => roundRobin(-1)).toThrow(RangeError);
    expect(() => roundRobin(2.5)).toThrow(RangeError);
  });
});

describe('k-batches and halves', () => {
  it('cover the nodes once, in batches of at most k', () => {
    expect(kBatches(10, 4)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(kBatches(4, 4)).toEqual([[0, 1, 2, 3]]);
    expect(kBatches(0, 3)).toEqual([]);
    expect(() => kBatches(4, 0)).toThrow(RangeError);
  });
  it('split a group into halves, the first the larger', () => {
    expect(halves([1, 2, 3, 4, 5])).toEqual([[1, 2, 3], [4, 5]]);
  });
});

describe('bisection levels', () => {
  it('halves, then quarters, disjoint groups of at least two, about log2 n levels', async () => {
    const { bisectionLevels } = await import('../src/fleet/schedule.js');
    expect(bisectionLevels([0, 1, 2, 3, 4, 5])).toEqual([[[0, 1, 2], [3, 4, 5]], [[0, 1], [3, 4]]]);
    expect(bisectionLevels([0, 1, 2, 3, 4, 5, 6, 7])).toEqual([[[0, 1, 2, 3], [4, 5, 6, 7]], [[0, 1], [2, 3], [4, 5], [6, 7]]]);
    for (const n of [2, 3, 9, 33, 100]) {
      const levels = bisectionLevels(Array.from({ length: n }, (_, i) => i));
      expect(levels.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
      for (const l of levels) {
        const all = l.flat();
        expect(new Set(all).size).toBe(all.length);
        expect(l.every((g) => g.length >= 2)).toBe(true);
      }
    }
  });
});

describe('the rounds a blamed node has measured again', () => {
  it('are all of them up to the cap, else the cap spread evenly over them', () => {
    expect(spreadPick([0, 1, 2, 3, 4], 8)).toEqual([0, 1, 2, 3, 4]);
    const picked = spreadPick(Array.from({ length: 4095 }, (_, i) => i), 8);
    expect(picked).toHaveLength(8);
    expect(new Set(picked).size).toBe(8);
    // Evenly spread: one from each eighth of the rounds.
    picked.forEach((r, i) => expect(Math.floor((r * 8) / 4095)).toBe(i));
  });
});
