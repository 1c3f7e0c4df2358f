/**
 * The results contract (`gpubench.results/v1`): what reporters, `compare`, `estimate`
 * and CI read. Field names may grow; none may silently change meaning. The TypeScript
 * types and the shipped JSON Schema (`schemas/results.v1.schema.json`) are both derived
 * from these zod schemas, so the three cannot drift apart.
 */
import { z } from 'zod';
import { GpuTopology, HostTopology, LinkCeiling } from '../topology/schema.js';

/** Version tag written into every results file. */
export const RESULTS_SCHEMA = 'gpubench.results/v1';

/** Element types a workload can be asked for. */
export const DTYPES = ['f32', 'tf32', 'f16', 'bf16', 'fp8', 'i32', 'f64', 'i8', 'u8', 'u32', 'i64', 'u64', 'fp8e4m3', 'fp8e5m2'] as const;
export const Dtype = z.enum(DTYPES);
export type Dtype = z.infer<typeof Dtype>;

/**
 * Workloads the contract knows; collectives arrive with the collectives issue. `memcpy` is a
 * device-to-device copy, the memory-bandwidth ceiling of a roofline.
 */
/** The collective workloads of the contract (nccl-tests' operations); their headline metric is busbw. */
export const COLLECTIVE_WORKLOADS = ['allreduce', 'allgather', 'reducescatter', 'broadcast', 'reduce', 'alltoall', 'gather', 'scatter', 'sendrecv'] as const;
/**
 * Node-acceptance workloads (src/kernels/acceptance/): host<->device copies and the
 * device<->device matrix as nvbandwidth, kernel-launch latency, and the gpu-burn soak.
 */
export const ACCEPTANCE_WORKLOADS = ['hostcopy', 'peercopy', 'launch', 'burn'] as const;
export const WORKLOADS = ['matmul', ...COLLECTIVE_WORKLOADS, 'memcpy', ...ACCEPTANCE_WORKLOADS] as const;
export const WorkloadId = z.enum(WORKLOADS);
export type WorkloadId = z.infer<typeof WorkloadId>;

/** How a case's samples were timed: on the device, or honestly labelled host time. */
export const TimerKind = z.enum(['gpu-timestamp', 'cuda-event', 'wall-clock']);
export type TimerKind = z.infer<typeof TimerKind>;

export const CaseStatus = z.enum(['ok', 'failed', 'skipped']);
export type CaseStatus = z.infer<typeof CaseStatus>;

/** Summary statistics of the per-iteration samples, in milliseconds. */
export const Stats = z.object({
  medianMs: z.number(),
  meanMs: z.number(),
  minMs: z.number(),
  maxMs: z.number(),
  p10Ms: z.number(),
  p90Ms: z.number(),
  stddevMs: z.number(),
  /** Coefficient of variation: stddev / mean. */
  cv: z.number(),
});
export type Stats = z.infer<typeof Stats>;

/** Derived metrics in the field's units; absent where they do not apply. */
export const Metrics = z.object({
  /** 2·m·n·k·batch / median seconds / 1e12. */
  tflops: z.number().optional(),
  /** tflops / the catalog's datasheet peak for this GPU and dtype, as a percent. */
  pctOfPeak: z.number().optional(),
  /** The datasheet peak pctOfPeak was computed against. */
  peakTflops: z.number().optional(),
  algbwGBps: z.number().optional(),
  busbwGBps: z.number().optional(),
  /**
   * Copy bandwidth (memcpy): bytes copied / median seconds / 1e9, the figure nvbandwidth and
   * cudaMemcpy benchmarks report. Earlier results files held the read+write figure here: a
   * memcpy case without `readWriteGBps` has that older meaning.
   */
  bandwidthGBps: z.number().optional(),
  /** Memory traffic of a copy (memcpy): (bytes read + bytes written) / median seconds / 1e9 = 2 × bandwidthGBps. */
  readWriteGBps: z.number().optional(),
  /** Kernel-launch latency (launch): microseconds per launch at the median. */
  usPerLaunch: z.number().optional(),
  /** 1e6 / usPerLaunch. */
  launchesPerSecond: z.number().optional(),
  /** Mean board power over the timed region (NVML). */
  avgWatts: z.number().optional(),
  /** Energy over the timed region, in joules (NVML). */
  energyJ: z.number().optional(),
  /** tflops / avgWatts. */
  tflopsPerWatt: z.number().optional(),
  /** The case's bandwidth as a percent of the ceiling of the link it crossed (`link` says which figure and which link). */
  pctOfLink: z.number().optional(),
}).passthrough();
export type Metrics = z.infer<typeof Metrics>;

