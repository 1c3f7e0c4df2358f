/**
 * The verdict's one-ranking Mann-Whitney (each subject against all the others pooled) gives
 * the answers of testing each subject against a fresh pool, and the order statistics "with
 * these values taken out" those of the list without them.
 */
import { describe, expect, it } from 'vitest';
import { mannWhitneyU } from '../src/harness/mann-whitney.js';
import { percentile } from '../src/harness/stats.js';
import { EXACT_MAX_MN, pAgainstOthers, quantileWithout } from '../src/fleet/rank-sum.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('Mann-Whitney of every subject against the others, from one ranking', () => {
  it('matches mannWhitneyU(subject, others pooled) with and without ties, exact and asymptotic', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rand = rng(seed);
      const subjects = 3 + Math.floor(rand() * 8);
      const ties = seed % 3 === 0;
      const parts = Array.from({ length: subjects }, (_, i) => {
        const n = 2 + Math.floor(rand() * 12);
        const shift = i === 1 ? 0.5 : 0;
        return Array.from({ length: n }, () => (ties ? Math.round(rand() * 6) : rand() + shift));
      });
      const ps = pAgainstOthers(parts);
      parts.forEach((s, i) => {
        const others = parts.filter((_, j) => j !== i).flat();
        if (s.length * others.length > EXACT_MAX_MN) return;
        expect(ps[i]).toBeCloseTo(mannWhitneyU(s, others).p, 12);
      });
    }
  });

  it('uses the normal approximation where the exact table would be too big, and still tells an outlier', () => {
    const rand = rng(5);
    const parts = Array.from({ length: 200 }, (_, i) => Array.from({ length: 8 }, () => rand() * (i === 7 ? 0.5 : 1) + (i === 7 ? 0 : 0.6)));
    const ps = pAgainstOthers(parts);
    expect(ps[7]).toBeLessThan(1e-5);
    expect(ps.filter((p) => p < 0.01).length).toBeLessThan(10);
  });
});

describe('quantiles with some values taken out', () => {
  it('equal the quantiles of the list without them', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rand = rng(seed);
      const all = Array.from({ length: 5 + Math.floor(rand() * 40) }, () => Math.round(rand() * (seed % 2 ? 10 : 1e6)));
      const sorted = Float64Array.from(all).sort();
      const take = all.filter(() => rand() < 0.3).slice(0, all.length - 1);
      const rest = [...all];
      for (const x of take) rest.splice(rest.indexOf(x), 1);
      rest.sort((a, b) => a - b);
      for (const p of [0, 0.1, 0.25, 0.5, 0.75, 1]) expect(quantileWithout(sorted, Float64Array.from(take).sort(), p)).toBeCloseTo(percentile(rest, p), 9);
    }
  });
});
