/**
 * The verdict of `gpubench fleet`: pure functions from samples to suspects. Per metric,
 * every subject (a node, or a link between two nodes) has samples; its value is their
 * median, the fleet's reference the median of the subjects' values and its spread the MAD
 * (scaled by 1.4826, so it estimates a standard deviation for normal data). A subject is
 * *suspect* when it is slower than the fleet median by more than the tolerance AND its
 * samples differ significantly from the pooled samples of the others (two-sided
 * Mann-Whitney U, p < alpha) AND its value lies at least `minMads` scaled MADs from the
 * median: a big gap on few noisy samples, or a tiny but consistent one, is not enough
 * alone, and neither is a gap no bigger than the spread among the subjects (samples of one
 * subject are taken together, so a passing disturbance makes them look significant; the
 * spread between subjects is what says whether it stands out). A node is blamed for its links when every one of its links is
 * slower than the median of the links it is not on, by more than the tolerance, and
 * significantly so; those links are then explained by the node and not listed themselves.
 */
import { median } from 'simple-statistics';
import { percentile } from '../harness/stats.js';
import { pAgainstOthers, pFromRanks, quantileWithout, rankPooled } from './rank-sum.js';

/** Scale of the MAD that makes it a consistent estimator of σ for normal data. */
export const MAD_SCALE = 1.4826;

/** Which way is better for a metric. */
export type Better = 'higher' | 'lower';

/** One node or link and its samples of one metric. */
export interface Subject {
  /** `node` (one rank) or `link` (ranks [a, b]). */
  kind: 'node' | 'link';
  ranks: number[];
  samples: number[];
}

/** A metric over the fleet: what it measures, its unit, which way is better, its subjects. */
export interface MetricSeries {
  metric: string;
  unit: string;
  better: Better;
  /**
   * A subject's value from its samples: the median, or the 10th percentile (`p10`) for
   * latencies, whose right tail on a shared host is the scheduler's (a ping-pong that
   * waited for a time slice) while a slow link shifts every sample. @default median
   */
  statistic?: 'median' | 'p10';
  /**
   * Least gap from the median, in the metric's unit, that counts: below it a difference is
   * the measuring instrument's, not the subject's (e.g. the event-loop wake-ups in a
   * WebSocket ping-pong, tens of µs). @default 0
   */
  floor?: number;
  subjects: Subject[];
}

/** How strict the verdict is. */
export interface VerdictOptions {
  /** Fraction slower than the median that may be noise. @default 0.1 */
  tolerance?: number;
  /** Significance level of the Mann-Whitney test. @default 0.01 */
  alpha?: number;
  /**
   * Least distance from the median, in scaled MADs (a MAD of 0 counts as infinitely far).
   * Iglewicz and Hoaglin's outlier rule uses 3.5; on a noisy fleet (or many ranks on a
   * shared host) healthy subjects reach 4, while real faults sit at tens. @default 5
   */
  minMads?: number;
}

/** The judgement of one subject on one metric. */
export interface Judged {
  kind: 'node' | 'link';
  ranks: number[];
  metric: string;
  unit: string;
  /** The series' statistic (median, or p10 for latencies) of the subject's samples. */
  value: number;
  /** Median of the reference subjects' values (the fleet, or for link blame the links without the node). */
  median: number;
  /** How much slower than the median: value/median − 1 (lower is better) or median/value − 1 (higher is better); negative when faster. */
  slowdown: number;
  /** |value − median| in scaled MADs; null where the MAD is 0. */
  mads: number | null;
  /** Two-sided Mann-Whitney p against the pooled samples of the reference subjects. */
  p: number;
  samples: number;
  suspect: boolean;
}

/** A suspect with its evidence: a node (directly, or via its links), a link, a group of ranks (bisection, k-batch), or a rank lost mid-run. */
export interface Suspect {
  kind: 'node' | 'link' | 'lost' | 'group';
  ranks: number[];
  /**
   * How it was found: `node` metric, `links` (every link of the node slow), `link`, `lost`,
   * `bisection` (the slow subgroup of a whole-group all-reduce slower than its pairs), `k-batch`.
   */
  via: 'node' | 'links' | 'link' | 'lost' | 'bisection' | 'k-batch';
  metric: string;
  unit: string;
  value: number | null;
  median: number | null;
  slowdown: number | null;
  mads: number | null;
  p: number | null;
  samples: number;
  /** One line a person can act on. */
  evidence: string;
}

