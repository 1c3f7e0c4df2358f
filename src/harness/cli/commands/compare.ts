/**
 * `gpubench compare BASE... HEAD [--baseline-dir DIR] [--threshold 5%] [--threshold
 * allreduce=15%] [--format md|json]`: the regression gate. Several baseline runs give each
 * case a run-to-run noise floor. `--paired BASE1 HEAD1 BASE2 HEAD2 …` judges runs of the
 * two builds taken alternately on one machine by their pairwise ratios (paired.ts). Exit 1 when a case regressed (beyond its threshold and
 * its noise floor, and significant) or HEAD has a wrong result; exit 2 when the files
 * cannot be compared (unreadable, no common case, another GPU, driver, stack version
 * or topology).
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { ExitCode, UsageError } from '../../errors.js';
import { intIn, positiveNumber } from '../options.js';
import { COMPARE_STATISTICS } from '../../../reporters/compare/statistic.js';

interface CompareCliOptions {
  threshold: string[];
  thresholds?: string;
  baselineDir?: string;
  last: number;
  noiseK?: number;
  paired?: boolean;
  allowMismatch?: boolean;
  statistic: string;
  alpha: string;
  format: string;
  out?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** The report to stdout, or to `--out`. */
async function emit(text: string, out: string | undefined): Promise<void> {
  if (out === undefined || out === '-') process.stdout.write(text);
  else await writeFile(out, text);
}

