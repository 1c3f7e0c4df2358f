/**
 * The change points of a history as GitHub Markdown: one line saying how many runs and
 * series were searched and how, a table of every change point (slower ones first), and
 * the series without one folded away.
 */
import { sig } from '../cases.js';
import { mdTable } from '../formats/markdown.js';
import { changeText, type History } from './history.js';

/** The `### History` section. */
export function historyMarkdown(history: History): string {
  const first = history.runs[0]!;
  const last = history.runs.at(-1)!;
  const m = history.method;
  const changes = history.series.flatMap((s) => s.changes.map((c) => ({ s, c }))).sort((a, b) => b.c.ratio - a.c.ratio);
  const slower = changes.filter((x) => x.c.ratio > 1).length;
  const out = [
    `### History: ${changes.length ? `${changes.length} change point${changes.length === 1 ? '' : 's'} (${slower} slower, ${changes.length - slower} faster)` : 'no change points'}`,
    '',
    `${history.runs.length} runs, ${first.label} to ${last.label}; ${history.series.length} series (a case on one device and topology) seen in two runs or more. ` +
      `E-Divisive with means on the per-run medians, permutation test (${m.permutations} shuffles, α = ${m.alpha}, at least ${m.minSegment} runs per level).`,
  ];
  if (changes.length) {
    out.push('', mdTable(
      ['series', 'from run', 'median ms before → after', 'change', 'p'],
      changes.map(({ s, c }) => [s.label, `${c.runLabel} (\`${c.runId}\`)`, `${sig(c.beforeMs)} → ${sig(c.afterMs)}`, `${c.ratio > 1 ? '🔺' : '🔻'} ${changeText(c.ratio)}`, sig(c.pValue, 2)]),
      ['l', 'l', 'r', 'r', 'r'],
    ));
  }
  const steady = history.series.filter((s) => s.changes.length === 0);
  if (steady.length) {
    out.push('', `<details><summary>${steady.length} series without a change point</summary>`, '', mdTable(
      ['series', 'runs', 'median ms (first → last)'],
      steady.map((s) => [s.label, String(s.points.length), `${sig(s.points[0]!.medianMs)} → ${sig(s.points.at(-1)!.medianMs)}`]),
      ['l', 'r', 'r'],
    ), '', '</details>');
  }
  return out.join('\n');
}
