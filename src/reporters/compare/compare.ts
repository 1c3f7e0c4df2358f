/**
 * The regression gate: match the baselines' and HEAD's cases by id, estimate HEAD's time
 * ratio with a bootstrap interval, test the shift with Mann-Whitney U, and classify each
 * case. With several baseline runs, a change must also exceed the case's run-to-run noise
 * floor (noise.ts); a regression fails the gate only when it is beyond the case's
 * threshold, beyond that floor and significant, so identical code passes. A wrong result
 * in HEAD always fails. Baselines measured on another GPU, driver, stack version or
 * topology are refused (exit 2): the numbers would measure another machine.
 */
import type { CaseResult, ResultsFile } from '../../harness/results/schema.js';
import { UsageError } from '../../harness/errors.js';
import { caseOk, caseStats, headline, sig } from '../cases.js';
import { differingFacts } from './fingerprint.js';
import { bootstrapRatioOverRuns, NOISE_LEVEL, noiseFloor, type NoiseFloor } from './noise.js';
import { bootstrapRatioOfMedians, hashString, mannWhitneyU, median } from './stats.js';
import type { CompareStatistic } from './statistic.js';
import { thresholdFor, type ThresholdRule } from './thresholds.js';

export { parseThreshold } from './thresholds.js';
export { COMPARE_STATISTICS, type CompareStatistic } from './statistic.js';

/** What happened to a case between the baselines and HEAD. */
export type Verdict =
  /** HEAD's result was wrong or the case failed: always fails the gate. */
  | 'failed'
  /** Significantly slower by more than the threshold and the noise floor: fails the gate. */
  | 'regressed'
  /** Significantly faster by more than the threshold and the noise floor. */
  | 'improved'
  /** Within the threshold (whether or not the small shift is significant). */
  | 'unchanged'
  /** The median moved beyond the threshold, but within the run-to-run noise floor or not significantly. */
  | 'insignificant'
  /** Skipped in the baselines or HEAD. */
  | 'skipped'
  /** In the baselines only. */
  | 'missing'
  /** In HEAD only. */
  | 'new';

/** Order verdicts are listed in: what needs attention first. */
export const VERDICTS: Verdict[] = ['failed', 'regressed', 'improved', 'insignificant', 'unchanged', 'skipped', 'missing', 'new'];

/** Options of the gate. */
export interface CompareOptions {
  /** Relative change in median time that matters, where no rule names the case. @default 0.05 */
  threshold?: number;
  /** Per-workload or per-case thresholds (thresholds.ts). */
  thresholds?: ThresholdRule[];
  /** Significance level of the Mann-Whitney test. @default 0.05 */
  alpha?: number;
  /** Level of the bootstrap interval. @default 0.95 */
  confidence?: number;
  /** Bootstrap resamples. @default 2000 */
  iterations?: number;
  /** A fixed multiplier of the run-to-run spread; default: Student's t quantile for the number of baselines. */
  noiseK?: number;
  /** Compare baselines from another GPU, driver or stack version anyway, with a warning. @default false */
  allowMismatch?: boolean;
  /** A run's time of a case (`min`: paired comparisons only). @default 'median' */
  statistic?: CompareStatistic;
}

/** One side of a compared case. */
export interface Side {
  /** HEAD: its median; baselines: the geometric mean of the runs' medians. */
  medianMs: number;
  /** With `statistic: 'min'`: the fastest sample (several runs: the geometric mean of their fastest samples). */
  minMs?: number;
  /** Samples (all baseline runs together). */
  samples: number;
  /** Headline metric (TFLOP/s or busbw GB/s) when the case has one (baselines: the median over runs). */
  metric?: number;
  status: CaseResult['status'];
}

