/**
 * `gpubench report RESULTS... --format html,md,... [--out FILE | --out-dir DIR]`:
 * renders one or more results files (merged into one report) in the given formats.
 * One format without --out goes to stdout; several go to files in --out-dir.
 * Files (or folders of them) that measured the same cases in different runs are a
 * history: the report shows the newest run and every case's trend with its change points.
 */
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { UsageError } from '../../errors.js';
import type { FormatOptions } from '../../../reporters/formats/index.js';
import { FORMAT_NAMES } from '../../../reporters/formats/names.js';

interface ReportOptions {
  format: string[];
  out?: string;
  outDir?: string;
  linkGbps?: string;
  title?: string;
  history: boolean;
  alpha?: string;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export const reportCommand: CliCommand = {
  register(program: Command) {
    program
      .command('report')
      .description('render results files as HTML, Markdown, CSV or CI exports')
      .argument('<results...>', 'gpubench.results/v1 JSON files or folders of them (several runs of the same cases: a history with change points; else merged into one report)')
      .option('-f, --format <names>', `formats, comma separated or repeated: ${FORMAT_NAMES.join(', ')} (default: md)`, collect)
      .option('-o, --out <file>', 'write the (single) format to this file instead of stdout')
      .option('--out-dir <dir>', 'write every format to <dir>/<name>.<ext> (default for several formats: .)')
      .option('--link-gbps <GBps>', 'link ceiling drawn on collective charts, e.g. 12.5 for 100 GbE')
      .option('--title <text>', 'title of the HTML and Markdown reports')
      .option('--no-history', 'merge the files into one report even where they are runs of the same cases')
      .option('--alpha <p>', 'history: significance level of the change-point test (default 0.05)')
      .action(async (files: string[], opts: ReportOptions) => {
        // Loaded here, not at start-up: `gpubench --help` should not pay for them.
        const [{ mergeResults }, { formats, parseFormats, writeReports }, { loadInputs }, { buildHistory, isHistory }] = await Promise.all([
          import('../../../reporters/load.js'),
          import('../../../reporters/formats/index.js'),
          import('../../../reporters/history/inputs.js'),
          import('../../../reporters/history/history.js'),
        ]);
        const names = parseFormats(opts.format ?? ['md']);
        const options: FormatOptions = {};
        if (opts.linkGbps !== undefined) {
          const v = Number(opts.linkGbps);
          if (!(v > 0)) throw new UsageError(`'${opts.linkGbps}' is not a bandwidth in GB/s`, '--link-gbps');
          options.linkGBps = v;
        }
        if (opts.title !== undefined) options.title = opts.title;
        if (opts.out !== undefined && opts.outDir !== undefined) throw new UsageError('give either --out or --out-dir, not both', '--out');
        if (opts.out !== undefined && names.length > 1) throw new UsageError(`--out takes one format, got ${names.join(', ')}; use --out-dir for several`, '--out');
        let alpha: number | undefined;
        if (opts.alpha !== undefined) {
          alpha = Number(opts.alpha);
          if (!(alpha > 0 && alpha < 1)) throw new UsageError(`'${opts.alpha}' is not a significance level between 0 and 1`, '--alpha');
        }
        const inputs = await loadInputs(files);
        let results;
        if (opts.history && inputs.files.length > 1 && isHistory(inputs.files)) {
          // A history: the page is about the newest run, with every case's trend beside it.
          const history = buildHistory(inputs.files, alpha !== undefined ? { alpha } : {});
          const newest = history.runs.at(-1)!.id;
          results = inputs.files.find((f) => f.run.id === newest)!;
          options.history = history;
        } else {
          results = mergeResults(inputs.files);
        }
        if (names.length === 1 && opts.outDir === undefined) {
          const text = formats[names[0]!].render(results, options);
          if (opts.out === undefined || opts.out === '-') process.stdout.write(text);
          else await writeFile(opts.out, text);
          return;
        }
        const base = basename(files[0]!.replace(/\/+$/, '')).replace(/\.json$/i, '') || 'gpubench';
        const written = await writeReports(results, names, opts.outDir ?? '.', base, options);
        for (const p of written) process.stdout.write(`${p}\n`);
      });
  },
};