/** Device telemetry sampled during a case's timed region (NVML on the `cuda` backend). */
export const Telemetry = z.object({
  source: z.literal('nvml'),
  samples: z.number().int().nonnegative(),
  /** Achieved sampling rate. */
  hz: z.number(),
  /** Seconds of timed region the samples cover. */
  seconds: z.number(),
  avgWatts: z.number(),
  maxWatts: z.number(),
  energyJ: z.number(),
  /** The board's energy counter (Volta and newer), or sampled power integrated over time. */
  energySource: z.enum(['nvml-energy-counter', 'integrated-power']),
  avgSmClockMHz: z.number().optional(),
  avgMemClockMHz: z.number().optional(),
  maxTemperatureC: z.number().optional(),
  /** NVML clocks-event reasons seen in any sample (sw-power-cap, hw-thermal-slowdown…). */
  throttleReasons: z.array(z.string()),
}).passthrough();
export type Telemetry = z.infer<typeof Telemetry>;

/** The correctness check against a float64 reference on fresh random data. */
export const Check = z.object({
  passed: z.boolean(),
  /** ‖out − ref‖₂ / ‖ref‖₂ over the checked elements. */
  maxRelError: z.number().nullable(),
  tolerance: z.number(),
  /** Elements that are not finite or far outside the tolerance. */
  wrong: z.number().int().nonnegative(),
  /** Elements compared (all of them, or a random sample for very large outputs). */
  checked: z.number().int().nonnegative().optional(),
  /** Seed of the random inputs, so a failure can be reproduced. */
  seed: z.number().int().optional(),
  /** This check was made after the timed runs (on what they left); the one before them passed. */
  afterTiming: z.boolean().optional(),
});
export type Check = z.infer<typeof Check>;

/** Which implementation ran, e.g. the autotuned WGSL tile and where its choice came from. */
export const Impl = z.object({
  kernel: z.string(),
  config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  autotune: z.object({
    source: z.enum(['cache', 'measured', 'fixed']),
    candidates: z.number().int().nonnegative(),
    key: z.string().optional(),
  }).optional(),
  notes: z.array(z.string()).optional(),
}).passthrough();
export type Impl = z.infer<typeof Impl>;

/**
 * How a case's warm-up went: calls, time, and whether the calls had stopped getting
 * faster (absent where settling was off). Unsettled samples may include a speed-up still
 * under way.
 */
export const Warmup = z.object({
  iterations: z.number().int().nonnegative(),
  ms: z.number().nonnegative(),
  settled: z.boolean().optional(),
  /** Calls of a smaller stand-in made first so that the JIT has optimised the hot path (collectives over WebSockets, large messages). */
  jitCalls: z.number().int().nonnegative().optional(),
});
export type Warmup = z.infer<typeof Warmup>;

/** One rank's view of a multi-rank case: its own times and its own check. */
export const RankTimes = z.object({
  rank: z.number().int().nonnegative(),
  host: z.string(),
  /** Median of this rank's own per-iteration times (the case's samples are the slowest rank's). */
  medianMs: z.number().optional(),
  samplesMs: z.array(z.number()),
  check: Check.optional(),
}).passthrough();
export type RankTimes = z.infer<typeof RankTimes>;

/**
 * A collective case in nccl-tests' own convention, beside gpubench's median-of-samples:
 * after `warmupIters` calls, the host time of `iters` back-to-back calls divided by
 * `iters` on each rank, combined across ranks as nccl-tests' `-a` says (0 rank 0,
 * 1 average, 2 min, 3 max), and the fields nccl-tests' `-J` JSON carries per result.
 */
export const NcclTestsResult = z.object({
  /** Bytes of S and its elements, as nccl-tests prints `size` and `count`. */
  size: z.number().int().nonnegative(),
  count: z.number().int().nonnegative(),
  /** nccl-tests' type name: float, half, bfloat16, int32, … */
  type: z.string(),
  redop: z.string(),
  /** -1 for collectives without a root, as nccl-tests prints it. */
  root: z.number().int(),
  inPlace: z.boolean(),
  iters: z.number().int().positive(),
  warmupIters: z.number().int().nonnegative(),
  /** nccl-tests' -a: how the ranks' times were combined. */
  average: z.enum(['rank0', 'avg', 'min', 'max']),
  /** Combined time per call, microseconds (nccl-tests' `time`). */
  timeUs: z.number(),
  algBw: z.number(),
  busBw: z.number(),
  /** nccl-tests' `#wrong`: wrong elements over every rank's checked calls. */
  nwrong: z.number().int().nonnegative(),
  /** Each rank's own time per call in the timed loop, microseconds, by rank. */
  rankTimesUs: z.array(z.number()),
  /** Per-iteration statistics of gpubench's samples (slowest rank's), microseconds, as nccl-tests' -J reports them. */
  minUs: z.number().optional(),
  maxUs: z.number().optional(),
  p99Us: z.number().optional(),
  stdevUs: z.number().optional(),
  cv: z.number().optional(),
}).passthrough();
export type NcclTestsResult = z.infer<typeof NcclTestsResult>;

