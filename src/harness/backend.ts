/**
 * The backend seam: one folder per backend under `src/kernels/` (or `src/collectives/`),
 * one object each, registered in the registry. Adding a backend never edits the harness.
 */
import type { Check, DeviceInfo, Impl, Telemetry, TimerKind, WorkloadId } from './results/schema.js';
import type { LinkSpec } from './topology/schema.js';

/** What `probe()` found: usable with its devices, or not with a reason a person can act on. */
export type ProbeResult =
  | { available: true; devices: DeviceInfo[]; notes?: string[] }
  | { available: false; reason: string; devices?: DeviceInfo[] };

/** A stack that runs workloads: WebGPU/Dawn, a tfjs backend, the CUDA addon… */
export interface Backend {
  /** Stable id used on the CLI, in suites and in results (`webgpu`, `tfjs-cpu`…). */
  readonly id: string;
  /** One line for `gpubench list`. */
  readonly title: string;
  /**
   * Finds out whether the backend can run here, without running a workload. Called once
   * per process by the registry, which caches the answer. Must not throw.
   */
  probe(): Promise<ProbeResult>;
  /** Frees devices and handles so the process can exit. Safe to call more than once. */
  dispose?(): Promise<void>;
}

/**
 * A case made ready by a kernel: inputs uploaded, pipelines compiled, autotuning done.
 * The harness owns warm-up, repetitions and statistics; this only runs and times.
 */
export interface PreparedCase {
  /** Name of the device the case runs on. */
  readonly device: string;
  /** The clock `time()` reads. */
  readonly timer: TimerKind;
  /** Which implementation runs, for the results file. */
  readonly impl?: Impl;
  /** Poisons the output (NaN), runs once, and returns the output for the check. */
  runChecked(): Promise<Float32Array | Float64Array>;
  /**
   * Runs the timed region `iterations` times back to back and returns the elapsed
   * milliseconds for all of them on `timer`.
   */
  time(iterations: number): Promise<number>;
  /**
   * A reason the numbers are not what they claim (e.g. tfjs ran on the CPU), checked
   * after timing; a reason fails the case instead of counting it.
   */
  fallbackReason?(): string | undefined;
  /**
   * Device telemetry (power, clocks…) over the `time()` calls so far, read after
   * measuring; the runner adds avgWatts, energyJ and tflopsPerWatt to the metrics from it.
   */
  telemetry?(): Telemetry | undefined;
  /**
   * Verifies what the timed runs left (the copies' destinations, the burn's fault counters),
   * read after the telemetry: a failed check fails the case; `fields` are added to the
   * case's result either way (e.g. the burn's per-GPU verdicts and health counters).
   */
  afterTiming?(): Promise<AfterTiming>;
  /**
   * The ceiling of the link the case's data crosses (HBM, PCIe, NVLink, network), where
   * known; the runner records it and the case's percent of it (`link`, `metrics.pctOfLink`).
   */
  link?(): LinkSpec | undefined;
  /** Frees the case's buffers. */
  dispose(): Promise<void>;
}

/** What a kernel's setup may tell the harness while it works (live progress). */
export interface SetupHooks {
  phase?(phase: 'autotune'): void;
}

/** What a case found after its timed runs. */
export interface AfterTiming {
  check?: Check;
  /** Why the case fails when `check` did not pass (default: the wrong count). */
  reason?: string;
  fields?: Record<string, unknown>;
}

/**
 * The implementation of one workload on one backend, keyed by (workload, backend) in the
 * kernel registry as tfjs-core keys kernels by (kernelName, backendName).
 * @typeParam P the workload's parameters
 * @typeParam D the workload's prepared input data
 */
export interface KernelConfig<P = unknown, D = unknown> {
  workload: WorkloadId;
  backend: string;
  /**
   * A reason these parameters cannot run here (dtype not supported, too large), or
   * undefined. `devices` are what the backend's probe found.
   */
  supports?(params: P, devices: DeviceInfo[]): string | undefined;
  /** Builds a ready-to-time case on the backend's device (`hooks.phase('autotune')` while it times candidates). */
  setup(params: P, data: D, hooks?: SetupHooks): Promise<PreparedCase>;
}