/** One compared case. */
export interface CaseComparison {
  id: string;
  workload?: string;
  verdict: Verdict;
  base?: Side;
  head?: Side;
  /** median(HEAD time) / baseline time: above 1 is slower. */
  ratio?: number;
  /** Bootstrap interval of `ratio`. */
  ci?: [number, number];
  /** Two-sided Mann-Whitney U p-value, HEAD's samples against the baselines' pooled samples. */
  pValue?: number;
  /** The threshold that applied to this case. */
  threshold?: number;
  /** Run-to-run noise of the case over the baselines that measured it. */
  noise?: NoiseFloor;
  /**
   * Paired comparisons (`--paired`): each pair's HEAD / BASE time ratio, in order, over the
   * pairs that measured the case on both sides; `n` of them tested (`leftOut`: indices into
   * `ratios` of outlier pairs left out, `--statistic min` only).
   */
  pairs?: { n: number; ratios: number[]; leftOut?: number[] };
  /** Unit of `metric` on each side. */
  metricUnit?: string;
  /** Why, in words. */
  note?: string;
}

/** A results file in a comparison. */
export interface RunRef {
  runId: string;
  hostname: string;
  label: string;
}

/** The gate's output, also written as `--format json`. */
export interface CompareReport {
  schema: 'gpubench.compare/v1';
  /** The default threshold (cases may have their own: `cases[].threshold`). */
  threshold: number;
  alpha: number;
  confidence: number;
  /** One-sided level of the noise floor's default k. */
  noiseLevel: number;
  /** What stands for a run's time of a case: `ratio` is HEAD's over BASE's. */
  statistic: CompareStatistic;
  /** The fixed k, when one was given. */
  noiseK?: number;
  /** The first baseline (the only one in a two-file comparison). */
  base: RunRef;
  /** Every baseline used, oldest first as given. */
  baselines: RunRef[];
  head: RunRef;
  counts: Record<Verdict, number>;
  /** True when a case regressed or failed: exit 1. */
  failed: boolean;
  /** Things that make the comparison less meaningful. */
  warnings: string[];
  cases: CaseComparison[];
  /** Paired comparisons (`--paired`): every HEAD run, in the order of `baselines` (pair i is baselines[i], heads[i]). */
  heads?: RunRef[];
}

/** A case's side of a comparison from one run: its median, samples and headline metric. */
export function headSide(c: CaseResult): Side | undefined {
  const st = caseStats(c);
  if (!st) return undefined;
  const h = headline(c);
  return { medianMs: st.medianMs, samples: c.samplesMs.length, status: c.status, ...(h ? { metric: h.value } : {}) };
}

/** A side measured by several runs: `centerMs` their central time, the samples counted over all, the median headline metric. */
export function baseSide(runs: CaseResult[], centerMs: number): Side {
  const metrics = runs.map((c) => headline(c)?.value).filter((v): v is number => v !== undefined);
  return {
    medianMs: centerMs,
    samples: runs.reduce((s, c) => s + c.samplesMs.length, 0),
    status: 'ok',
    ...(metrics.length ? { metric: median(metrics) } : {}),
  };
}

const pct = (x: number) => `${x >= 1 ? Math.round(x * 100) : (x * 100).toPrecision(3)}%`;

