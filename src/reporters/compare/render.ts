/** Text forms of a CompareReport: Markdown for summaries and PR comments, JSON for tools. */
import { mdTable } from '../formats/markdown.js';
import { sig } from '../cases.js';
import type { CaseComparison, CompareReport, Side, Verdict } from './compare.js';
import { VERDICTS } from './compare.js';

const ICON: Record<Verdict, string> = {
  failed: '❌', regressed: '🔴', improved: '🟢', insignificant: '❔', unchanged: '⚪', skipped: '⏭️', missing: '➖', new: '🆕',
};

/** Verdicts shown outside the folded block. */
const ATTENTION = new Set<Verdict>(['failed', 'regressed', 'improved', 'insignificant']);

function pct(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '';
  const d = (ratio - 1) * 100;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}%`;
}

function metricCell(c: CaseComparison): string {
  if (c.base?.metric === undefined && c.head?.metric === undefined) return '';
  return `${sig(c.base?.metric)} → ${sig(c.head?.metric)}${c.metricUnit ? ` ${c.metricUnit}` : ''}`;
}

/** The change a case had to exceed: its threshold, or its run-to-run noise floor where larger (with the baselines behind it). */
function limitCell(c: CaseComparison, dflt: number): string {
  const t = c.threshold ?? dflt;
  if (c.pairs) return `±${sig(t * 100, 3)}% (${c.pairs.n} pairs)`;
  if (c.noise && c.noise.floor > t) return `±${sig(c.noise.floor * 100, 3)}% noise (${c.noise.runs} runs)`;
  return `±${sig(t * 100, 3)}%${c.noise ? ` (${c.noise.runs} runs)` : ''}`;
}

/** Markdown: verdict line, counts, and a table of every case (attention first). */
export function compareMarkdown(r: CompareReport): string {
  const counts = VERDICTS.filter((v) => r.counts[v] > 0).map((v) => `${r.counts[v]} ${v}`).join(', ');
  const head = r.failed ? '❌ gpubench compare: fails the gate' : '✅ gpubench compare: passes the gate';
  /** A side's time by the statistic the report judged. */
  const ms = (side: Side | undefined) => sig(r.statistic === 'min' ? side?.minMs : side?.medianMs);
  const row = (c: CaseComparison) => [
    `${ICON[c.verdict]} ${c.verdict}`,
    c.id,
    ms(c.base),
    ms(c.head),
    pct(c.ratio),
    c.ci ? `${pct(c.ci[0])} … ${pct(c.ci[1])}` : '',
    c.pValue !== undefined ? (c.pValue < 1e-4 ? '<1e-4' : sig(c.pValue, 2)) : '',
    metricCell(c),
    limitCell(c, r.threshold),
    c.note ?? '',
  ];
  const table = (cases: CaseComparison[]) =>
    mdTable(['verdict', 'case', `base ${r.statistic} ms`, `head ${r.statistic} ms`, 'time Δ', `${Math.round(r.confidence * 100)}% CI`, 'p', 'throughput', 'limit', 'note'], cases.map(row),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l']);
  // What needs a look goes in the open; the quiet majority folds away so a PR comment stays short.
  const loud = r.cases.filter((c) => ATTENTION.has(c.verdict));
  const quiet = r.cases.filter((c) => !ATTENTION.has(c.verdict));
  const quietCounts = VERDICTS.filter((v) => !ATTENTION.has(v) && r.counts[v] > 0).map((v) => `${r.counts[v]} ${v}`).join(', ');
  return [
    `## ${head}`,
    '',
    `${counts} · threshold ${sig(r.threshold * 100, 3)}%${r.cases.some((c) => c.threshold !== undefined && c.threshold !== r.threshold) ? ' (some cases their own)' : ''} · ${r.heads ? 'paired t' : 'Mann-Whitney'} α ${r.alpha} · ${Math.round(r.confidence * 100)}% ${r.heads ? 't interval on the geometric mean of the pairs\' ratios' : 'bootstrap CI on the ratio of median times'}`,
    '',
    r.heads
      ? `${r.heads.length} pairs of BASE and HEAD runs taken alternately (\`${r.baselines[0]!.label}\` \`${r.heads[0]!.label}\` … \`${r.heads[r.heads.length - 1]!.label}\`, ${[...new Set([...r.baselines, ...r.heads].map((b) => b.hostname))].join(', ')}); each case judged on the pairs' ratios of ${r.statistic === 'min' ? 'fastest samples' : 'median times'} (geometric mean, paired t on their logs). Time change: + is slower.`
      : r.baselines.length > 1
      ? `${r.baselines.length} baseline runs (\`${r.baselines[0]!.label}\` … \`${r.baselines[r.baselines.length - 1]!.label}\`, ${[...new Set(r.baselines.map((b) => b.hostname))].join(', ')}); a change must also exceed each case's run-to-run noise floor (${sig(r.noiseLevel * 100, 3)}% one-sided prediction bound${r.noiseK !== undefined ? `, k = ${r.noiseK}` : ''}) → HEAD \`${r.head.label}\` (${r.head.hostname}). Time change: + is slower.`
      : `BASE \`${r.base.label}\` (${r.base.hostname}) → HEAD \`${r.head.label}\` (${r.head.hostname}). Time change: + is slower.`,
    '',
    ...r.warnings.map((w) => `> [!WARNING]\n> ${w}\n`),
    ...(loud.length ? [table(loud), ''] : []),
    ...(quiet.length ? [`<details><summary>${quietCounts}</summary>`, '', table(quiet), '', '</details>', ''] : []),
  ].join('\n');
}

/** JSON: the CompareReport itself. */
export function compareJson(r: CompareReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
