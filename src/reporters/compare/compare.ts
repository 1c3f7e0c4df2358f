/**
 * The regression gate: match BASE and HEAD cases by id, estimate HEAD's time ratio
 * with a bootstrap interval, test the shift with Mann-Whitney U, and classify each
 * case. Only a regression that is both beyond the threshold and significant fails
 * the gate, so noisy runners do not cry wolf; a wrong result in HEAD always fails.
 */
import type { CaseResult, ResultsFile } from '../../harness/results/schema.js';
import { UsageError } from '../../harness/errors.js';
import { caseOk, caseStats, headline } from '../cases.js';
import { bootstrapRatioOfMedians, hashString, mannWhitneyU } from './stats.js';

/** What happened to a case between BASE and HEAD. */
export type Verdict =
  /** HEAD's result was wrong or the case failed: always fails the gate. */
  | 'failed'
  /** Significantly slower by more than the threshold: fails the gate. */
  | 'regressed'
  /** Significantly faster by more than the threshold. */
  | 'improved'
  /** Within the threshold (whether or not the small shift is significant). */
  | 'unchanged'
  /** The medians moved beyond the threshold but the samples cannot tell it from noise. */
  | 'insignificant'
  /** Skipped in BASE or HEAD. */
  | 'skipped'
  /** In BASE only. */
  | 'missing'
  /** In HEAD only. */
  | 'new';

/** Order verdicts are listed in: what needs attention first. */
export const VERDICTS: Verdict[] = ['failed', 'regressed', 'improved', 'insignificant', 'unchanged', 'skipped', 'missing', 'new'];

/** Options of the gate. */
export interface CompareOptions {
  /** Relative change in median time that matters. @default 0.05 */
  threshold?: number;
  /** Significance level of the Mann-Whitney test. @default 0.05 */
  alpha?: number;
  /** Level of the bootstrap interval. @default 0.95 */
  confidence?: number;
  /** Bootstrap resamples. @default 2000 */
  iterations?: number;
}

/** One side of a compared case. */
export interface Side {
  medianMs: number;
  samples: number;
  /** Headline metric (TFLOP/s or busbw GB/s) when the case has one. */
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
  /** median(HEAD time) / median(BASE time): above 1 is slower. */
  ratio?: number;
  /** Bootstrap interval of `ratio`. */
  ci?: [number, number];
  /** Two-sided Mann-Whitney U p-value on the time samples. */
  pValue?: number;
  /** Unit of `metric` on each side. */
  metricUnit?: string;
  /** Why, in words. */
  note?: string;
}

/** The gate's output, also written as `--format json`. */
export interface CompareReport {
  schema: 'gpubench.compare/v1';
  threshold: number;
  alpha: number;
  confidence: number;
  base: { runId: string; hostname: string; label: string };
  head: { runId: string; hostname: string; label: string };
  counts: Record<Verdict, number>;
  /** True when a case regressed or failed: exit 1. */
  failed: boolean;
  /** Things that make the comparison less meaningful, e.g. different GPUs. */
  warnings: string[];
  cases: CaseComparison[];
}

function side(c: CaseResult): Side | undefined {
  const st = caseStats(c);
  if (!st) return undefined;
  const h = headline(c);
  return { medianMs: st.medianMs, samples: c.samplesMs.length, status: c.status, ...(h ? { metric: h.value } : {}) };
}