function compareCase(bases: CaseResult[], h: CaseResult, o: Required<Omit<CompareOptions, 'noiseK'>> & { noiseK?: number; multipleBaselines: boolean }): CaseComparison {
  const t = thresholdFor(h, o.thresholds, o.threshold);
  const out: CaseComparison = { id: h.id, workload: h.workload, verdict: 'unchanged', threshold: t };
  const hs = headSide(h);
  if (hs) out.head = hs;
  const unit = headline(h)?.unit ?? bases.map((b) => headline(b)?.unit).find((u) => u !== undefined);
  if (unit) out.metricUnit = unit;
  if (h.status === 'failed' || (h.check && !h.check.passed)) {
    const why = h.check && !h.check.passed ? `wrong result in HEAD (rel. error ${h.check.maxRelError} > ${h.check.tolerance})` : 'failed in HEAD';
    return { ...out, verdict: 'failed', note: h.reason ? `${why}: ${h.reason}` : why };
  }
  if (h.status === 'skipped') return { ...out, verdict: 'skipped', note: 'skipped in HEAD' };
  // A baseline run that skipped or failed the case says nothing about its speed.
  const measured = bases.filter((b) => caseOk(b) && caseStats(b) !== undefined);
  if (measured.length === 0) {
    if (bases.every((b) => b.status === 'skipped')) return { ...out, verdict: 'skipped', note: 'skipped in BASE' };
    return { ...out, verdict: 'new', note: 'failed in BASE, ok in HEAD: nothing to compare against' };
  }
  const noise = noiseFloor(measured.map((b) => caseStats(b)!.medianMs), o.noiseK);
  // An outlier baseline run says how noisy the host once was, not what this case takes: it
  // stays out of the center, the floor, the test and the interval alike.
  const runs = noise.outliers ? measured.filter((_, i) => !noise.outliers!.some((x) => x.index === i)) : measured;
  out.base = baseSide(runs, noise.centerMs);
  if (measured.length > 1) out.noise = noise;
  if (!hs || !(noise.centerMs > 0)) return { ...out, verdict: 'insignificant', note: 'no timing samples on one side' };
  // The change must clear the threshold and what the baselines' own scatter explains.
  const limit = Math.max(t, noise.floor);
  const beyond = (ratio: number) => ratio > 1 + limit || ratio < 1 / (1 + limit);
  const notes: string[] = [];
  if (measured.length === 1 && o.multipleBaselines) notes.push('1 baseline run measured this case: no run-to-run noise floor');
  if (noise.outliers) {
    const shown = noise.outliers.map((x) => `${sig(caseStats(measured[x.index]!)!.medianMs)} ms, z ${x.z.toFixed(1)}`).join('; ');
    notes.push(`${noise.outliers.length} of ${measured.length} baseline runs left out as outliers (${shown})`);
  }
  const pooled = runs.flatMap((b) => b.samplesMs);
  if (pooled.length < 2 || h.samplesMs.length < 2) {
    // Medians only: the change can be measured but not tested.
    const ratio = hs.medianMs / noise.centerMs;
    notes.push('fewer than 2 samples on a side: no significance test');
    if (Math.abs(ratio - 1) > t && !beyond(ratio)) notes.push(`within the run-to-run noise floor ±${pct(noise.floor)} of ${runs.length} baselines`);
    return { ...out, ratio, verdict: Math.abs(ratio - 1) <= t ? 'unchanged' : 'insignificant', note: notes.join('; ') };
  }
  const seed = hashString(h.id);
  const ci = runs.length === 1
    ? bootstrapRatioOfMedians(runs[0]!.samplesMs, h.samplesMs, { confidence: o.confidence, iterations: o.iterations, seed })
    : bootstrapRatioOverRuns(runs.map((b) => b.samplesMs), h.samplesMs, { confidence: o.confidence, iterations: o.iterations, seed });
  const mw = mannWhitneyU(pooled, h.samplesMs);
  // Both tests must agree: Mann-Whitney says the distributions differ, and the
  // interval on the ratio excludes "no change".
  const significant = mw.p < o.alpha && (ci.lo > 1 || ci.hi < 1);
  const ratio = ci.ratio;
  let verdict: Verdict;
  if (Math.abs(ratio - 1) <= t) verdict = 'unchanged';
  else if (!beyond(ratio)) {
    verdict = 'insignificant';
    notes.push(`within the run-to-run noise floor ±${pct(noise.floor)} of ${runs.length} baselines`);
  } else if (!significant) verdict = 'insignificant';
  else verdict = ratio > 1 ? 'regressed' : 'improved';
  if (verdict === 'unchanged' && significant) notes.push('significant but within the threshold');
  // Device time and host wall-clock differ systematically; flag it rather than trust the ratio blindly.
  const timers = [...new Set(runs.map((b) => b.timer).filter((x) => x !== undefined))];
  if (h.timer && timers.some((x) => x !== h.timer)) notes.push(`timer changed: ${timers.join(', ')} → ${h.timer}`);
  return { ...out, ratio, ci: [ci.lo, ci.hi], pValue: mw.p, verdict, ...(notes.length ? { note: notes.join('; ') } : {}) };
}

