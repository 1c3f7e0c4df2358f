/**
 * The paired gate (`gpubench compare --paired BASE1 HEAD1 BASE2 HEAD2 …`): BASE and HEAD
 * builds run alternately on the same machine in the same job, and each case is judged on
 * the ratios HEAD_i / BASE_i of runs taken moments apart. A host whose speed moves by tens
 * of percent for minutes at a time (a shared VM: the project's CI host slowed its lavapipe
 * matmul 20–40% for 1–3 minutes at a time, measured in bench/compare-aa.mjs) moves both
 * runs of a pair alike, so the ratio cancels what no set of stored baselines can tell from
 * a slower build. This is the randomized multiple interleaved trials of Abedi & Brecht
 * ("Conducting Repeatable Experiments in Highly Variable Cloud Computing Environments",
 * ICPE 2017), which Laaber, Scheuner & Leitner ("Software microbenchmarking in the cloud.
 * How bad is it really?", EMSE 2019) found lets same-instance A/B runs detect slowdowns that
 * separate runs cannot.
 *
 * Per case: d_i = ln(HEAD_i / BASE_i), each run's median (or with `statistic: 'min'` its
 * fastest sample), over the n pairs where both sides measured it; the ratio is exp(mean d);
 * the test is Student's paired t on the d_i (two-sided p against `alpha`), the interval
 * exp(mean d ± t · s / √n). A case regresses when the
 * ratio is beyond its threshold and the change is significant; a wrong result in any HEAD
 * run fails the gate, as in the unpaired gate.
 */
import { UsageError } from '../../harness/errors.js';
import type { CaseResult, ResultsFile } from '../../harness/results/schema.js';
import { caseOk, caseStats, headline } from '../cases.js';
import {
  baseSide, headSide, mismatchOf, refuseOtherTopologies, reportOf, runRef,
  type CaseComparison, type CompareOptions, type CompareReport, type CompareStatistic, type Side, type Verdict,
} from './compare.js';
import { outliersOf, studentTCdf, studentTQuantile } from './noise.js';
import { thresholdFor } from './thresholds.js';

/** Fewest pairs the report does not warn about: below it the t interval is wide (t(0.975, 3) = 3.18). */
export const MIN_PAIRS = 5;

/**
 * With `--statistic min`, one pair in this many at most may be left out as an outlier.
 * Two runs' fastest samples taken moments apart agree within a few percent, unless one of
 * the runs was slow from end to end (the host in a slow state for all of its seconds: on
 * this project's VM one run in 360 took 1.8x its neighbours' fastest 320³ call), the
 * one kind of noise a fastest sample cannot filter; a pair whose log ratio is beyond
 * OUTLIER_Z modified z-scores of the others' and alone out there (noise.ts `outliersOf`,
 * the rule the stored gate applies to its baselines) is that, not the build. With medians
 * the pairs' ratios scatter wider and heavier-tailed, and leaving out the widest made
 * identical builds look different (A/A false alarms 0 → 4 of 20 on the same runs), so
 * medians keep every pair.
 */
export const PAIRS_PER_OUTLIER = 5;

/** Student's paired t on log ratios: the geometric mean ratio, its interval and the two-sided p. */
export function pairedLogT(ratios: readonly number[], confidence = 0.95): { ratio: number; lo: number; hi: number; p: number } {
  const d = ratios.map(Math.log);
  const n = d.length;
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const ratio = Math.exp(mean);
  if (n < 2) return { ratio, lo: 0, hi: Number.POSITIVE_INFINITY, p: 1 };
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const se = sd / Math.sqrt(n);
  // Identical ratios in every pair: no scatter, so any shift at all is certain.
  if (!(se > 0)) return { ratio, lo: ratio, hi: ratio, p: mean === 0 ? 1 : 0 };
  const t = mean / se;
  const p = 2 * (1 - studentTCdf(Math.abs(t), n - 1));
  const half = studentTQuantile(1 - (1 - confidence) / 2, n - 1) * se;
  return { ratio, lo: Math.exp(mean - half), hi: Math.exp(mean + half), p: Math.max(0, Math.min(1, p)) };
}

const geomean = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