/** Median absolute deviation (unscaled) of `xs` around `center` (their median by default). */
export function mad(xs: readonly number[], center = median([...xs])): number {
  if (xs.length === 0) return NaN;
  return median(xs.map((x) => Math.abs(x - center)));
}

/** How much slower `value` is than `ref`, as a fraction (negative: faster). */
export function slowdownOf(value: number, ref: number, better: Better): number {
  return better === 'lower' ? value / ref - 1 : ref / value - 1;
}

/** A subject's value: the series' statistic of its samples. */
export function valueOf(samples: readonly number[], statistic: MetricSeries['statistic'] = 'median'): number {
  return statistic === 'p10' ? percentile([...samples].sort((a, b) => a - b), 0.1) : median([...samples]);
}

const withDefaults = (o: VerdictOptions = {}): Required<VerdictOptions> => ({ tolerance: o.tolerance ?? 0.1, alpha: o.alpha ?? 0.01, minMads: o.minMads ?? 5 });

/** Whether a judged subject clears every bar: slower than the tolerance, significant, far out in MADs. */
const clears = (j: Pick<Judged, 'slowdown' | 'p' | 'mads' | 'value' | 'median'>, o: Required<VerdictOptions>, floor = 0) =>
  j.slowdown > o.tolerance && j.p < o.alpha && (j.mads === null || j.mads >= o.minMads) && Math.abs(j.value - j.median) > floor;

/**
 * Judges every subject of a metric against the fleet: the reference is every subject
 * (itself included, so the median is the fleet's), the significance test pools the others.
 * Fewer than three subjects cannot say which one is the odd one out: none is suspect then.
 * O(M log M) for M samples in all: one ranking serves every subject's test (rank-sum.ts).
 */
export function judgeSeries(series: MetricSeries, opts?: VerdictOptions): Judged[] {
  const o = withDefaults(opts);
  const live = series.subjects.filter((s) => s.samples.length > 0);
  const values = live.map((x) => valueOf(x.samples, series.statistic));
  const fleetMedian = values.length ? median(values) : NaN;
  const spread = values.length ? MAD_SCALE * mad(values, fleetMedian) : NaN;
  const ps = pAgainstOthers(live.map((s) => s.samples));
  return live.map((s, i) => {
    const value = values[i]!;
    const out: Judged = {
      kind: s.kind,
      ranks: s.ranks,
      metric: series.metric,
      unit: series.unit,
      value,
      median: fleetMedian,
      slowdown: slowdownOf(value, fleetMedian, series.better),
      mads: spread > 0 ? Math.abs(value - fleetMedian) / spread : null,
      p: ps[i]!,
      samples: s.samples.length,
      suspect: false,
    };
    return { ...out, suspect: live.length >= 3 && clears(out, o, series.floor) };
  });
}

/** Fewest links of a node, and of the links it is not on, that can blame it. */
export const MIN_BLAME_LINKS = 3;

/**
 * Fewest scaled MADs (of the links it is not on) a blamed node's links must lie from their
 * median: far lower than `minMads`, since a busy host widens the others' spread (a port at a
 * quarter of the rate among healthy links spread over 40–100% lies only ~2 MADs out), but not
 * none — a healthy rank of 6 on a 2-core VM, its process placed badly for a whole run, had
 * every link 35% slower and p = 2.3e-5, at 1.2 MADs. (Narrowed ports on the namespace
 * cluster lie 13–137 MADs out.)
 */
export const BLAME_MIN_MADS = 1.5;

