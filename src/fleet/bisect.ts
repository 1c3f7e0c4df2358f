/**
 * Whole-group and subgroup all-reduces in the verdict: pure functions from measured
 * samples to decisions.
 *
 * **Slow against the pairs.** A ring all-reduce of S bytes over k ranks moves 2(k−1)/k · S
 * bytes over every link of its ring, one after another in a pipeline, so its bus bandwidth
 * (busbw = S/t · 2(k−1)/k, nccl-tests' definition) can be no better than the slowest link of
 * the ring. The group's all-reduce is *slow against its pairs* when its median busbw is below
 * (1 − tolerance) × the median pair bandwidth of the ring's slowest link (ranks g[i] and
 * g[i+1 mod k], as `pairs` measured them) AND its busbw samples are significantly below that
 * link's bandwidth samples (two-sided Mann-Whitney, p < alpha).
 *
 * **Bisection.** Where the whole group is slow against its pairs and no link or node is
 * suspect for its links, the group is bisected (`bisectionLevels`): at each level every
 * group runs its own ring all-reduce, all at the same time, and a group is *slow* when its
 * median busbw is below the median of the level's other groups' medians by more than the
 * tolerance AND its samples differ significantly from theirs pooled. The search follows the
 * slow group: from the whole group, to its slow half, to that half's slow half, … and names
 * the last slow group whose own halves are not slow (the fault is between them), or a pair.
 *
 * As for nodes (verdict.ts), a group is slow only where its median also lies at least
 * `minMads` scaled MADs below the others' median: groups that run at once on shared hosts
 * (or a shared CPU) jitter together, and a rank test over 10 samples alone named a healthy
 * group on this 2-core VM. The spread is that of every group's samples about its own median,
 * on a log scale: a bisection level has two groups, so there is no spread *between* groups
 * to measure, only the samples' own scatter, and busbw scatters by ratios (a healthy half on
 * this VM: 0.36–0.92 GB/s; a half at a tenth of a core: 0.10–0.18). Measured on this VM
 * (6 ranks, 1 MiB): six healthy runs' halves lay 0.0–0.9 such MADs apart; a half with a rank
 * at 10% of a core, 4.1× slower, 4.95 (against the others' linear scatter: 2.3).
 *
 * **k-batches.** Consecutive groups of k ranks, all at once, judged as a level, but only
 * where each group has at least MIN_BLAME_LINKS others to be judged against (the rule that
 * node blame follows: a median of two groups is no reference).
 */
import { median } from 'simple-statistics';
import { mannWhitneyU } from '../harness/mann-whitney.js';
import { allReduceBusFactor } from '../collectives/algorithms/ring-allreduce.js';
import { MAD_SCALE, MIN_BLAME_LINKS, type Suspect } from './verdict.js';

/** busbw, GB/s, of an all-reduce of `bytes` over `ranks` taking `ms`. */
export const busbwGBps = (bytes: number, ranks: number, ms: number): number => (bytes / (ms / 1e3) / 1e9) * allReduceBusFactor(ranks);

/** The ring's slowest link as the pairs measured it: ranks, median and samples (GB/s). */
export interface RingPrediction {
  link: [number, number];
  busbwGBps: number;
  samplesGBps: number[];
}

/**
 * The busbw a ring over `group` (in ring order) can reach at most: its slowest link's
 * measured pair bandwidth. `bandwidthMBps(a, b)`: that pair's samples; undefined where a
 * link of the ring was not measured (then there is no prediction).
 */
export function ringPrediction(group: readonly number[], bandwidthMBps: (a: number, b: number) => readonly number[] | undefined): RingPrediction | undefined {
  let worst: RingPrediction | undefined;
  const links = group.length === 2 ? 1 : group.length;
  for (let i = 0; i < links; i++) {
    const [a, b] = [group[i]!, group[(i + 1) % group.length]!];
    const s = bandwidthMBps(Math.min(a, b), Math.max(a, b));
    if (!s?.length) return undefined;
    const gb = s.map((x) => x / 1e3);
    const m = median(gb);
    if (!worst || m < worst.busbwGBps) worst = { link: [Math.min(a, b), Math.max(a, b)], busbwGBps: m, samplesGBps: gb };
  }
  return worst;
}

