/**
 * The reporter seam, as vitest's: a reporter is an object of optional `on*` hooks; the
 * harness calls each hook of every active reporter in order. Built-in reporters live in
 * `src/reporters/` under a name → factory map; a custom one loads from a module path.
 */
import type { MeasureOptions } from './measure.js';
import type { PlannedCase } from './plan.js';
import type { CaseResult, ResultsFile } from './results/schema.js';

/**
 * Where a case is: `setup` (buffers, pipeline compilation), `autotune` (a kernel timing its
 * candidates, inside setup), `check` (the checked calls against the reference), `warm-up`,
 * `samples` (the timed loop).
 */
export type CasePhase = 'setup' | 'autotune' | 'check' | 'warm-up' | 'samples';

/** What a run knows at its start beyond the plan: the measurement budget of every case. */
export interface RunStartInfo {
  measure: MeasureOptions;
}

/** Hooks of a run; every one is optional and may be async. */
export interface Reporter {
  /** Before the first case: the plan and the results skeleton (run, environment, devices). */
  onRunStart?(plan: PlannedCase[], results: ResultsFile, info?: RunStartInfo): void | Promise<void>;
  /** A case begins (index from 0). */
  onCaseStart?(c: PlannedCase, index: number, total: number): void | Promise<void>;
  /** A case entered a phase (for live progress; cases run by remote ranks report none). */
  onCasePhase?(c: PlannedCase, phase: CasePhase): void;
  /** A sample was taken (for live progress). */
  onCaseSample?(c: PlannedCase, samples: number): void;
  /**
   * One round of a case ended, in a run of several interleaved repetitions (round from 0);
   * its result is not in `results.cases` (the case's merged result comes to `onCaseEnd`).
   */
  onRepetitionEnd?(result: CaseResult, round: number, rounds: number): void | Promise<void>;
  /** A case ended, ok, failed or skipped. Its result is already in `results.cases`. */
  onCaseEnd?(result: CaseResult, results: ResultsFile): void | Promise<void>;
  /** After the last case (or an interruption): `results.run.status` says which. */
  onRunEnd?(results: ResultsFile): void | Promise<void>;
}
