/**
 * Runs a plan: for each case, fresh random data, setup on the backend, one checked run
 * against the float64 reference (output poisoned first), then the measurement loop,
 * statistics and metrics. A case's failure is recorded and the run goes on; reporters
 * see every case as it ends, so measured results reach disk before anything else can fail.
 */
import { randomUUID } from 'node:crypto';
import type { PlannedCase, Plan } from './plan.js';
import { measure, yieldToEventLoop, type MeasureOptions } from './measure.js';
import { datasheetPeak } from './peaks.js';
import { getKernel, getWorkload } from './registry.js';
import type { CasePhase, Reporter } from './reporter.js';
import { RESULTS_SCHEMA, type CaseResult, type ResultsFile } from './results/schema.js';
import { freshSeed } from './random.js';
import { summarize } from './stats.js';
import { fingerprint } from './environment.js';
import { packageVersion } from './version.js';
import { applyLink } from './topology/links.js';
import { endsRepetitions, mergeRepetitions, roundOrder } from './repetitions.js';

/** How to run a plan. */
export interface RunOptions {
  measure: MeasureOptions;
  reporters: Reporter[];
  argv: string[];
  suite?: string;
  /** Checked between cases; true stops the run (status `partial`). */
  shouldStop?: () => boolean;
  /**
   * Runs one case; defaults to `runCase` in this process. A multi-process run hands
   * its cases to the control plane here. May throw a RuntimeFault (peer lost): the run
   * then ends `failed`, the results so far are written, and the fault propagates.
   */
  execute?: (c: PlannedCase, opts: RunOptions) => Promise<CaseResult>;
  /** Adds to the results skeleton before any reporter sees it (e.g. `environment.nodes`). */
  annotate?: (results: ResultsFile) => void;
  /** Adds derived data (e.g. alpha-beta fits) after the last case, before `onRunEnd`. */
  finalize?: (results: ResultsFile) => void;
}

const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Runs one planned case to a result. Never throws. */
export async function runCase(c: PlannedCase, opts: RunOptions): Promise<CaseResult> {
  const workload = getWorkload<unknown, unknown>(c.workload)!;
  const base = {
    id: c.id,
    workload: c.workload,
    backend: c.backend,
    device: '',
    params: workload.describe(c.params),
    samplesMs: [] as number[],
    metrics: {},
  };
  if (c.skip) return { ...base, status: 'skipped', reason: c.skip };
  const kernel = getKernel<unknown, unknown>(c.workload, c.backend)!;
  const phase = (p: CasePhase) => {
    for (const r of opts.reporters) r.onCasePhase?.(c, p);
  };
  phase('setup');
  const data = workload.makeData(c.params, freshSeed());
  let prepared;
  try {
    prepared = await kernel.setup(c.params, data, { phase });
  } catch (err) {
    return { ...base, status: 'failed', reason: `setup failed: ${errMessage(err)}` };
  }
  const result: CaseResult = { ...base, device: prepared.device, timer: prepared.timer, status: 'failed' };
  if (prepared.impl) result.impl = prepared.impl;
  try {
    // Each checked call (nccl-tests' -c) starts from poisoned outputs (runChecked does it).
    phase('check');
    let check = workload.check(c.params, data, await prepared.runChecked());
    for (let i = 1; i < (opts.measure.checkIters ?? 1) && check.passed; i++) check = workload.check(c.params, data, await prepared.runChecked());
    result.check = check;
    if (!result.check.passed) {
      const err = result.check.maxRelError === null ? 'non-finite output' : `relative error ${result.check.maxRelError.toExponential(2)}`;
      result.reason = `wrong result: ${err} > tolerance ${result.check.tolerance.toExponential(1)}, ${result.check.wrong} wrong of ${result.check.checked} checked`;
      return result;
    }
    const m = await measure(prepared, workload.measureOptions?.(c.params, opts.measure) ?? opts.measure, (n) => {
      for (const r of opts.reporters) r.onCaseSample?.(c, n);
    }, phase);
    result.samplesMs = m.samplesMs;
    result.warmup = m.warmup;
    result.stats = summarize(m.samplesMs);
    const peak = datasheetPeak(prepared.device, workload.peakDtype?.(c.params));
    result.metrics = workload.metrics(c.params, result.stats.medianMs, { tflops: peak?.tflops });
    const tel = prepared.telemetry?.();
    if (tel) {
      result.telemetry = tel;
      result.metrics.avgWatts = tel.avgWatts;
      result.metrics.energyJ = tel.energyJ;
      if (result.metrics.tflops !== undefined && tel.avgWatts > 0) result.metrics.tflopsPerWatt = result.metrics.tflops / tel.avgWatts;
    }
    applyLink(result, prepared.link?.());
    const after = await prepared.afterTiming?.();
    if (after?.fields) Object.assign(result, after.fields);
    if (after?.check) {
      // The check before the timed runs (on a poisoned output) passed; it is kept beside this one.
      if (result.check) result.checkBeforeTiming = result.check;
      result.check = { ...after.check, afterTiming: true };
      if (!after.check.passed) {
        result.reason = after.reason ?? `wrong result after the timed runs: ${after.check.wrong} wrong of ${after.check.checked ?? '?'} checked`;
        return result;
      }
    }
    const fallback = prepared.fallbackReason?.();
    if (fallback) {
      result.reason = `not counted: ${fallback}`;
      return result;
    }
    result.status = 'ok';
    return result;
  } catch (err) {
    result.reason = errMessage(err);
    return result;
  } finally {
    await prepared.dispose().catch(() => undefined);
  }
}

