/**
 * Output formats by name, as vitest's ReportersMap: `gpubench report --format` and
 * `gpubench run --report` look names up here, and `writeReports` writes several at once.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultsFile } from '../../harness/results/schema.js';
import { UsageError } from '../../harness/errors.js';
import { bmf } from './bmf.js';
import { csv } from './csv.js';
import type { FormatOptions, Formatter } from './formatter.js';
import { gab } from './gab.js';
import { html } from './html.js';
import { json } from './json.js';
import { markdown } from './markdown.js';
import { openmetrics } from './openmetrics.js';
import { FORMAT_NAMES as HELP_FORMAT_NAMES } from './names.js';

export type { FormatOptions, Formatter } from './formatter.js';

/** Every format, by the name used on the command line. `markdown` is an alias of `md`. */
export const formats = {
  html,
  md: markdown,
  markdown,
  csv,
  json,
  gab,
  bmf,
  openmetrics,
} as const satisfies Record<string, Formatter>;

/** A format name. */
export type FormatName = keyof typeof formats;

/** Names shown in help and error messages (aliases left out). */
export const FORMAT_NAMES: FormatName[] = [...HELP_FORMAT_NAMES];

/** True when `name` is a known format. */
export function isFormatName(name: string): name is FormatName {
  return Object.hasOwn(formats, name);
}

/**
 * Splits and checks a format list (`html,md` or repeated options).
 * @throws UsageError naming the unknown format and the allowed ones
 */
export function parseFormats(list: string | string[], field = '--format'): FormatName[] {
  const names = (Array.isArray(list) ? list : [list]).flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (names.length === 0) throw new UsageError(`no format given; allowed: ${FORMAT_NAMES.join(', ')}`, field);
  for (const n of names) {
    if (!isFormatName(n)) throw new UsageError(`unknown format '${n}'; allowed: ${FORMAT_NAMES.join(', ')}`, field);
  }
  return [...new Set(names as FormatName[])];
}

/** Renders one format to text. */
export function renderReport(results: ResultsFile, format: string, options?: FormatOptions): string {
  const [name] = parseFormats(format);
  return formats[name as FormatName].render(results, options);
}

/**
 * Writes each format to `outDir/<baseName>.<extension>` (creating the folder) and
 * returns the written paths. Names are checked before anything is written.
 * @param baseName file name stem @default 'gpubench'
 * @throws UsageError for an unknown format name
 */
export async function writeReports(
  results: ResultsFile,
  formatNames: string[],
  outDir: string,
  baseName = 'gpubench',
  options?: FormatOptions,
): Promise<string[]> {
  const names = parseFormats(formatNames, '--report');
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const name of names) {
    const f = formats[name];
    const path = join(outDir, `${baseName}.${f.extension}`);
    if (written.includes(path)) continue; // md and markdown are one file
    await writeFile(path, f.render(results, options));
    written.push(path);
  }
  return written;
}