function compareCase(b: CaseResult, h: CaseResult, o: Required<CompareOptions>): CaseComparison {
  const out: CaseComparison = { id: h.id, workload: h.workload, verdict: 'unchanged' };
  const hs = side(h);
  const bs = side(b);
  if (bs) out.base = bs;
  if (hs) out.head = hs;
  const unit = headline(h)?.unit ?? headline(b)?.unit;
  if (unit) out.metricUnit = unit;
  if (h.status === 'failed' || (h.check && !h.check.passed)) {
    const why = h.check && !h.check.passed ? `wrong result in HEAD (rel. error ${h.check.maxRelError} > ${h.check.tolerance})` : 'failed in HEAD';
    return { ...out, verdict: 'failed', note: h.reason ? `${why}: ${h.reason}` : why };
  }
  if (h.status === 'skipped' || b.status === 'skipped') return { ...out, verdict: 'skipped', note: `skipped in ${h.status === 'skipped' ? 'HEAD' : 'BASE'}` };
  if (!caseOk(b)) return { ...out, verdict: 'new', note: 'failed in BASE, ok in HEAD: nothing to compare against' };
  if (!bs || !hs || !(bs.medianMs > 0)) return { ...out, verdict: 'insignificant', note: 'no timing samples on one side' };

  const t = o.threshold;
  if (b.samplesMs.length < 2 || h.samplesMs.length < 2) {
    // Medians only: the change can be measured but not tested.
    const ratio = hs.medianMs / bs.medianMs;
    const within = Math.abs(ratio - 1) <= t;
    return { ...out, ratio, verdict: within ? 'unchanged' : 'insignificant', note: 'fewer than 2 samples on a side: no significance test' };
  }
  const ci = bootstrapRatioOfMedians(b.samplesMs, h.samplesMs, { confidence: o.confidence, iterations: o.iterations, seed: hashString(h.id) });
  const mw = mannWhitneyU(b.samplesMs, h.samplesMs);
  // Both tests must agree: Mann-Whitney says the distributions differ, and the
  // interval on the ratio of medians excludes "no change".
  const significant = mw.p < o.alpha && (ci.lo > 1 || ci.hi < 1);
  const ratio = ci.ratio;
  let verdict: Verdict;
  if (Math.abs(ratio - 1) <= t) verdict = 'unchanged';
  else if (!significant) verdict = 'insignificant';
  else verdict = ratio > 1 ? 'regressed' : 'improved';
  const notes = [
    verdict === 'unchanged' && significant ? 'significant but within the threshold' : undefined,
    // Device time and host wall-clock differ systematically; flag it rather than trust the ratio blindly.
    b.timer && h.timer && b.timer !== h.timer ? `timer changed: ${b.timer} → ${h.timer}` : undefined,
  ].filter((n): n is string => n !== undefined);
  const note = notes.length ? notes.join('; ') : undefined;
  return { ...out, ratio, ci: [ci.lo, ci.hi], pValue: mw.p, verdict, ...(note ? { note } : {}) };
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
function refuseOtherTopologies(pairs: [CaseResult, CaseResult][], labels: { base?: string; head?: string }): void {
  const differ = pairs.filter(([b, h]) => topologyOf(b) !== topologyOf(h));
  if (differ.length === 0) return;
  const shown = differ.slice(0, 3).map(([b, h]) => `${h.id}: ${topologyOf(b) ?? 'no ranks'} in BASE, ${topologyOf(h) ?? 'no ranks'} in HEAD`);
  throw new UsageError(
    `BASE${labels.base ? ` (${labels.base})` : ''} and HEAD${labels.head ? ` (${labels.head})` : ''} measured ${differ.length} collective case${differ.length === 1 ? '' : 's'} on different topologies, which are not comparable: ${shown.join('; ')}${differ.length > 3 ? '; …' : ''}`,
  );
}

/**
 * Compares two validated results files.
 * @throws UsageError when they share no case id, or pair collectives of different topologies
 */
export function compareResults(base: ResultsFile, head: ResultsFile, options: CompareOptions = {}, labels: { base?: string; head?: string } = {}): CompareReport {
  const o: Required<CompareOptions> = { threshold: 0.05, alpha: 0.05, confidence: 0.95, iterations: 2000, ...options };
  const baseById = new Map(base.cases.map((c) => [c.id, c]));
  const headById = new Map(head.cases.map((c) => [c.id, c]));
  const common = head.cases.filter((c) => baseById.has(c.id));
  refuseOtherTopologies(common.map((h) => [baseById.get(h.id)!, h]), labels);
  if (common.length === 0) {
    throw new UsageError(`BASE (${labels.base ?? base.run.id}, ${base.cases.length} cases) and HEAD (${labels.head ?? head.run.id}, ${head.cases.length} cases) have no case id in common: were they run with the same suite?`);
  }
  const cases: CaseComparison[] = [];
  for (const h of head.cases) {
    const b = baseById.get(h.id);
    if (b) {
      cases.push(compareCase(b, h, o));
    } else if (h.status === 'failed' || (h.check && !h.check.passed)) {
      // A new case that is wrong is still a wrong result in HEAD.
      cases.push({ id: h.id, workload: h.workload, verdict: 'failed', note: h.reason ?? 'failed in HEAD (not in BASE)' });
    } else {
      const hs = side(h);
      cases.push({ id: h.id, workload: h.workload, verdict: 'new', ...(hs ? { head: hs } : {}) });
    }
  }
  for (const b of base.cases) {
    if (!headById.has(b.id)) {
      const bs = side(b);
      cases.push({ id: b.id, workload: b.workload, verdict: 'missing', ...(bs ? { base: bs } : {}), note: 'not in HEAD' });
    }
  }
  cases.sort((x, y) => VERDICTS.indexOf(x.verdict) - VERDICTS.indexOf(y.verdict));
  const warnings: string[] = [];
  const names = (f: ResultsFile) => [...new Set(f.devices.map((d) => d.name))].sort().join(', ');
  if (names(base) !== names(head)) warnings.push(`BASE and HEAD ran on different devices (${names(base) || 'none listed'} vs ${names(head) || 'none listed'}): compare like with like`);
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const c of cases) counts[c.verdict]++;
  return {
    schema: 'gpubench.compare/v1',
    threshold: o.threshold,
    alpha: o.alpha,
    confidence: o.confidence,
    base: { runId: base.run.id, hostname: base.environment.hostname, label: labels.base ?? base.run.id },
    head: { runId: head.run.id, hostname: head.environment.hostname, label: labels.head ?? head.run.id },
    counts,
    failed: counts.failed > 0 || counts.regressed > 0,
    warnings,
    cases,
  };
}

/**
 * Parses a threshold: `5%`, `0.05`, or a bare `5` meaning 5%.
 * @throws UsageError for anything else or a value outside (0, 1000%)
 */
export function parseThreshold(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(%?)\s*$/.exec(text);
  if (!m) throw new UsageError(`'${text}' is not a threshold; write it as 5% or 0.05`, '--threshold');
  const v = Number(m[1]);
  const t = m[2] === '%' || v >= 1 ? v / 100 : v;
  if (!(t > 0 && t < 10)) throw new UsageError(`'${text}' is out of range; use a value between 0% and 1000%`, '--threshold');
  return t;
}