/** A run's time of a case by `statistic`. */
const runMs = (c: CaseResult, statistic: CompareStatistic) => (statistic === 'min' ? caseStats(c)!.minMs : caseStats(c)!.medianMs);

/** One side over the pairs: the geometric mean of its runs' medians (and of their fastest samples, when they are judged). */
function side(runs: CaseResult[], statistic: CompareStatistic): Side {
  const s = baseSide(runs, geomean(runs.map((c) => caseStats(c)!.medianMs)));
  return statistic === 'min' ? { ...s, minMs: geomean(runs.map((c) => caseStats(c)!.minMs)) } : s;
}

const isWrong = (c: CaseResult) => c.status === 'failed' || (c.check !== undefined && !c.check.passed);

function comparePairedCase(id: string, pairs: [CaseResult | undefined, CaseResult | undefined][], o: Required<Omit<CompareOptions, 'noiseK'>>): CaseComparison {
  const any = pairs.flatMap(([b, h]) => [h, b]).find((c): c is CaseResult => c !== undefined)!;
  const t = thresholdFor(any, o.thresholds, o.threshold);
  const out: CaseComparison = { id, workload: any.workload, verdict: 'unchanged', threshold: t };
  const unit = pairs.map(([b, h]) => headline(h ?? b ?? any)?.unit).find((u) => u !== undefined);
  if (unit) out.metricUnit = unit;
  const heads = pairs.map(([, h]) => h).filter((h): h is CaseResult => h !== undefined);
  const wrong = heads.findIndex(isWrong);
  if (wrong >= 0) {
    const h = heads[wrong]!;
    const why = h.check && !h.check.passed ? `wrong result in HEAD run ${pairs.findIndex(([, x]) => x === h) + 1} (rel. error ${h.check.maxRelError} > ${h.check.tolerance})` : `failed in HEAD run ${pairs.findIndex(([, x]) => x === h) + 1}`;
    return { ...out, verdict: 'failed', note: h.reason ? `${why}: ${h.reason}` : why };
  }
  if (heads.length === 0) return { ...out, verdict: 'missing', note: 'not in any HEAD run' };
  if (pairs.every(([b]) => b === undefined)) {
    const h = heads[heads.length - 1]!;
    const hs = headSide(h);
    return { ...out, verdict: 'new', ...(hs ? { head: o.statistic === 'min' ? { ...hs, minMs: caseStats(h)!.minMs } : hs } : {}) };
  }
  // Each measured pair keeps its number as given, for the notes.
  const measured = pairs.flatMap(([b, h], i) => (b && h && caseOk(b) && caseOk(h) && caseStats(b) && caseStats(h) ? [{ b, h, no: i + 1 }] : []));
  if (measured.length === 0) {
    const skipped = heads.every((h) => h.status === 'skipped');
    return { ...out, verdict: 'skipped', note: skipped ? 'skipped in HEAD' : 'no pair measured the case on both sides' };
  }
  out.base = side(measured.map(({ b }) => b), o.statistic);
  out.head = side(measured.map(({ h }) => h), o.statistic);
  const all = measured.map(({ b, h }) => runMs(h, o.statistic) / runMs(b, o.statistic));
  const outliers = o.statistic === 'min' ? outliersOf(all.map(Math.log), Math.floor(all.length / PAIRS_PER_OUTLIER)) : [];
  const ratios = all.filter((_, i) => !outliers.some((x) => x.index === i));
  out.pairs = { n: ratios.length, ratios: all, ...(outliers.length ? { leftOut: outliers.map((x) => x.index) } : {}) };
  const notes: string[] = [];
  if (measured.length < pairs.length) notes.push(`${measured.length} of ${pairs.length} pairs measured the case on both sides`);
  if (outliers.length) {
    notes.push(`${outliers.map((x) => `pair ${measured[x.index]!.no} (ratio ${all[x.index]!.toPrecision(3)}, z ${x.z.toFixed(1)})`).join(', ')} left out as an outlier: one of its runs was slow from end to end`);
  }
  if (ratios.length < 2) {
    notes.push('one pair: no test');
    return { ...out, ratio: ratios[0], verdict: Math.abs(ratios[0]! - 1) <= t ? 'unchanged' : 'insignificant', note: notes.join('; ') };
  }
  const r = pairedLogT(ratios, o.confidence);
  const significant = r.p < o.alpha;
  let verdict: Verdict;
  if (Math.abs(r.ratio - 1) <= t) verdict = 'unchanged';
  else if (!significant) verdict = 'insignificant';
  else verdict = r.ratio > 1 ? 'regressed' : 'improved';
  if (verdict === 'unchanged' && significant) notes.push('significant but within the threshold');
  if (verdict === 'insignificant') notes.push(`the ${ratios.length} pairs disagree (paired t p = ${r.p.toPrecision(2)})`);
  return { ...out, ratio: r.ratio, ci: [r.lo, r.hi], pValue: r.p, verdict, ...(notes.length ? { note: notes.join('; ') } : {}) };
}