/** Whether a group's all-reduce is slow against what its pairs predict (see the module note). */
export function slowAgainstPairs(busbwSamples: readonly number[], prediction: RingPrediction, tolerance: number, alpha: number): { slow: boolean; ratio: number; p: number } {
  const ratio = median([...busbwSamples]) / prediction.busbwGBps;
  const p = mannWhitneyU(busbwSamples, prediction.samplesGBps).p;
  return { slow: ratio < 1 - tolerance && p < alpha, ratio, p };
}

/** One group's all-reduce at a level: its ranks and busbw samples (GB/s). */
export interface GroupRun {
  ranks: number[];
  busbwGBps: number[];
  error?: string;
}

/** A group judged against the other groups of its level. */
export interface GroupJudged {
  ranks: number[];
  /** Median busbw, GB/s. */
  value: number;
  /** Median of the other groups' medians. */
  median: number;
  /** median/value − 1. */
  slowdown: number;
  p: number;
  /** How many scaled MADs (every group's samples about its own median, log scale) the value lies below the others' median (null: no spread). */
  mads: number | null;
  samples: number;
  slow: boolean;
}

/**
 * Each group that ran against the others of its level (none judged with fewer than
 * `minOthers` others: 1 for a bisection level's halves, MIN_BLAME_LINKS for k-batches).
 */
export function judgeGroups(level: readonly GroupRun[], tolerance: number, alpha: number, minMads: number, minOthers = 1): GroupJudged[] {
  const ran = level.filter((g) => g.busbwGBps.length > 0);
  if (ran.length < minOthers + 1) return [];
  const values = ran.map((g) => median([...g.busbwGBps]));
  // Every sample's distance from its own group's median, on a log scale (see the module note).
  const scatter = ran.flatMap((g, i) => g.busbwGBps.map((x) => Math.abs(Math.log(x / values[i]!))));
  const spread = MAD_SCALE * median(scatter);
  return ran.map((g, i) => {
    const others = ran.filter((_, j) => j !== i);
    const ref = median(values.filter((_, j) => j !== i));
    const value = values[i]!;
    const pooled = others.flatMap((o) => o.busbwGBps);
    const p = mannWhitneyU(g.busbwGBps, pooled).p;
    const mads = spread > 0 ? Math.log(ref / value) / spread : null;
    const slowdown = ref / value - 1;
    return { ranks: g.ranks, value, median: ref, slowdown, p, mads, samples: g.busbwGBps.length, slow: slowdown > tolerance && p < alpha && (mads === null || mads >= minMads) };
  });
}

/** Others a k-batch group needs to be judged against (node blame's rule). */
export const MIN_K_BATCH_OTHERS = MIN_BLAME_LINKS;

/** The group to look into next: the slowest slow group inside `within`, or undefined. */
export function slowestWithin(judged: readonly GroupJudged[], within: readonly number[]): GroupJudged | undefined {
  const inside = judged.filter((j) => j.slow && j.ranks.every((r) => within.includes(r)));
  return inside.sort((a, b) => b.slowdown - a.slowdown)[0];
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3));

/** A suspect subgroup, with its evidence. */
export function groupSuspect(j: GroupJudged, via: 'bisection' | 'k-batch', host: (rank: number) => string, context: string): Suspect {
  const who = `ranks ${j.ranks.join(',')} (${[...new Set(j.ranks.map(host))].join(',')})`;
  return {
    kind: 'group',
    ranks: j.ranks,
    via,
    metric: 'all-reduce busbw',
    unit: 'GB/s',
    value: j.value,
    median: j.median,
    slowdown: j.slowdown,
    mads: j.mads,
    p: j.p,
    samples: j.samples,
    evidence: `${who}: ring all-reduce busbw ${fmt(j.value)} GB/s vs median ${fmt(j.median)} GB/s of the other groups ${via === 'bisection' ? 'of its bisection level' : 'of the k-batch'} (${(j.slowdown * 100).toFixed(0)}% slower, ${j.mads === null ? 'no spread' : `${j.mads.toFixed(1)} MADs`}, p=${j.p.toExponential(1)}, ${j.samples} samples)${context ? `; ${context}` : ''}`,
  };
}
