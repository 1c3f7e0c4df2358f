import { describe, expect, it } from 'vitest';
import { roundRobin, pairsOf } from '../src/fleet/schedule.js';
import { blameNodes, judgeSeries, mad, suspectRanks, verdict, type MetricSeries } from '../src/fleet/verdict.js';

/** Deterministic noise: a small LCG, so the tests see the same "random" samples every run. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}
const noisy = (rand: () => number, center: number, spread: number, n = 20) => Array.from({ length: n }, () => center * (1 + spread * (2 * rand() - 1)));

function nodeSeries(n: number, slow: Record<number, number>, spread = 0.03, seed = 1): MetricSeries {
  const rand = rng(seed);
  return {
    metric: 'matmul time', unit: 'ms', better: 'lower',
    subjects: Array.from({ length: n }, (_, r) => ({ kind: 'node' as const, ranks: [r], samples: noisy(rand, 10 * (slow[r] ?? 1), spread) })),
  };
}

/** Pair bandwidth where a link's rate is the slower of its two ends' (like a limited NIC). */
function linkSeries(n: number, nodeRate: Record<number, number>, spread = 0.05, seed = 2): MetricSeries {
  const rand = rng(seed);
  const subjects = roundRobin(n).flatMap((r) => pairsOf(r)).map(([a, b]) => ({
    kind: 'link' as const, ranks: [a, b], samples: noisy(rand, 1000 * Math.min(nodeRate[a] ?? 1, nodeRate[b] ?? 1), spread, 10),
  }));
  return { metric: 'pair bandwidth', unit: 'MB/s', better: 'higher', subjects };
}

describe('median and MAD', () => {
  it('are robust to one outlier', () => {
    expect(mad([1, 2, 3, 4, 100])).toBe(1);
    expect(mad([5, 5, 5])).toBe(0);
  });
});

