/**
 * `gpubench run`: plan a suite (narrowed by the command line), run every case, write the
 * results file as cases complete, print a table. Exit 0 when every case that ran is ok,
 * 1 when any failed (wrong result, fallback, error), 2 for bad usage.
 */
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { byteSize, factor, intIn, intList, list, ms, positiveNumber, positiveSeconds } from '../options.js';
import { loadSuite } from '../../suite.js';
import { planRun } from '../../plan.js';
import { recordFailedStart, runPlan } from '../../runner.js';
import { redactArgv } from '../../redact.js';
import { disposeBackends } from '../../registry.js';
import { ExitCode, UsageError } from '../../errors.js';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { MeasureOptions } from '../../measure.js';
import { loadReporters, parseFormats, ResultsFileReporter, writeReports } from '../../../reporters/index.js';
import { tally } from '../../../reporters/console.js';
import '../../../kernels/index.js';
import { randomBytes } from 'node:crypto';
import { setWorld } from '../../../collectives/world.js';
import { startCluster, type Cluster } from '../../../collectives/control/cluster-run.js';
import { addFits } from '../../../collectives/fit.js';
import type { CoordinatorOptions } from '../../../collectives/control/coordinator.js';
import { AVERAGE_MODES, averageBusBw, NCCL_TYPE_ALIASES, type AverageMode } from '../../../collectives/nccl-tests.js';
import { NcclTestsReporter } from '../../../reporters/nccl-tests.js';

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
  maxWarmup?: number;
  plugin?: string[];
  report?: string[];
  /** Start a coordinator and this many worker processes on loopback. */
  localNodes?: number;
  minBytes?: number;
  maxBytes?: number;
  stepFactor?: number;
  algorithm?: string[];
  op?: string[];
  inPlace?: boolean;
  outOfPlace?: boolean;
  chunkBytes?: number;
  root?: number;
  /** nccl-tests' -n, -w, -c, -d, -a, -T. */
  iters?: number;
  warmupIters?: number;
  check?: number;
  datatype?: string[];
  average?: number;
  timeout?: number;
  /** Console output: gpubench's own (default) or nccl-tests' columns. */
  format?: string;
  /** Fail (exit 1) when the average busbw of the large sizes is below this, GB/s. */
  minBusbw?: number;
}

/** A multi-process run's coordinator settings (from `gpubench coordinator`, or made up for `--local-nodes`). */
export type ClusterSettings = CoordinatorOptions & { localNodes?: number; average?: AverageMode };