export const compareCommand: CliCommand = {
  register(program: Command) {
    program
      .command('compare')
      .description('compare HEAD results against one or more baseline runs; exit 1 on a significant regression or a wrong result')
      .argument('<files...>', 'baseline results files (gpubench.results/v1), then the results file under test last; with --baseline-dir, only HEAD; with --paired, BASE1 HEAD1 BASE2 HEAD2 …')
      .option('-t, --threshold <change>', 'smallest change in median time that counts, e.g. 5% or 0.05; PATTERN=5% for a workload (allreduce=15%) or case-id glob (\'matmul/webgpu/*=8%\'); repeatable', collect)
      .option('--thresholds <file>', 'thresholds from YAML: default: 5%, thresholds: { allreduce: 15% }')
      .option('--baseline-dir <dir>', 'baselines: the results files in this folder (newest --last, same machine and stack as HEAD)')
      .option('--last <n>', 'with --baseline-dir: use at most this many newest baselines', intIn(1, 1000), 10)
      .option('-k, --noise-k <k>', 'multiplier of the baselines\' run-to-run spread (default: Student\'s t quantile for the number of baselines, 99.5% one-sided)', positiveNumber)
      .option('--paired', 'the files are pairs taken alternately on one machine: BASE1 HEAD1 BASE2 HEAD2 …; each case is judged on the pairs\' time ratios (paired t), which cancels a host whose speed moves between runs')
      .option('--statistic <median|min>', 'what stands for a run\'s time of a case: its median sample, or its fastest (min: --paired only; steadier where noise only adds time, blind to a change that slows only some calls)', 'median')
      .option('--allow-mismatch', 'compare baselines from another GPU, driver or stack version anyway (a warning instead of exit 2)')
      .option('--alpha <p>', 'significance level of the Mann-Whitney U test', '0.05')
      .option('-f, --format <md|json>', 'output format', 'md')
      .option('-o, --out <file>', 'write the output to this file instead of stdout')
      .action(async (files: string[], opts: CompareCliOptions) => {
        const format = opts.format.toLowerCase();
        if (format !== 'md' && format !== 'json') throw new UsageError(`unknown format '${opts.format}'; allowed: md, json`, '--format');
        // Loaded here, not at start-up: `gpubench --help` should not pay for them.
        const [{ loadResults }, { compareRuns }, { comparePaired }, { compareJson, compareMarkdown }, th, { loadBaselineDir }] = await Promise.all([
          import('../../../reporters/load.js'),
          import('../../../reporters/compare/compare.js'),
          import('../../../reporters/compare/paired.js'),
          import('../../../reporters/compare/render.js'),
          import('../../../reporters/compare/thresholds.js'),
          import('../../../reporters/compare/baselines.js'),
        ]);
        // A bare value sets the default; PATTERN=value rules override it for their cases.
        const given = (opts.threshold ?? []).map((t) => th.parseThresholdRule(t));
        const fileRules = opts.thresholds ? th.loadThresholdFile(opts.thresholds) : [];
        const defaults = [...fileRules, ...given].filter((r) => r.pattern.rank === 0);
        const threshold = defaults.length ? defaults[defaults.length - 1]!.value : 0.05;
        const rules = [...fileRules, ...given].filter((r) => r.pattern.rank > 0);
        const statistic = COMPARE_STATISTICS.find((x) => x === opts.statistic.toLowerCase());
        if (!statistic) throw new UsageError(`unknown statistic '${opts.statistic}'; allowed: ${COMPARE_STATISTICS.join(', ')}`, '--statistic');
        const alpha = Number(opts.alpha);
        if (!(alpha > 0 && alpha < 1)) throw new UsageError(`'${opts.alpha}' is not a probability between 0 and 1`, '--alpha');
        if (opts.paired) {
          if (opts.baselineDir !== undefined) throw new UsageError('--paired takes its runs as arguments (BASE1 HEAD1 BASE2 HEAD2 …), not from --baseline-dir', '--paired');
          if (opts.noiseK !== undefined) throw new UsageError('--noise-k sets the unpaired gate\'s noise floor; the paired gate tests the pairs\' ratios instead', '--noise-k');
          if (files.length % 2 !== 0) throw new UsageError(`--paired takes pairs BASE1 HEAD1 BASE2 HEAD2 …; got ${files.length} files, an odd number`, '--paired');
          const runs = await Promise.all(files.map((p) => loadResults(p)));
          const pairs = Array.from({ length: files.length / 2 }, (_, i) => [runs[2 * i]!, runs[2 * i + 1]!] as [typeof runs[number], typeof runs[number]]);
          const report = comparePaired(pairs, { threshold, thresholds: rules, alpha, statistic, allowMismatch: opts.allowMismatch === true },
            { pairs: pairs.map((_, i) => [files[2 * i]!, files[2 * i + 1]!]) });
          await emit(format === 'json' ? compareJson(report) : compareMarkdown(report), opts.out);
          process.exitCode = report.failed ? ExitCode.failed : ExitCode.ok;
          return;
        }
        if (opts.baselineDir === undefined && files.length < 2) throw new UsageError('give at least one baseline results file and HEAD (BASE... HEAD), or --baseline-dir DIR HEAD', 'BASE');
        if (opts.baselineDir !== undefined && files.length !== 1) throw new UsageError(`with --baseline-dir give only HEAD (got ${files.length} files)`, '--baseline-dir');
        const headPath = files[files.length - 1]!;
        const head = await loadResults(headPath);
        let bases;
        let labels: string[];
        const notes: string[] = [];
        if (opts.baselineDir !== undefined) {
          const set = await loadBaselineDir(opts.baselineDir, head, { last: opts.last, exclude: [headPath], allowMismatch: opts.allowMismatch === true });
          bases = set.files;
          labels = set.labels;
          notes.push(...set.notes);
        } else {
          labels = files.slice(0, -1);
          bases = await Promise.all(labels.map((p) => loadResults(p)));
        }
        const report = compareRuns(bases, head, {
          statistic,
          threshold,
          thresholds: rules,
          alpha,
          allowMismatch: opts.allowMismatch === true,
          ...(opts.noiseK !== undefined ? { noiseK: opts.noiseK } : {}),
        }, { bases: labels, head: headPath });
        report.warnings.push(...notes);
        await emit(format === 'json' ? compareJson(report) : compareMarkdown(report), opts.out);
        process.exitCode = report.failed ? ExitCode.failed : ExitCode.ok;
      });
  },
};
