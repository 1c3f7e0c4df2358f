/**
 * `gpubench run`: plan a suite (narrowed by the command line), run every case, write the
 * results file as cases complete, print a table. Exit 0 when every case that ran is ok,
 * 1 when any failed (wrong result, fallback, error), 2 for bad usage.
 */
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { intList, list, ms } from '../options.js';
import { loadSuite } from '../../suite.js';
import { planRun } from '../../plan.js';
import { runPlan } from '../../runner.js';
import { disposeBackends } from '../../registry.js';
import { ExitCode, UsageError } from '../../errors.js';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { MeasureOptions } from '../../measure.js';
import { loadReporters, parseFormats, ResultsFileReporter, writeReports } from '../../../reporters/index.js';
import { tally } from '../../../reporters/console.js';
import '../../../kernels/index.js';

/** Options of `gpubench run`, as commander parses them. */
export interface RunCliOptions {
  suite: string;
  workloads?: string[];
  backends?: string[];
  sizes?: number[];
  dtypes?: string[];
  json?: string;
  out: string;
  reporter: string[];
  minTime?: number;
  warmup?: number;
  plugin?: string[];
  report?: string[];
}

/** Imports plugin modules (they register backends, kernels or workloads on import). */
export async function loadPlugins(paths: string[] = []): Promise<void> {
  for (const p of paths) {
    try {
      await import(pathToFileURL(resolve(p)).href);
    } catch (err) {
      throw new UsageError(`cannot load plugin ${p}: ${(err as Error).message}`, '--plugin');
    }
  }
}

/** Runs the command; returns the exit code. */
export async function runCli(opts: RunCliOptions, argv: string[]): Promise<number> {
  await loadPlugins(opts.plugin);
  // Validate report formats before measuring anything. `json` is the results file itself.
  const reportFormats = opts.report ? parseFormats(opts.report, '--report').filter((f) => f !== 'json') : [];
  const suite = loadSuite(opts.suite);
  const measure: MeasureOptions = { ...suite.measure };
  if (opts.minTime !== undefined) measure.minTimeMs = opts.minTime;
  if (opts.warmup !== undefined) measure.warmupMs = opts.warmup;

  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\ngpubench: stopping after this case (Ctrl-C again to quit now; results so far are on disk)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    const plan = await planRun(suite, {
      workloads: opts.workloads,
      backends: opts.backends,
      overrides: { sizes: opts.sizes, dtypes: opts.dtypes },
    });
    for (const u of plan.unavailable) process.stderr.write(`gpubench: ${u.backend} unavailable: ${u.reason}\n`);
    const jsonPath = opts.json ?? join(opts.out, `gpubench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const fileReporter = new ResultsFileReporter(jsonPath);
    const reporters = [...(await loadReporters(opts.reporter)), fileReporter];
    const results = await runPlan(plan, { measure, reporters, argv, suite: suite.name, shouldStop: () => stopRequested });
    process.stderr.write(`results: ${jsonPath} (and ${fileReporter.jsonlPath})\n`);
    if (reportFormats.length > 0) {
      const written = await writeReports(results, reportFormats, dirname(jsonPath), basename(jsonPath, '.json'));
      process.stderr.write(`reports: ${written.join(', ')}\n`);
    }
    const n = tally(results);
    if (n.ok + n.failed === 0) process.stderr.write('gpubench: warning: no case ran (all skipped)\n');
    return n.failed > 0 ? ExitCode.failed : ExitCode.ok;
  } finally {
    process.off('SIGINT', onSigint);
    await disposeBackends();
  }
}

export const runCommand: CliCommand = {
  register(program: Command) {
    program
      .command('run')
      .description('run a suite: every case checked against a float64 reference, timed, written to a results file')
      .option('--suite <name|file>', 'built-in suite name (configs/suites/NAME.yaml) or a YAML file', 'default')
      .option('--workloads <list>', 'only these workloads, e.g. matmul', list)
      .option('--backends <list>', 'only these backends, e.g. webgpu,tfjs-webgpu,tfjs-cpu (see `gpubench list`); a suite entry that names backends keeps those also given, and one the suite never names runs in every entry', list)
      .option('--sizes <list>', 'square sizes m=n=k, e.g. 256,512,1024 (replaces the suite\'s sizes and shapes)', intList)
      .option('--dtypes <list>', 'element types, e.g. f32,f16', list)
      .option('--json <file>', 'results file (a .jsonl beside it is written as cases complete)')
      .option('--out <dir>', 'directory for the results file when --json is not given', 'results')
      .option('--reporter <list>', 'console reporters: console, silent, or a module path', list, ['console'])
      .option('--min-time <ms>', 'minimum measured time per case (overrides the suite)', ms)
      .option('--warmup <ms>', 'minimum warm-up time per case (overrides the suite)', ms)
      .option('--report <list>', 'also write these reports beside the results file: html, md, csv, gab, bmf, openmetrics', list)
      .option('--plugin <list>', 'modules to import first: they register extra backends, kernels or workloads', list)
      .action(async (opts: RunCliOptions) => {
        // Commander appends repeatable list values to the default; keep only what was given.
        if (opts.reporter.length > 1 && opts.reporter[0] === 'console') opts.reporter = opts.reporter.slice(1);
        process.exitCode = await runCli(opts, process.argv.slice(2));
      });
  },
};