/** `4 ranks on 1 host`, from a collective case's params; undefined for other cases. */
function topologyOf(c: CaseResult): string | undefined {
  const p = c.params as { ranks?: unknown; nodes?: unknown };
  if (typeof p.ranks !== 'number') return undefined;
  const hosts = typeof p.nodes === 'number' ? p.nodes : undefined;
  return `${p.ranks} rank${p.ranks === 1 ? '' : 's'}${hosts !== undefined ? ` on ${hosts} host${hosts === 1 ? '' : 's'}` : ''}`;
}

/**
 * A collective measured on another topology is another case, even under the same id
 * (results written before ids carried the topology).
 * @throws UsageError naming the first cases whose ranks or hosts differ
 */
export function refuseOtherTopologies(pairs: [CaseResult, CaseResult][], labels: { base?: string; head?: string }): void {
  const differ = pairs.filter(([b, h]) => topologyOf(b) !== topologyOf(h));
  if (differ.length === 0) return;
  const shown = differ.slice(0, 3).map(([b, h]) => `${h.id}: ${topologyOf(b) ?? 'no ranks'} in BASE, ${topologyOf(h) ?? 'no ranks'} in HEAD`);
  throw new UsageError(
    `BASE${labels.base ? ` (${labels.base})` : ''} and HEAD${labels.head ? ` (${labels.head})` : ''} measured ${differ.length} collective case${differ.length === 1 ? '' : 's'} on different topologies, which are not comparable: ${shown.join('; ')}${differ.length > 3 ? '; …' : ''}`,
  );
}

/** Why a baseline does not describe HEAD's machine, in words; undefined when it does. */
export function mismatchOf(base: ResultsFile, head: ResultsFile): string | undefined {
  const baseIds = new Set(base.cases.map((c) => c.id));
  const backends = new Set(head.cases.filter((c) => baseIds.has(c.id)).map((c) => c.backend));
  const diffs = differingFacts(base, head, backends);
  if (diffs.length === 0) return undefined;
  return diffs.slice(0, 4).map((d) => `${d.fact}: '${d.base}' in BASE, '${d.head}' in HEAD`).join('; ') + (diffs.length > 4 ? '; …' : '');
}

/**
 * Compares HEAD with one or more validated baseline results files.
 * @throws UsageError when they share no case id, pair collectives of different topologies,
 *   or (unless `allowMismatch`) a baseline ran on another GPU, driver or stack version
 */