describe('the fleet verdict on synthetic data', () => {
  it('names a clear outlier node, and only it', () => {
    const js = judgeSeries(nodeSeries(8, { 5: 1.5 }));
    expect(js.filter((j) => j.suspect).map((j) => j.ranks)).toEqual([[5]]);
    const five = js.find((j) => j.ranks[0] === 5)!;
    expect(five.slowdown).toBeGreaterThan(0.4);
    expect(five.p).toBeLessThan(1e-4);
    expect(five.mads).toBeGreaterThan(5);
  });

  it('names no one in a healthy fleet', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { suspects } = verdict({ nodeMetrics: [nodeSeries(16, {}, 0.05, seed)], linkMetrics: [linkSeries(16, {}, 0.05, seed + 100)] });
      expect(suspects).toEqual([]);
    }
  });

  it('names no one for a consistent difference within the tolerance', () => {
    // 6% slower on every sample: significant, but within the 10% tolerance.
    const { suspects } = verdict({ nodeMetrics: [nodeSeries(8, { 2: 1.06 }, 0.01)], linkMetrics: [] });
    expect(suspects).toEqual([]);
  });

  it('names no one for a big gap on a few noisy samples', () => {
    const s = nodeSeries(8, {}, 0.02);
    s.subjects[3]!.samples = [8, 16]; // median 12 (+20%), two samples spread widely
    expect(judgeSeries(s).filter((j) => j.suspect)).toEqual([]);
  });

  it('names no one for a significant gap no bigger than the spread between subjects', () => {
    // Every link's samples are tight, but the links differ among themselves by ±15%:
    // one 14% slower link is within that spread (about 1 MAD), not an outlier.
    const rand = rng(7);
    const s: MetricSeries = {
      metric: 'pair latency', unit: 'µs', better: 'lower',
      subjects: [100, 85, 115, 92, 108, 96, 104, 114].map((c, i) => ({ kind: 'link' as const, ranks: [i, i + 1], samples: noisy(rand, c, 0.01, 50) })),
    };
    const worst = judgeSeries(s).find((j) => j.ranks[0] === 2)!;
    expect(worst.slowdown).toBeGreaterThan(0.1);
    expect(worst.p).toBeLessThan(0.01);
    expect(worst.suspect).toBe(false);
  });

  it('names no one for a gap under the floor of the metric', () => {
    const s = nodeSeries(8, { 4: 1.5 }, 0.01);
    expect(judgeSeries(s).filter((j) => j.suspect).map((j) => j.ranks)).toEqual([[4]]);
    // 15 of 10 is 5 units from the median: under a floor of 6, not evidence.
    expect(judgeSeries({ ...s, floor: 6 }).some((j) => j.suspect)).toBe(false);
  });

  it('with fewer than three subjects names no one', () => {
    expect(judgeSeries(nodeSeries(2, { 1: 2 })).some((j) => j.suspect)).toBe(false);
  });

  it('blames a node whose every link is slow, not its healthy peers', () => {
    for (const n of [4, 6, 9]) {
      const links = linkSeries(n, { 1: 0.25 });
      expect(blameNodes(links).map((b) => b.ranks)).toEqual([[1]]);
      const { suspects } = verdict({ nodeMetrics: [], linkMetrics: [links], host: (r) => `node${r}` });
      // The node, not its five links, is the suspect.
      expect(suspects.map((s) => [s.via, s.ranks])).toEqual([['links', [1]]]);
      expect(suspects[0]!.evidence).toMatch(/^rank 1 \(node1\): its links' pair bandwidth .* slower/);
    }
  });

  it('finds two narrow nodes, and a narrow one beside a slow one', () => {
    const links = linkSeries(8, { 2: 0.25, 6: 0.3 });
    expect(blameNodes(links).map((b) => b.ranks[0]).sort()).toEqual([2, 6]);
    // Node 5 computes slowly and its links are slow too (a CPU-bound sender): it is named by
    // its matmul, and node 3 by its links, which node 5's would otherwise drown out.
    const both = linkSeries(6, { 3: 0.25, 5: 0.22 });
    const { suspects } = verdict({ nodeMetrics: [nodeSeries(6, { 5: 3 })], linkMetrics: [both] });
    expect(suspects.map((s) => [s.via, s.ranks[0]]).sort()).toEqual([['links', 3], ['node', 5]]);
  });

  it('blames a narrow node even when the other links spread widely', () => {
    // Healthy links anywhere from 40% to 100% of the rate (a busy host), node 4's all at 25%.
    const links = linkSeries(6, { 4: 0.25 }, 0.02);
    const rand = rng(11);
    for (const s of links.subjects) if (!s.ranks.includes(4)) { const f = 0.4 + 0.6 * rand(); s.samples = s.samples.map((x) => x * f); }
    expect(blameNodes(links).map((b) => b.ranks[0])).toEqual([4]);
  });

  it('does not blame a node whose links are all among the worst but within the others\' spread (under 1.5 MADs)', () => {
    // Healthy links spread 50–100% of the rate (six processes on two cores); node 1's all at
    // 55%: below the lower quartile, significant, ~35% slower, yet ~1.1 scaled MADs out
    // (as a badly placed healthy rank measured in a CI dry run).
    const links = linkSeries(6, {}, 0.02);
    const rand = rng(5);
    for (const s of links.subjects) {
      const f = s.ranks.includes(1) ? 0.55 : 0.5 + 0.5 * rand();
      s.samples = s.samples.map((x) => x * f);
    }
    expect(blameNodes(links)).toEqual([]);
    // The same node at a quarter of the rate is many MADs out: blamed.
    for (const s of links.subjects) if (s.ranks.includes(1)) s.samples = s.samples.map((x) => (x * 0.25) / 0.55);
    expect(blameNodes(links).map((b) => b.ranks)).toEqual([[1]]);
  });

  it('blames no node among three: both links of one of them always fall below the third', () => {
    // Even a node at a quarter of the rate: 2 links against 1 cannot tell it from chance.
    expect(blameNodes(linkSeries(3, { 1: 0.25 }))).toEqual([]);
    expect(blameNodes(linkSeries(3, {}, 0.5))).toEqual([]);
  });

  it('does not blame a node whose links are slower only within the tolerance', () => {
    const links = linkSeries(6, {}, 0.02);
    for (const s of links.subjects) if (s.ranks.includes(1)) s.samples = s.samples.map((x) => x * 0.94);
    expect(blameNodes(links)).toEqual([]);
  });

  it('names a single bad link between healthy nodes as a link', () => {
    const links = linkSeries(6, {});
    const bad = links.subjects.find((s) => s.ranks[0] === 2 && s.ranks[1] === 4)!;
    bad.samples = bad.samples.map((x) => x / 3);
    const { suspects } = verdict({ nodeMetrics: [], linkMetrics: [links] });
    expect(suspects.map((s) => [s.via, s.ranks])).toEqual([['link', [2, 4]]]);
  });

  it('folds a slow link at a slow node into that node', () => {
    const links = linkSeries(6, {});
    const bad = links.subjects.find((s) => s.ranks[0] === 2 && s.ranks[1] === 3)!;
    bad.samples = bad.samples.map((x) => x / 3);
    const { suspects } = verdict({ nodeMetrics: [nodeSeries(6, { 3: 2 })], linkMetrics: [links] });
    expect(suspects.map((s) => [s.via, s.ranks])).toEqual([['node', [3]]]);
  });

  it('ranks lost ranks first, then by slowdown', () => {
    const { suspects } = verdict({ nodeMetrics: [nodeSeries(8, { 1: 1.3, 6: 2 })], linkMetrics: [], lost: [{ rank: 3, reason: 'no heartbeat' }] });
    expect(suspects.map((s) => s.ranks[0])).toEqual([3, 6, 1]);
    expect(suspectRanks(suspects)).toEqual([1, 3, 6]);
  });
});
