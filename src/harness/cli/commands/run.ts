/**
 * `gpubench run`: plan a suite (narrowed by the command line), run every case, write the
 * results file as cases complete, print a table. Exit 0 when every case that ran is ok,
 * 1 when any failed (wrong result, fallback, error), 2 for bad usage.
 */
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { byteSize, factor, intIn, intList, list, ms, positiveNumber, positiveSeconds } from '../options.js';
import type { CoordinatorOptions } from '../../../collectives/control/coordinator.js';
import type { AverageMode } from '../../../collectives/nccl-tests.js';

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
  /** Interleaved rounds of the plan. */
  repetitions?: number;
  plugin?: string[];
  report?: string[];
  /** Start a coordinator and this many worker processes on loopback. */
  localNodes?: number;
  /** With `--local-nodes`: GPUs (ranks) each worker process drives. */
  gpusPerProcess?: number;
  minBytes?: number;
  maxBytes?: number;
  stepFactor?: number;
  stepBytes?: number;
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
  /** Absolute floors, `[CASES:]METRIC=VALUE` each (harness/floors.ts). */
  min?: string[];
  /** An acceptance profile: a shipped name (configs/acceptance/NAME.yaml) or a file. */
  acceptance?: string;
  /** burn: how long the GEMMs run, seconds. */
  burnSeconds?: number;
}

/** A multi-process run's coordinator settings (from `gpubench coordinator`, or made up for `--local-nodes`). */
export type ClusterSettings = CoordinatorOptions & { localNodes?: number; gpusPerProcess?: number; average?: AverageMode };

/**
 * Runs the command; returns the exit code. The work is in `run-cli.ts`, imported here so
 * that `gpubench --help` does not load every backend.
 */
export async function runCli(opts: RunCliOptions, rawArgv: string[], clusterSettings?: ClusterSettings): Promise<number> {
  const { runCli: run } = await import('./run-cli.js');
  return run(opts, rawArgv, clusterSettings);
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
    .option('--repetitions <n>', 'measure every case in N interleaved rounds (later rounds in a shuffled order) and keep the median round: steadier on a shared host (overrides the suite)', intIn(1, 100))
    .option('--report <list>', 'also write these reports beside the results file: html, md, csv, gab, bmf, openmetrics', list)
    .option('--plugin <list>', 'modules to import first: they register extra backends, kernels or workloads', list)
    .option('-b, --min-bytes <size>', 'collectives: smallest message S, e.g. 8, 1K (nccl-tests -b)', byteSize)
    .option('-e, --max-bytes <size>', 'collectives: largest message S, e.g. 64MiB (nccl-tests -e)', byteSize)
    .option('-f, --step-factor <x>', 'collectives: multiply S by this between sizes (nccl-tests -f)', factor)
    .option('-i, --step-bytes <size>', 'collectives: add this to S between sizes instead of multiplying (nccl-tests -i; not with -f)', byteSize)
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
    .option('--min <floor>', 'exit 1 when a case measures less: [CASES:]METRIC=VALUE, e.g. busbw=40, allreduce:busbw=40, \'matmul/*/bf16/*:tflops=600\' (metrics: tflops, pctOfPeak, busbw, algbw, bandwidth); repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--acceptance <name|file>', 'judge the run against an acceptance profile\'s floors: h100-sxm, h200, a100-sxm-80gb, cpu-ci (configs/acceptance/) or a YAML file')
    .option('--in-place', 'collectives: in-place calls (output aliases input)')
    .option('--out-of-place', 'collectives: out-of-place calls (the default; with --in-place, both)')
    .option('--chunk-bytes <size>', 'collectives: pipelining slice of the ring and chain algorithms', byteSize)
    .option('--burn-seconds <s>', 'burn: how long every GPU multiplies and compares, seconds (default 60, as gpu-burn\'s argument)', positiveSeconds)
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
      .option('--gpus-per-process <n>', 'with --local-nodes: each worker process drives N GPUs as N consecutive ranks (NCCL group calls); the world has N × local-nodes ranks', intIn(1, 64))
      .action(async (opts: RunCliOptions) => {
        // Commander appends repeatable list values to the default; keep only what was given.
        if (opts.reporter.length > 1 && opts.reporter[0] === 'console') opts.reporter = opts.reporter.slice(1);
        process.exitCode = await runCli(opts, process.argv.slice(2));
      });
  },
};
