/**
 * Reporters. Live ones by name, as vitest's ReportersMap: `--reporter console` picks
 * them, and a name that is a path loads a custom reporter module whose default export is
 * a Reporter class or object. After a run, results files go in and reports, CI exports
 * and the regression gate come out; all of it reads `gpubench.results/v1` through
 * `loadResults`/`parseResults`.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Reporter } from '../harness/reporter.js';
import { UsageError } from '../harness/errors.js';
import { ConsoleReporter } from './console.js';
import { NcclTestsReporter } from './nccl-tests.js';

/** Built-in reporters that need no arguments. */
export const ReportersMap: Record<string, () => Reporter> = {
  console: () => new ConsoleReporter(),
  silent: () => ({}),
  'nccl-tests': () => new NcclTestsReporter(),
};

/** Resolves reporter names or module paths to reporters. */
export async function loadReporters(names: string[]): Promise<Reporter[]> {
  const out: Reporter[] = [];
  for (const name of names) {
    const builtin = ReportersMap[name];
    if (builtin) {
      out.push(builtin());
      continue;
    }
    const looksLikePath = name.startsWith('.') || name.startsWith('/') || existsSync(name);
    if (!looksLikePath)
      throw new UsageError(`unknown reporter "${name}"; built-in: ${Object.keys(ReportersMap).join(', ')}, or a path to a module`, '--reporter');
    const mod = (await import(pathToFileURL(resolve(name)).href)) as { default?: unknown };
    const exp = mod.default;
    if (typeof exp === 'function') out.push(new (exp as new () => Reporter)());
    else if (exp && typeof exp === 'object') out.push(exp as Reporter);
    else throw new UsageError(`reporter module ${name} has no default export`, '--reporter');
  }
  return out;
}

export { ConsoleReporter } from './console.js';
export { ResultsFileReporter } from './results-file.js';
export { loadResults, parseResults, mergeResults } from './load.js';
export { formats, FORMAT_NAMES, parseFormats, renderReport, writeReports, type FormatName, type FormatOptions, type Formatter } from './formats/index.js';
export { compareResults, parseThreshold, VERDICTS, type CompareOptions, type CompareReport, type CaseComparison, type Verdict } from './compare/compare.js';
export { compareMarkdown, compareJson } from './compare/render.js';
export { buildCharts, type ChartSpec } from './charts.js';
export { buildHistory, isHistory, type History, type HistorySeries, type HistoryChange } from './history/history.js';
export { eDivisive, type ChangePoint, type ChangePointOptions } from './history/changepoints.js';
export { loadInputs } from './history/inputs.js';