/**
 * An absolute floor checked on one case (`gpubench run --min`, `--acceptance`): the case's
 * metric must be at least `min`, as nccl-tests' NCCL_TESTS_MIN_BW and acceptance suites do.
 */
export const FloorCheck = z.object({
  /** The metrics field judged, e.g. `tflops`, `busbwGBps`, `bandwidthGBps`, `pctOfPeak`. */
  metric: z.string(),
  min: z.number(),
  value: z.number(),
  passed: z.boolean(),
  /** Where the floor came from: `--min TEXT` or `acceptance PROFILE: floors[i]`. */
  from: z.string(),
}).passthrough();
export type FloorCheck = z.infer<typeof FloorCheck>;

/** One floor of a run and how the run fared against it. */
export const FloorOutcome = z.object({
  /** Where the floor came from: `--min TEXT` or `acceptance PROFILE: floors[i]`. */
  from: z.string(),
  /** Cases it applies to: a workload name or a case-id glob; empty for every case. */
  cases: z.string(),
  metric: z.string(),
  min: z.number(),
  /** How `min` was derived, e.g. `70% of 989.4 TFLOP/s (H100-SXM5-80GB tflops.bf16, configs/gpus.yaml)`. */
  basis: z.string().optional(),
  /** The profile's justification of the floor. */
  source: z.string().optional(),
  /** Cases that measured the metric. */
  judged: z.number().int().nonnegative(),
  /** Ids of the cases below the floor. */
  below: z.array(z.string()),
  passed: z.boolean(),
  /** Why it failed when no case was below it (nothing measured, another GPU). */
  reason: z.string().optional(),
}).passthrough();
export type FloorOutcome = z.infer<typeof FloorOutcome>;

/** One measured (or failed, or skipped) case. */
export const CaseResult = z.object({
  /** Stable key for compare, e.g. `matmul/webgpu/f32/1024x1024x1024`. */
  id: z.string(),
  workload: WorkloadId,
  backend: z.string(),
  device: z.string(),
  params: z.record(z.string(), z.unknown()),
  timer: TimerKind.optional(),
  samplesMs: z.array(z.number()),
  stats: Stats.optional(),
  metrics: Metrics,
  check: Check.optional(),
  /** Where `check` was made after the timed runs (`check.afterTiming`): the check made before them. */
  checkBeforeTiming: Check.optional(),
  impl: Impl.optional(),
  telemetry: Telemetry.optional(),
  status: CaseStatus,
  reason: z.string().optional(),
  /** Multi-rank cases: every rank's own times and check, in rank order. */
  ranks: z.array(RankTimes).optional(),
  warmup: Warmup.optional(),
  /** Collective cases across ranks: the same case in nccl-tests' timing convention. */
  ncclTests: NcclTestsResult.optional(),
  /** Absolute floors this case was judged against (`run --min`, `--acceptance`). */
  floors: z.array(FloorCheck).optional(),
  /** Bandwidth cases: the ceiling of the link the data crossed (memory, PCIe, NVLink, network) and the case's percent of it, where known. */
  link: LinkCeiling.optional(),
  /**
   * Interleaved repetitions: every round's median (in the order they ran; fewer than
   * `planned` when the run stopped) and the round this result is (the median of them).
   */
  repetitions: z.object({
    planned: z.number().int().min(2),
    medianMs: z.array(z.number()),
    chosen: z.number().int().nonnegative(),
  }).optional(),
}).passthrough();
export type CaseResult = z.infer<typeof CaseResult>;

/** Facts about one device a backend ran on. */
export const DeviceInfo = z.object({
  backend: z.string(),
  id: z.string(),
  name: z.string(),
  vendor: z.string().optional(),
  driver: z.string().optional(),
  memoryBytes: z.number().optional(),
  architecture: z.string().optional(),
  features: z.array(z.string()).optional(),
  limits: z.record(z.string(), z.number()).optional(),
  /** True for software adapters (lavapipe, SwiftShader) and CPU stacks. */
  software: z.boolean().optional(),
  /** Where the GPU sits: PCIe link, NVLinks, NUMA node, CPU affinity (the `cuda` backend, from NVML and sysfs). */
  topology: GpuTopology.optional(),
}).passthrough();
export type DeviceInfo = z.infer<typeof DeviceInfo>;