/** The code's commit as CI names it, for history reports (no git subprocess: start-up stays cheap). */
function commitOf(): string | undefined {
  return process.env.GPUBENCH_COMMIT || process.env.GITHUB_SHA || process.env.CI_COMMIT_SHA || undefined;
}

/** The results skeleton of a run about to start: no cases yet, status `partial`. */
export function newResults(plan: Plan, opts: Pick<RunOptions, 'argv' | 'suite'>): ResultsFile {
  return {
    schema: RESULTS_SCHEMA,
    run: {
      id: randomUUID(),
      startedAt: new Date().toISOString(),
      argv: opts.argv,
      version: packageVersion(),
      status: 'partial',
      ...(opts.suite ? { suite: opts.suite } : {}),
      ...(commitOf() ? { commit: commitOf() } : {}),
      ...(plan.unavailable.length > 0 ? { unavailable: plan.unavailable } : {}),
    },
    environment: fingerprint(),
    devices: plan.devices,
    cases: [],
  };
}

/**
 * Records a run that failed before its first case (a rendezvous that timed out, a data
 * link that never came up): the reporters write a results file with status `failed` and
 * `run.fault`, so a failure always leaves a results file behind.
 */
export async function recordFailedStart(plan: Plan, opts: Pick<RunOptions, 'argv' | 'suite' | 'reporters'>, err: unknown): Promise<ResultsFile> {
  const results = newResults(plan, opts);
  results.run.finishedAt = new Date().toISOString();
  results.run.status = 'failed';
  results.run.fault = errMessage(err);
  for (const r of opts.reporters) await r.onRunStart?.(plan.cases, results);
  for (const r of opts.reporters) await r.onRunEnd?.(results);
  return results;
}

/** Asks each workload of the run for its summaries over its cases (workloads that have any). */
export function addSummaries(results: ResultsFile): void {
  for (const id of new Set(results.cases.map((c) => c.workload))) {
    const s = getWorkload(id)?.summarize?.(results.cases.filter((c) => c.workload === id));
    if (s && s.length > 0) (results.summaries ??= {})[id] = s;
  }
}

/**
 * Runs every case of the plan in order, feeding the reporters; with `measure.repetitions`
 * N > 1, N rounds of the plan, the later ones in a shuffled order (see repetitions.ts).
 * A case reaches `results.cases` and `onCaseEnd` when its last round ends (or its first
 * bad one); each round reaches `onRepetitionEnd` as it ends, so it is on disk before the
 * next begins. A run stopped or failed between rounds keeps the rounds it has.
 */
export async function runPlan(plan: Plan, opts: RunOptions): Promise<ResultsFile> {
  const results = newResults(plan, opts);
  const rounds = Math.max(1, opts.measure.repetitions ?? 1);
  const seed = rounds > 1 ? freshSeed() : 0;
  if (rounds > 1) results.run.repetitions = { rounds, seed };
  const call = async (fn: (r: Reporter) => void | Promise<void>) => {
    for (const r of opts.reporters) await fn(r);
  };
  opts.annotate?.(results);
  await call((r) => r.onRunStart?.(plan.cases, results, { measure: opts.measure }));
  let stopped = false;
  let fault: unknown;
  const execute = opts.execute ?? runCase;
  // Executions the progress line counts: a case the plan skips runs once.
  const total = plan.cases.reduce((s, c) => s + (c.skip ? 1 : rounds), 0);
  const measured = new Map<number, CaseResult[]>();
  const ended = new Set<number>();
  const end = async (i: number) => {
    ended.add(i);
    const res = mergeRepetitions(measured.get(i)!, rounds);
    results.cases.push(res);
    await call((r) => r.onCaseEnd?.(res, results));
  };
  let n = 0;
  run: for (let round = 0; round < rounds; round++) {
    for (const i of roundOrder(plan.cases.length, round, seed)) {
      if (ended.has(i)) continue;
      const c = plan.cases[i]!;
      await yieldToEventLoop(); // a pending Ctrl-C is seen before the next case starts
      if (opts.shouldStop?.()) {
        stopped = true;
        break run;
      }
      await call((r) => r.onCaseStart?.(c, n++, total));
      let res: CaseResult;
      try {
        res = await execute(c, opts);
      } catch (err) {
        fault = err;
        break run;
      }
      measured.set(i, [...(measured.get(i) ?? []), res]);
      if (rounds > 1) await call((r) => r.onRepetitionEnd?.(res, round, rounds));
      if (round === rounds - 1 || endsRepetitions(res)) await end(i);
    }
  }
  // Stopped or failed between rounds: the cases measured so far keep the rounds they have.
  for (const i of [...measured.keys()].sort((a, b) => a - b)) if (!ended.has(i)) await end(i);
  if (rounds > 1) {
    const order = new Map(plan.cases.map((c, i) => [c.id, i]));
    results.cases.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  }
  results.run.finishedAt = new Date().toISOString();
  results.run.status = fault ? 'failed' : stopped ? 'partial' : 'complete';
  if (fault) results.run.fault = errMessage(fault);
  addSummaries(results);
  opts.finalize?.(results);
  await call((r) => r.onRunEnd?.(results));
  if (fault) throw fault;
  return results;
}