/**
 * Nodes to blame for slow links: a node all of whose links (at least three, against at least
 * three links it is not on, so at least four unsuspected nodes) are slower than
 * the median of the links it is not on by more than the tolerance and worse than three
 * quarters of those links, with its links' pooled samples significantly different from
 * theirs, and at least BLAME_MIN_MADS scaled MADs of those links from their median (a lower
 * bar than a node's own metrics: that every link of the node is among the worst, each
 * measured in a different round, is the robust part; a busy host widens the others' spread).
 * `suspects`: nodes known to be bad already, whose links are left out on both sides.
 *
 * O(L log L) per node blamed, for L links: each pass ranks the links once; a node's
 * reference (the links it is not on) is every link minus its own, so its median and
 * quartile are order statistics of the sorted values with the node's taken out
 * (`quantileWithout`) and its test is a rank sum in the pass's one ranking.
 */
export function blameNodes(links: MetricSeries, opts?: VerdictOptions, suspects: ReadonlySet<number> = new Set()): Judged[] {
  const o = withDefaults(opts);
  const live = links.subjects.filter((s) => s.samples.length > 0);
  const value = live.map((s) => valueOf(s.samples, links.statistic));
  const blamed: Judged[] = [];
  // Links at nodes already suspect (slow, lost, or blamed in an earlier pass) are no
  // reference: two bad nodes would otherwise hide each other. The worst node is blamed
  // first, then the rest are judged again without its links.
  const out = new Set(suspects);
  for (;;) {
    const active: number[] = [];
    const byNode = new Map<number, number[]>();
    live.forEach((s, i) => {
      if (s.ranks.some((r) => out.has(r))) return;
      active.push(i);
      for (const r of s.ranks) {
        let l = byNode.get(r);
        if (!l) byNode.set(r, (l = []));
        l.push(i);
      }
    });
    const sortedValues = Float64Array.from(active.map((i) => value[i]!)).sort();
    const pool = rankPooled(active.map((i) => live[i]!.samples));
    const rankSums = new Float64Array(live.length);
    for (const i of active) rankSums[i] = pool.rankSum(live[i]!.samples);
    let worst: Judged | undefined;
    for (const [node, mine] of [...byNode].sort((a, b) => a[0] - b[0])) {
      const others = active.length - mine.length;
      // Too few links to tell a node from chance: with 3 nodes, one of them always has both
      // its links below the third (measured here: a healthy rank blamed in 2 runs of 3).
      if (mine.length < MIN_BLAME_LINKS || others < MIN_BLAME_LINKS) continue;
      const values = mine.map((i) => value[i]!);
      const removed = Float64Array.from(values).sort();
      const ref = quantileWithout(sortedValues, removed, 0.5);
      if (!values.every((v) => slowdownOf(v, ref, links.better) > o.tolerance)) continue;
      // Every link worse than three quarters of the others: for a healthy node whose links
      // fall anywhere in the spread, that is (1/4)^(n−1) — the ensemble is the evidence, so
      // a wide spread among the other links (a busy host) does not hide a narrow node.
      const quarter = quantileWithout(sortedValues, removed, links.better === 'higher' ? 0.25 : 0.75);
      if (!values.every((v) => (links.better === 'higher' ? v < quarter : v > quarter))) continue;
      const pooled = mine.flatMap((i) => live[i]!.samples);
      const v = valueOf(pooled, links.statistic);
      const p = pFromRanks(mine.reduce((a, i) => a + rankSums[i]!, 0), pooled.length, pool, () => [pooled, active.filter((i) => !mine.includes(i)).flatMap((i) => live[i]!.samples)]);
      const j: Judged = { kind: 'node', ranks: [node], metric: links.metric, unit: links.unit, value: v, median: ref, slowdown: slowdownOf(v, ref, links.better), mads: null, p, samples: pooled.length, suspect: true };
      const ok = j.slowdown > o.tolerance && j.p < o.alpha && Math.abs(j.value - j.median) > (links.floor ?? 0);
      if (!ok || (worst && j.slowdown <= worst.slowdown)) continue;
      // The spread of the links it is not on, O(L), only for a node that passed the rest.
      const refValues = active.filter((i) => !live[i]!.ranks.includes(node)).map((i) => value[i]!);
      const spread = MAD_SCALE * mad(refValues, ref);
      const mads = spread > 0 ? Math.abs(j.value - ref) / spread : null;
      if (mads !== null && mads < BLAME_MIN_MADS) continue;
      worst = { ...j, mads };
    }
    if (!worst) return blamed;
    blamed.push(worst);
    out.add(worst.ranks[0]!);
  }
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3));

