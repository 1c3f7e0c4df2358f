/** Text forms of a CompareReport: Markdown for summaries and PR comments, JSON for tools. */
import { mdTable } from '../formats/markdown.js';
import { sig } from '../cases.js';
import type { CaseComparison, CompareReport, Verdict } from './compare.js';
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

/** Markdown: verdict line, counts, and a table of every case (attention first). */
export function compareMarkdown(r: CompareReport): string {
  const counts = VERDICTS.filter((v) => r.counts[v] > 0).map((v) => `${r.counts[v]} ${v}`).join(', ');
  const head = r.failed ? '❌ gpubench compare: fails the gate' : '✅ gpubench compare: passes the gate';
  const row = (c: CaseComparison) => [
    `${ICON[c.verdict]} ${c.verdict}`,
    c.id,
    sig(c.base?.medianMs),
    sig(c.head?.medianMs),
    pct(c.ratio),
    c.ci ? `${pct(c.ci[0])} … ${pct(c.ci[1])}` : '',
    c.pValue !== undefined ? (c.pValue < 1e-4 ? '<1e-4' : sig(c.pValue, 2)) : '',
    metricCell(c),
    c.note ?? '',
  ];
  const table = (cases: CaseComparison[]) =>
    mdTable(['verdict', 'case', 'base ms', 'head ms', 'time Δ', `${Math.round(r.confidence * 100)}% CI`, 'p', 'throughput', 'note'], cases.map(row),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l']);
  // What needs a look goes in the open; the quiet majority folds away so a PR comment stays short.
  const loud = r.cases.filter((c) => ATTENTION.has(c.verdict));
  const quiet = r.cases.filter((c) => !ATTENTION.has(c.verdict));
  const quietCounts = VERDICTS.filter((v) => !ATTENTION.has(v) && r.counts[v] > 0).map((v) => `${r.counts[v]} ${v}`).join(', ');
  return [
    `## ${head}`,
    '',
    `${counts} · threshold ${sig(r.threshold * 100, 3)}% · Mann-Whitney α ${r.alpha} · ${Math.round(r.confidence * 100)}% bootstrap CI on the ratio of median times`,
    '',
    `BASE \`${r.base.label}\` (${r.base.hostname}) → HEAD \`${r.head.label}\` (${r.head.hostname}). Time change: + is slower.`,
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
