/**
 * The workload seam: parameters → work with a FLOP or byte count, fresh random data, a
 * correctness check against a float64 reference, and a timed region (the kernel's). The
 * harness owns warm-up, repetitions, min-time and statistics.
 */
import type { z } from 'zod';
import type { MeasureOptions } from './measure.js';
import type { CaseResult, Check, DeviceInfo, Metrics, Summary, WorkloadId } from './results/schema.js';

/** Options from the command line that override a suite entry (`--sizes`, `--dtypes`…). */
export interface CliOverrides {
  sizes?: number[];
  dtypes?: string[];
  [option: string]: unknown;
}

/** What `expand` knows about where its cases will run. */
export interface ExpandContext {
  /** Id of the backend the cases are planned for. */
  backend: string;
  /** The devices its probe found (none when it is unavailable). */
  devices?: DeviceInfo[];
}

/** Facts a workload's metrics need about the device: its datasheet peak, if known. */
export interface PeakInfo {
  /** Datasheet peak in TFLOP/s for the case's dtype. */
  tflops?: number;
}

/**
 * A workload definition, e.g. matmul.
 * @typeParam P one case's parameters
 * @typeParam D one case's prepared data (inputs, and what the check needs)
 */
export interface Workload<P, D> {
  id: WorkloadId;
  /** Schema of this workload's entries in a suite file (`workload: <id>` discriminates). */
  entrySchema: z.ZodObject;
  /**
   * Expands a validated suite entry, with command-line overrides applied, into cases.
   * `context.backend` is the backend the cases are planned for (collectives size their
   * blocks by that backend's rank count).
   */
  expand(entry: Record<string, unknown>, overrides: CliOverrides, context?: ExpandContext): P[];
  /** The case's stable id for compare, e.g. `matmul/webgpu/f32/1024x1024x1024`. */
  caseId(backend: string, params: P): string;
  /** The parameters as written into the results file. */
  describe(params: P): Record<string, unknown>;
  /** The contract dtype whose datasheet peak applies to this case, if any. */
  peakDtype?(params: P): string | undefined;
  /** Fresh random inputs for one case, from a seed the results record. */
  makeData(params: P, seed: number): D;
  /** Compares a kernel's output with the float64 reference. */
  check(params: P, data: D, output: Float32Array | Float64Array): Check;
  /** Throughput metrics from the median time of one iteration. */
  metrics(params: P, medianMs: number, peak: PeakInfo): Metrics;
  /**
   * The measurement loop this case needs where it differs from the suite's (a soak that
   * runs for a set time); called with the suite's options.
   */
  measureOptions?(params: P, suite: MeasureOptions): MeasureOptions;
  /** Tables over all this workload's cases of a run (a bandwidth matrix), after the last case. */
  summarize?(cases: CaseResult[]): Summary[];
}