export const Environment = z.object({
  hostname: z.string(),
  os: z.string(),
  arch: z.string(),
  cpu: z.string(),
  cpuCount: z.number().int().optional(),
  memoryBytes: z.number(),
  node: z.string(),
  packages: z.record(z.string(), z.string()),
  /** GPUs (PCIe, NVLink, NUMA), NICs and RDMA ports of the host; each entry of `nodes` carries its own. */
  topology: HostTopology.optional(),
  nodes: z.array(z.record(z.string(), z.unknown())),
}).passthrough();
export type Environment = z.infer<typeof Environment>;

export const RunInfo = z.object({
  id: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  argv: z.array(z.string()),
  version: z.string(),
  status: z.enum(['complete', 'partial', 'failed']),
  suite: z.string().optional(),
  /**
   * The measured code's commit, for history reports: `GPUBENCH_COMMIT`, else `GITHUB_SHA`
   * or `CI_COMMIT_SHA` at run time.
   */
  commit: z.string().optional(),
  /** Backends the suite would have used that are unavailable on this machine, and why. */
  unavailable: z.array(z.object({ backend: z.string(), reason: z.string() })).optional(),
  /** Why the run stopped early with status `failed` (peer lost, timeout…). */
  fault: z.string().optional(),
  /** Interleaved repetitions (`--repetitions`): rounds of the plan, and the seed of the later rounds' shuffled order. */
  repetitions: z.object({ rounds: z.number().int().min(2), seed: z.number().int() }).optional(),
  /** Absolute floors (`--min`, `--acceptance`) and whether the run met each; any failed one makes the exit code 1. */
  floors: z.array(FloorOutcome).optional(),
  /** The acceptance profile the floors came from, if any. */
  acceptance: z.object({ name: z.string(), path: z.string(), gpu: z.string().optional() }).passthrough().optional(),
  /** Multi-process runs: the control plane's run id, world size and what went wrong on it. */
  cluster: z.object({
    runId: z.string(),
    worldSize: z.number().int().positive(),
    coordinator: z.string(),
    /** Some host ran more ranks than it has cores: `auto` then takes the fewest messages for small all-reduces (linear up to 8 ranks, the binomial tree above). */
    cpuBound: z.boolean().optional(),
    /** Connections cut off for protocol errors (garbage, bad token, too large). */
    protocolErrors: z.array(z.object({ at: z.string(), peer: z.string(), rank: z.number().int().optional(), error: z.string() }).passthrough()),
  }).passthrough().optional(),
}).passthrough();
export type RunInfo = z.infer<typeof RunInfo>;

/**
 * A latency/bandwidth (alpha-beta) model of one collective algorithm fitted to a sweep:
 * t(S) ≈ alpha + beta·S, weighted by 1/t² so small and large sizes count alike.
 */
export const AlphaBetaFit = z.object({
  workload: WorkloadId,
  backend: z.string(),
  /** The algorithm that ran (`auto` resolved per size, so each is fitted on its own). */
  algorithm: z.string(),
  dtype: z.string(),
  op: z.string().optional(),
  inPlace: z.boolean(),
  ranks: z.number().int().positive(),
  nodes: z.number().int().positive().optional(),
  /** Sizes the fit used. */
  points: z.number().int().positive(),
  minBytes: z.number(),
  maxBytes: z.number(),
  /** Fixed cost per call, microseconds. */
  alphaUs: z.number(),
  /** Cost per byte of S, nanoseconds. */
  betaNsPerByte: z.number(),
  /** 1/beta: the algbw the algorithm tends to at large S, GB/s. */
  algbwGBps: z.number().nullable(),
  /** algbwGBps × the collective's bus factor. */
  busbwGBps: z.number().nullable(),
  /** Largest |relative residual| of the fit over its points. */
  maxRelResidual: z.number(),
}).passthrough();
export type AlphaBetaFit = z.infer<typeof AlphaBetaFit>;

/**
 * A workload's view over all its cases of a run (the device<->device bandwidth matrix, the
 * burn's per-GPU verdicts): a table the console prints, and the data behind it.
 */
export const Summary = z.object({
  title: z.string(),
  columns: z.array(z.string()),
  rows: z.array(z.array(z.union([z.string(), z.number(), z.null()]))),
  data: z.unknown().optional(),
}).passthrough();
export type Summary = z.infer<typeof Summary>;

/** A whole results file. */
export const ResultsFile = z.object({
  schema: z.literal(RESULTS_SCHEMA),
  run: RunInfo,
  environment: Environment,
  devices: z.array(DeviceInfo),
  cases: z.array(CaseResult),
  /** Collective runs: an alpha-beta fit per algorithm (and dtype, op, placement). */
  collectives: z.object({ fits: z.array(AlphaBetaFit) }).passthrough().optional(),
  /** Per-workload summaries over the run's cases, by workload id (e.g. `peercopy`'s matrix). */
  summaries: z.record(z.string(), z.array(Summary)).optional(),
}).passthrough();
export type ResultsFile = z.infer<typeof ResultsFile>;