export function compareRuns(
  bases: ResultsFile[],
  head: ResultsFile,
  options: CompareOptions = {},
  labels: { bases?: string[]; head?: string } = {},
): CompareReport {
  if (bases.length === 0) throw new UsageError('no baseline results to compare against', 'BASE');
  if (options.statistic === 'min') throw new UsageError('--statistic min judges paired runs only (--paired BASE1 HEAD1 …): one HEAD run\'s fastest sample cannot be tested against stored baselines', '--statistic');
  const { noiseK, ...rest } = options;
  const o = { threshold: 0.05, thresholds: [], alpha: 0.05, confidence: 0.95, iterations: 2000, allowMismatch: false, statistic: 'median' as const, ...rest, multipleBaselines: bases.length > 1, ...(noiseK !== undefined ? { noiseK } : {}) };
  const baseLabel = (i: number) => labels.bases?.[i] ?? bases[i]!.run.id;
  const headLabel = labels.head ?? head.run.id;
  const warnings: string[] = [];
  bases.forEach((b, i) => {
    const why = mismatchOf(b, head);
    if (!why) return;
    const msg = `BASE ${baseLabel(i)} and HEAD ${headLabel} ran on different machines or stacks: ${why}`;
    if (!o.allowMismatch) throw new UsageError(`${msg}. Compare like with like (one baseline set per GPU model, driver and stack), or pass --allow-mismatch to compare anyway`);
    warnings.push(`${msg} (compared anyway: --allow-mismatch)`);
  });
  const baseById = bases.map((b) => new Map(b.cases.map((c) => [c.id, c])));
  const headById = new Map(head.cases.map((c) => [c.id, c]));
  bases.forEach((_, i) => {
    const common = head.cases.filter((c) => baseById[i]!.has(c.id));
    refuseOtherTopologies(common.map((h) => [baseById[i]!.get(h.id)!, h]), { base: baseLabel(i), head: headLabel });
  });
  if (!head.cases.some((c) => baseById.some((m) => m.has(c.id)))) {
    const n = bases.length === 1 ? `BASE (${baseLabel(0)}, ${bases[0]!.cases.length} cases)` : `the ${bases.length} baselines`;
    throw new UsageError(`${n} and HEAD (${headLabel}, ${head.cases.length} cases) have no case id in common: were they run with the same suite?`);
  }
  const cases: CaseComparison[] = [];
  for (const h of head.cases) {
    const bs = baseById.map((m) => m.get(h.id)).filter((c): c is CaseResult => c !== undefined);
    if (bs.length > 0) {
      cases.push(compareCase(bs, h, o));
    } else if (h.status === 'failed' || (h.check && !h.check.passed)) {
      // A new case that is wrong is still a wrong result in HEAD.
      cases.push({ id: h.id, workload: h.workload, verdict: 'failed', note: h.reason ?? 'failed in HEAD (not in BASE)' });
    } else {
      const hs = headSide(h);
      cases.push({ id: h.id, workload: h.workload, verdict: 'new', ...(hs ? { head: hs } : {}) });
    }
  }
  const missing = new Map<string, CaseResult>();
  for (const m of baseById) for (const [id, b] of m) if (!headById.has(id)) missing.set(id, b);
  for (const b of missing.values()) {
    const bs = headSide(b);
    cases.push({ id: b.id, workload: b.workload, verdict: 'missing', ...(bs ? { base: bs } : {}), note: 'not in HEAD' });
  }
  if (bases.length === 1) warnings.push('one baseline run: the gate cannot tell a slow run from a slow build; keep several (`compare BASE1 BASE2 … HEAD` or --baseline-dir) for a run-to-run noise floor');
  return reportOf(cases, o, { baselines: bases.map((b, i) => runRef(b, baseLabel(i))), head: runRef(head, headLabel) }, warnings);
}

/** A results file as a comparison names it. */
export const runRef = (f: ResultsFile, label: string): RunRef => ({ runId: f.run.id, hostname: f.environment.hostname, label });

/** The report of compared cases: attention first, counted, failed when a case regressed or failed. */
export function reportOf(
  cases: CaseComparison[],
  o: { threshold: number; alpha: number; confidence: number; noiseK?: number; statistic?: CompareStatistic },
  runs: { baselines: RunRef[]; head: RunRef; heads?: RunRef[] },
  warnings: string[],
): CompareReport {
  cases.sort((x, y) => VERDICTS.indexOf(x.verdict) - VERDICTS.indexOf(y.verdict));
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const c of cases) counts[c.verdict]++;
  return {
    schema: 'gpubench.compare/v1',
    threshold: o.threshold,
    alpha: o.alpha,
    confidence: o.confidence,
    noiseLevel: NOISE_LEVEL,
    statistic: o.statistic ?? 'median',
    ...(o.noiseK !== undefined ? { noiseK: o.noiseK } : {}),
    base: runs.baselines[0]!,
    baselines: runs.baselines,
    head: runs.head,
    ...(runs.heads ? { heads: runs.heads } : {}),
    counts,
    failed: counts.failed > 0 || counts.regressed > 0,
    warnings,
    cases,
  };
}

/**
 * Compares two validated results files (one baseline run: no run-to-run noise floor).
 * @throws UsageError as compareRuns
 */
export function compareResults(base: ResultsFile, head: ResultsFile, options: CompareOptions = {}, labels: { base?: string; head?: string } = {}): CompareReport {
  return compareRuns([base], head, options, { ...(labels.base !== undefined ? { bases: [labels.base] } : {}), ...(labels.head !== undefined ? { head: labels.head } : {}) });
}