/** The evidence line of a judged subject. */
function evidence(j: Judged, via: Suspect['via'], host: (rank: number) => string): string {
  const who = j.ranks.map((r) => `rank ${r} (${host(r)})`).join(' ↔ ');
  const what = via === 'links' ? `its links' ${j.metric}` : j.metric;
  return `${who}: ${what} ${fmt(j.value)} ${j.unit} vs median ${fmt(j.median)} ${j.unit} (${(j.slowdown * 100).toFixed(0)}% slower, ${j.mads === null ? '∞' : j.mads.toFixed(1)} MADs, p=${j.p.toExponential(1)}, ${j.samples} samples)`;
}

/** A suspect from a judged subject. */
export function suspectOf(j: Judged, via: Suspect['via'], host: (rank: number) => string = () => '?'): Suspect {
  return {
    kind: j.kind,
    ranks: j.ranks,
    via,
    metric: j.metric,
    unit: j.unit,
    value: j.value,
    median: j.median,
    slowdown: j.slowdown,
    mads: j.mads,
    p: j.p,
    samples: j.samples,
    evidence: evidence(j, via, host),
  };
}

/** The whole verdict: node metrics, link metrics (with blame) and the ranks lost on the way. */
export interface VerdictInput {
  nodeMetrics: MetricSeries[];
  linkMetrics: MetricSeries[];
  lost?: { rank: number; reason: string }[];
  /** Host of a rank, for the evidence. */
  host?: (rank: number) => string;
}

/**
 * Every suspect, worst first: lost ranks, then by how much slower they are. Links at a
 * node that is suspect already (slow, lost, or blamed for its links) are left out: the
 * node is the suspect; links between nodes above suspicion stay, as links.
 */
export function verdict(input: VerdictInput, opts?: VerdictOptions): { suspects: Suspect[]; judged: Judged[] } {
  const host = input.host ?? (() => '?');
  const suspects: Suspect[] = (input.lost ?? []).map((l) => ({
    kind: 'lost', ranks: [l.rank], via: 'lost', metric: 'alive', unit: '', value: null, median: null, slowdown: null, mads: null, p: null, samples: 0,
    evidence: `rank ${l.rank} (${host(l.rank)}): ${l.reason}`,
  }));
  const judged: Judged[] = [];
  const ranked: Suspect[] = [];
  // A slow link at a node already suspect (slow itself, lost, or blamed for its links) is
  // that node's doing as far as anyone can tell: it is not listed as a link of its own.
  const explained = new Set((input.lost ?? []).map((l) => l.rank));
  for (const s of input.nodeMetrics) {
    const js = judgeSeries(s, opts);
    for (const j of js) judged.push(j);
    for (const j of js) if (j.suspect) {
      ranked.push(suspectOf(j, 'node', host));
      explained.add(j.ranks[0]!);
    }
  }
  for (const s of input.linkMetrics) {
    for (const b of blameNodes(s, opts, explained)) {
      ranked.push(suspectOf(b, 'links', host));
      explained.add(b.ranks[0]!);
    }
  }
  // The links left, judged against each other: a slow one among them is a link of its own.
  for (const s of input.linkMetrics) {
    const js = judgeSeries({ ...s, subjects: s.subjects.filter((x) => !x.ranks.some((r) => explained.has(r))) }, opts);
    for (const j of js) judged.push(j);
    for (const j of js) if (j.suspect) ranked.push(suspectOf(j, 'link', host));
  }
  ranked.sort((a, b) => (b.slowdown ?? 0) - (a.slowdown ?? 0));
  return { suspects: [...suspects, ...ranked], judged };
}

/** The ranks a verdict names (lost, slow nodes, nodes blamed for links, both ends of a slow link). */
export function suspectRanks(suspects: readonly Suspect[]): number[] {
  return [...new Set(suspects.flatMap((s) => s.ranks))].sort((a, b) => a - b);
}