/**
 * Compares HEAD runs with BASE runs taken alternately with them: pair i is `pairs[i]`.
 * @throws UsageError with fewer than 2 pairs, no case id in common, collectives of different
 *   topologies in a pair, or (unless `allowMismatch`) a pair run on different machines or stacks
 */
export function comparePaired(
  pairs: [ResultsFile, ResultsFile][],
  options: CompareOptions = {},
  labels: { pairs?: [string, string][] } = {},
): CompareReport {
  if (pairs.length < 2) throw new UsageError(`--paired needs at least 2 pairs of BASE and HEAD runs (got ${pairs.length}); ${MIN_PAIRS} or more give a usable test`, '--paired');
  const o = { threshold: 0.05, thresholds: [], alpha: 0.05, confidence: 0.95, iterations: 2000, allowMismatch: false, statistic: 'median' as CompareStatistic, ...options };
  const label = (i: number, j: 0 | 1) => labels.pairs?.[i]?.[j] ?? pairs[i]![j].run.id;
  const warnings: string[] = [];
  pairs.forEach(([b, h], i) => {
    // Every run of the job must be the same machine: each pair, and each BASE against the first HEAD too.
    const checks = i === 0 ? [[b, h, 'pair 1'] as const] : [[b, h, `pair ${i + 1}`] as const, [b, pairs[0]![1], `BASE ${i + 1} and HEAD 1`] as const];
    for (const [x, y, what] of checks) {
      const why = mismatchOf(x, y);
      if (!why) continue;
      const msg = `${what}: ${label(i, 0)} and ${y === h ? label(i, 1) : label(0, 1)} ran on different machines or stacks: ${why}`;
      if (!o.allowMismatch) throw new UsageError(`${msg}. Paired runs must share the machine (the point of pairing), or pass --allow-mismatch`);
      warnings.push(`${msg} (compared anyway: --allow-mismatch)`);
    }
    const baseById = new Map(b.cases.map((c) => [c.id, c]));
    refuseOtherTopologies(h.cases.filter((c) => baseById.has(c.id)).map((c) => [baseById.get(c.id)!, c]), { base: label(i, 0), head: label(i, 1) });
  });
  const maps = pairs.map(([b, h]) => [new Map(b.cases.map((c) => [c.id, c])), new Map(h.cases.map((c) => [c.id, c]))] as const);
  const ids = [...new Set(pairs.flatMap(([b, h]) => [...h.cases, ...b.cases].map((c) => c.id)))];
  if (!maps.some(([bm, hm]) => [...hm.keys()].some((id) => bm.has(id)))) throw new UsageError('no pair of BASE and HEAD runs has a case id in common: were they run with the same suite?');
  const cases = ids.map((id) => comparePairedCase(id, maps.map(([bm, hm]) => [bm.get(id), hm.get(id)]), o));
  if (pairs.length < MIN_PAIRS) warnings.push(`${pairs.length} pairs: the paired t interval is wide with so few (t(0.975, ${pairs.length - 1}) = ${studentTQuantile(0.975, pairs.length - 1).toFixed(2)}); ${MIN_PAIRS} or more are advised`);
  const heads = pairs.map(([, h], i) => runRef(h, label(i, 1)));
  return reportOf(cases, o, { baselines: pairs.map(([b], i) => runRef(b, label(i, 0))), head: heads[heads.length - 1]!, heads }, warnings);
}
