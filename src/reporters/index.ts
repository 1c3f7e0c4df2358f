/**
 * Reporters: results files in, reports and CI exports out, plus the regression gate.
 * Everything reads `gpubench.results/v1` through `loadResults`/`parseResults`.
 */
export { loadResults, parseResults, mergeResults } from './load.js';
export { formats, FORMAT_NAMES, parseFormats, renderReport, writeReports, type FormatName, type FormatOptions, type Formatter } from './formats/index.js';
export { compareResults, parseThreshold, VERDICTS, type CompareOptions, type CompareReport, type CaseComparison, type Verdict } from './compare/compare.js';
export { compareMarkdown, compareJson } from './compare/render.js';
export { buildCharts, type ChartSpec } from './charts.js';
