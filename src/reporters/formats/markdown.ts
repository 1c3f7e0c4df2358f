/**
 * GitHub-flavoured Markdown for `$GITHUB_STEP_SUMMARY` and PR comments: a one-line
 * verdict, a table per workload kind, failures spelled out, and the environment in a
 * collapsed block so the summary stays short.
 */
import type { CaseResult, ResultsFile } from '../../harness/results/schema.js';
import { deviceName } from '../charts.js';
import { algorithmLabel, caseDtype, caseOk, caseStats, isCollective, paramString, sig, sizeLabel } from '../cases.js';
import { historyMarkdown } from '../history/markdown.js';
import type { FormatOptions, Formatter } from './formatter.js';

/** Escapes a table cell: pipes end cells, line breaks end rows. */
export function mdCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/** A GitHub Markdown table. */
export function mdTable(head: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = head.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  return [head, sep, ...rows].map((r, i) => `| ${(i === 1 ? r : r.map(mdCell)).join(' | ')} |`).join('\n');
}

function checkCell(c: CaseResult): string {
  if (!c.check) return c.status === 'ok' ? '—' : c.status;
  return c.check.passed ? '✅' : `❌ ${sig(c.check.maxRelError ?? undefined, 2)}`;
}

function spread(c: CaseResult): string {
  const st = caseStats(c);
  return st ? `${sig(st.p10Ms)}–${sig(st.p90Ms)}` : '';
}

/** Renders the summary. */
export function renderMarkdown(results: ResultsFile, options: FormatOptions = {}): string {
  const run = results.run;
  const env = results.environment;
  const ok = results.cases.filter(caseOk);
  const bad = results.cases.filter((c) => !caseOk(c) && c.status !== 'skipped');
  const skipped = results.cases.filter((c) => c.status === 'skipped');
  const icon = bad.length || run.status === 'failed' ? '❌' : run.status === 'partial' ? '⚠️' : '✅';
  const devices = [...new Set(results.devices.map((d) => d.name))].join(', ') || 'no devices';
  const out: string[] = [
    `## ${icon} ${options.title ?? 'gpubench'}: ${ok.length}/${results.cases.length} cases ok${bad.length ? `, ${bad.length} failed` : ''}${skipped.length ? `, ${skipped.length} skipped` : ''}`,
    '',
    `Run \`${run.id}\` (${run.status}) on **${env.hostname}** · ${devices} · gpubench ${run.version}${options.history ? ` (the newest of ${options.history.runs.length} runs)` : ''}`,
  ];
  if (options.history) out.push('', historyMarkdown(options.history));
  const matmul = results.cases.filter((c) => c.workload === 'matmul' && c.status !== 'skipped');
  if (matmul.length) {
    out.push('', '### Matrix multiply', '', mdTable(
      ['case', 'backend', 'device', 'dtype', 'm×n×k', 'median ms', 'p10–p90 ms', 'TFLOP/s', '% peak', 'check'],
      matmul.map((c) => [c.id, c.backend, deviceName(results, c), caseDtype(c), sizeLabel(c), sig(caseStats(c)?.medianMs), spread(c),
        sig(c.metrics.tflops), c.metrics.pctOfPeak !== undefined ? `${sig(c.metrics.pctOfPeak, 3)}%` : '', checkCell(c)]),
      ['l', 'l', 'l', 'l', 'l', 'r', 'r', 'r', 'r', 'l'],
    ));
  }
  const coll = results.cases.filter((c) => isCollective(c) && c.status !== 'skipped');
  if (coll.length) {
    out.push('', '### Collectives', '', mdTable(
      ['case', 'backend', 'algorithm', 'ranks', 'dtype', 'size', 'median ms', 'p10–p90 ms', 'algbw GB/s', 'busbw GB/s', 'check'],
      coll.map((c) => [c.id, c.backend, algorithmLabel(c), paramString(c, 'ranks') ?? '', caseDtype(c), sizeLabel(c),
        sig(caseStats(c)?.medianMs), spread(c), sig(c.metrics.algbwGBps), sig(c.metrics.busbwGBps), checkCell(c)]),
      ['l', 'l', 'l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'l'],
    ));
  }
  const copies = results.cases.filter((c) => ['memcpy', 'hostcopy', 'peercopy'].includes(c.workload) && c.status !== 'skipped');
  if (copies.length) {
    out.push('', '### Memory copy', '', mdTable(
      ['case', 'backend', 'device', 'size', 'median ms', 'p10–p90 ms', 'copy GB/s', 'read+write GB/s', 'check'],
      copies.map((c) => [c.id, c.backend, deviceName(results, c), sizeLabel(c), sig(caseStats(c)?.medianMs), spread(c), sig(c.metrics.bandwidthGBps), sig(c.metrics.readWriteGBps), checkCell(c)]),
      ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'l'],
    ));
  }
  if (bad.length || skipped.length) {
    out.push('', '### Failed and skipped', '');
    for (const c of [...bad, ...skipped]) {
      const wrong = c.check && !c.check.passed ? ` wrong result (rel. error ${sig(c.check.maxRelError ?? undefined, 2)} > ${sig(c.check.tolerance, 2)})` : '';
      out.push(`- \`${c.id}\`: **${c.status}**${wrong}${c.reason ? ` — ${c.reason.replace(/\r?\n/g, ' ')}` : ''}`);
    }
  }
  const pkgs = Object.entries(env.packages).map(([k, v]) => `${k}@${v}`).join(', ');
  out.push('', '<details><summary>Environment</summary>', '', mdTable(['', ''], [
    ['host', `${env.hostname} (${env.os} ${env.arch})`],
    ['cpu', `${env.cpu}${env.cpuCount ? ` × ${env.cpuCount}` : ''}`],
    ['node', env.node],
    ['packages', pkgs || '—'],
    ['command', run.argv.join(' ')],
    ['started', run.startedAt],
    ...results.devices.map((d) => [`device ${d.backend}:${d.id}`, [d.name, d.vendor, d.driver].filter(Boolean).join(' · ')]),
  ]), '', '</details>', '');
  return out.join('\n');
}

export const markdown: Formatter = {
  extension: 'md',
  description: 'GitHub Markdown summary (for $GITHUB_STEP_SUMMARY and PR comments)',
  render: renderMarkdown,
};