/** Console formats of `--format`. */
const CONSOLE_FORMATS = ['gpubench', 'nccl-tests'] as const;

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
export async function runCli(opts: RunCliOptions, rawArgv: string[], clusterSettings?: ClusterSettings): Promise<number> {
  // The command line is recorded in the results (and from there in reports and exports): no secrets.
  const argv = redactArgv(rawArgv);
  if (opts.format !== undefined && !(CONSOLE_FORMATS as readonly string[]).includes(opts.format))
    throw new UsageError(`"${opts.format}" is not one of ${CONSOLE_FORMATS.join(', ')}`, '--format');
  if (opts.localNodes !== undefined)
    clusterSettings = { worldSize: opts.localNodes, localNodes: opts.localNodes, host: '127.0.0.1', port: 0, token: randomBytes(16).toString('hex') };
  if (clusterSettings) {
    clusterSettings.average = AVERAGE_MODES[opts.average ?? 1];
    // nccl-tests' -T: a case that has not ended on every rank by then fails the run, naming the ranks.
    if (opts.timeout !== undefined) clusterSettings.caseTimeoutMs = opts.timeout * 1000;
  }
  const dtypes = mergeDatatypes(opts.dtypes, opts.datatype);
  // Local workers share this host; a coordinator learns its workers' hosts at rendezvous.
  setWorld(clusterSettings ? { ranks: clusterSettings.worldSize, ...(clusterSettings.localNodes ? { hosts: 1 } : {}) } : undefined);
  await loadPlugins(opts.plugin);
  // Validate report formats before measuring anything. `json` is the results file itself.
  const reportFormats = opts.report ? parseFormats(opts.report, '--report').filter((f) => f !== 'json') : [];
  const suite = loadSuite(opts.suite);
  const measure: MeasureOptions = { ...suite.measure };
  if (opts.minTime !== undefined) measure.minTimeMs = opts.minTime;
  if (opts.warmup !== undefined) measure.warmupMs = opts.warmup;
  if (opts.maxWarmup !== undefined) measure.maxWarmupMs = opts.maxWarmup;
  if (opts.check !== undefined) measure.checkIters = opts.check;
  if (opts.iters !== undefined) measure.ncclIters = opts.iters;
  if (opts.warmupIters !== undefined) measure.ncclWarmupIters = opts.warmupIters;

  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\ngpubench: stopping after this case (Ctrl-C again to quit now; results so far are on disk)\n');
  };
  process.on('SIGINT', onSigint);
  let cluster: Cluster | undefined;
  try {
    const filters = {
      workloads: opts.workloads,
      backends: opts.backends,
      overrides: {
        sizes: opts.sizes,
        dtypes,
        minBytes: opts.minBytes,
        maxBytes: opts.maxBytes,
        stepFactor: opts.stepFactor,
        algorithm: opts.algorithm,
        op: opts.op,
        inPlace: opts.inPlace || opts.outOfPlace ? [...(opts.outOfPlace ? [false] : []), ...(opts.inPlace ? [true] : [])] : undefined,
        chunkBytes: opts.chunkBytes,
        root: opts.root,
      },
    };
    let plan = await planRun(suite, filters);
    for (const u of plan.unavailable) process.stderr.write(`gpubench: ${u.backend} unavailable: ${u.reason}\n`);
    const jsonPath = opts.json ?? join(opts.out, `gpubench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const fileReporter = new ResultsFileReporter(jsonPath);
    const consoleReporters = opts.format === 'nccl-tests' ? [new NcclTestsReporter(process.stdout, opts.minBusbw)] : await loadReporters(opts.reporter);
    const reporters = [...consoleReporters, fileReporter];
    // Multi-process: the plan is valid (usage errors came first); now assemble the world.
    if (clusterSettings) {
      try {
        cluster = await startCluster(clusterSettings);
      } catch (err) {
        // Nothing was measured, but the failure is on disk like any other.
        await recordFailedStart(plan, { argv, suite: suite.name, reporters: [fileReporter] }, err);
        process.stderr.write(`results: ${jsonPath} (status failed)\n`);
        throw err;
      }
      // Case ids carry the topology (ranks and hosts): plan again now that the hosts are known.
      setWorld({ ranks: clusterSettings.worldSize, hosts: cluster.hosts });
      plan = await planRun(suite, filters);
    }
    const results = await runPlan(plan, {
      measure,
      reporters,
      argv,
      suite: suite.name,
      shouldStop: () => stopRequested,
      // In one process (local adapters as ranks) the collective sweeps get their fits too.
      ...(cluster ? { execute: cluster.execute, annotate: cluster.annotate, finalize: cluster.finalize } : { finalize: addFits }),
    }).catch(async (err: unknown) => {
      await cluster?.close(err instanceof Error ? err.message : String(err));
      cluster = undefined;
      process.stderr.write(`results: ${jsonPath} (status failed)\n`);
      throw err;
    });
    await cluster?.close();
    cluster = undefined;
    process.stderr.write(`results: ${jsonPath} (and ${fileReporter.jsonlPath})\n`);
    if (reportFormats.length > 0) {
      const written = await writeReports(results, reportFormats, dirname(jsonPath), basename(jsonPath, '.json'));
      process.stderr.write(`reports: ${written.join(', ')}\n`);
    }
    const n = tally(results);
    if (n.ok + n.failed === 0) process.stderr.write('gpubench: warning: no case ran (all skipped)\n');
    if (n.failed > 0) return ExitCode.failed;
    if (opts.minBusbw !== undefined) {
      const avg = averageBusBw(results.cases);
      if (!avg) {
        process.stderr.write(`gpubench: --min-busbw ${opts.minBusbw}: no collective case ran, nothing to judge\n`);
        return ExitCode.failed;
      }
      const verdict = avg.gbps < opts.minBusbw ? 'FAILED' : 'ok';
      process.stderr.write(`gpubench: average busbw ${avg.gbps.toPrecision(4)} GB/s over ${avg.cases} case(s) of S >= ${avg.fromBytes} B; --min-busbw ${opts.minBusbw}: ${verdict}\n`);
      if (verdict === 'FAILED') return ExitCode.failed;
    }
    // Stopped by Ctrl-C: what was measured is on disk, but the run is not complete.
    return results.run.status === 'partial' ? ExitCode.interrupted : ExitCode.ok;
  } finally {
    process.off('SIGINT', onSigint);
    await cluster?.close('coordinator stopped');
    setWorld(undefined);
    await disposeBackends();
  }
}

/** The options `run` and `coordinator` share: what to run and how to measure it. */
export function addRunOptions(cmd: Command): Command {
  return cmd
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
    .option('--max-warmup <ms>', 'longest warm-up per case while calls still get faster (default 10 x --warmup)', ms)
    .option('--report <list>', 'also write these reports beside the results file: html, md, csv, gab, bmf, openmetrics', list)
    .option('--plugin <list>', 'modules to import first: they register extra backends, kernels or workloads', list)
    .option('-b, --min-bytes <size>', 'collectives: smallest message S, e.g. 8, 1K (nccl-tests -b)', byteSize)
    .option('-e, --max-bytes <size>', 'collectives: largest message S, e.g. 64MiB (nccl-tests -e)', byteSize)
    .option('-f, --step-factor <x>', 'collectives: multiply S by this between sizes (nccl-tests -f)', factor)
    .option('--algorithm <list>', 'collectives: auto, or by name: ring, halving-doubling, recursive-doubling, tree, linear, one-shot (all-reduce); ring (all-gather, reduce-scatter); chain (broadcast); tree (reduce); pairwise (alltoall); linear (gather, scatter); shift (sendrecv)', list)
    .option('-o, --op <list>', 'collectives: reduction ops sum, prod, min, max, avg (nccl-tests -o)', list)
    .option('-d, --datatype <list>', 'collectives: element types by nccl-tests\' names (int8, uint8, int32, uint32, int64, uint64, half, float, double, bfloat16, fp8_e4m3, fp8_e5m2, all), or ours (nccl-tests -d)', list)
    .option('-n, --iters <n>', 'collectives: back-to-back calls timed in nccl-tests\' convention after the samples (nccl-tests -n)', intIn(1, 1_000_000))
    .option('-w, --warmup-iters <n>', 'collectives: untimed calls before those (nccl-tests -w)', intIn(0, 1_000_000))
    .option('-c, --check <n>', 'checked calls per case, each on poisoned outputs (nccl-tests -c; gpubench always checks, so at least 1)', intIn(1, 1000))
    .option('-a, --average <mode>', 'collectives: how ranks\' times combine in nccl-tests\' convention: 0 rank 0, 1 average, 2 min, 3 max (nccl-tests -a)', intIn(0, 3))
    .option('-T, --timeout <s>', 'collectives across processes: a case not finished on every rank after this many seconds fails the run, naming those ranks (nccl-tests -T)', positiveSeconds)
    .option('--format <name>', 'console output: gpubench (default) or nccl-tests (its columns, for diffing against all_reduce_perf)')
    .option('--min-busbw <GB/s>', 'collectives: exit 1 when the average busbw of the cases with S >= 1 MiB (or the largest size) is below this (cf. NCCL_TESTS_MIN_BW)', positiveNumber)
    .option('--in-place', 'collectives: in-place calls (output aliases input)')
    .option('--out-of-place', 'collectives: out-of-place calls (the default; with --in-place, both)')
    .option('--chunk-bytes <size>', 'collectives: pipelining slice of the ring and chain algorithms', byteSize)
    .option('-r, --root <rank>', 'collectives: root rank of broadcast, reduce, gather and scatter (nccl-tests -r)', intIn(0, 1 << 20));
}

export const runCommand: CliCommand = {
  register(program: Command) {
    addRunOptions(
      program
        .command('run')
        .description('run a suite: every case checked against a float64 reference, timed, written to a results file'),
    )
      .option('--local-nodes <n>', 'multi-process run on this machine: a coordinator and N worker processes on loopback (collectives run on every rank)', intIn(1, 256))
      .action(async (opts: RunCliOptions) => {
        // Commander appends repeatable list values to the default; keep only what was given.
        if (opts.reporter.length > 1 && opts.reporter[0] === 'console') opts.reporter = opts.reporter.slice(1);
        process.exitCode = await runCli(opts, process.argv.slice(2));
      });
  },
};

/** `--dtypes` and nccl-tests' `-d` names together (e.g. `-d float,half`). */
function mergeDatatypes(dtypes: string[] | undefined, datatype: string[] | undefined): string[] | undefined {
  if (!datatype) return dtypes;
  const mapped = datatype.flatMap((d) => {
    if (d.toLowerCase() === 'all') return [...new Set(Object.values(NCCL_TYPE_ALIASES))];
    const ours = NCCL_TYPE_ALIASES[d.toLowerCase()];
    if (!ours) throw new UsageError(`"${d}" is not a type gpubench's collectives have; allowed: ${Object.keys(NCCL_TYPE_ALIASES).join(', ')}`, '--datatype');
    return ours;
  });
  return [...new Set([...(dtypes ?? []), ...mapped])];
}
