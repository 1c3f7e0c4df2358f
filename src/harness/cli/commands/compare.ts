/**
 * `gpubench compare BASE HEAD [--threshold 5%] [--format md|json]`: the regression
 * gate. Exit 1 when a case regressed (beyond the threshold and significant) or HEAD
 * has a wrong result; exit 2 when the files cannot be compared.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { ExitCode, UsageError } from '../../errors.js';

interface CompareCliOptions {
  threshold: string;
  alpha: string;
  format: string;
  out?: string;
}

export const compareCommand: CliCommand = {
  register(program: Command) {
    program
      .command('compare')
      .description('compare HEAD results against BASE; exit 1 on a significant regression or a wrong result')
      .argument('<base>', 'baseline results file (gpubench.results/v1)')
      .argument('<head>', 'results file under test')
      .option('-t, --threshold <change>', 'smallest change in median time that counts, e.g. 5% or 0.05', '5%')
      .option('--alpha <p>', 'significance level of the Mann-Whitney U test', '0.05')
      .option('-f, --format <md|json>', 'output format', 'md')
      .option('-o, --out <file>', 'write the output to this file instead of stdout')
      .action(async (basePath: string, headPath: string, opts: CompareCliOptions) => {
        const format = opts.format.toLowerCase();
        if (format !== 'md' && format !== 'json') throw new UsageError(`unknown format '${opts.format}'; allowed: md, json`, '--format');
        // Loaded here, not at start-up: `gpubench --help` should not pay for them.
        const [{ loadResults }, { compareResults, parseThreshold }, { compareJson, compareMarkdown }] = await Promise.all([
          import('../../../reporters/load.js'),
          import('../../../reporters/compare/compare.js'),
          import('../../../reporters/compare/render.js'),
        ]);
        const threshold = parseThreshold(opts.threshold);
        const alpha = Number(opts.alpha);
        if (!(alpha > 0 && alpha < 1)) throw new UsageError(`'${opts.alpha}' is not a probability between 0 and 1`, '--alpha');
        const [base, head] = await Promise.all([loadResults(basePath), loadResults(headPath)]);
        const report = compareResults(base, head, { threshold, alpha }, { base: basePath, head: headPath });
        const text = format === 'json' ? compareJson(report) : compareMarkdown(report);
        if (opts.out === undefined || opts.out === '-') process.stdout.write(text);
        else await writeFile(opts.out, text);
        process.exitCode = report.failed ? ExitCode.failed : ExitCode.ok;
      });
  },
};
