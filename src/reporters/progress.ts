/**
 * The arithmetic of the live progress line: how long the run has taken and how long it
 * has left. Before a case has finished the estimate comes from the plan's budget (each
 * case warms up for at least `warmupMs` and samples for at least `minTimeMs`); after,
 * from the mean time of the cases that ran. The case in flight adds what it has left by
 * its phase: while it samples, the rest of `minTimeMs`; before that, the rest of a mean
 * case, and never less than `minTimeMs` (it has not begun its samples yet).
 */
import type { MeasureOptions } from '../harness/measure.js';
import type { CasePhase } from '../harness/reporter.js';

/** Where the current case is; `starting` when the case runs elsewhere and said nothing yet. */
export type LivePhase = CasePhase | 'starting';

/** Progress of one run, fed with case starts, phases and ends; times in ms from `Date.now()`-like clocks. */
export class RunClock {
  private readonly started: number;
  private readonly budget?: Pick<MeasureOptions, 'warmupMs' | 'minTimeMs'>;
  /** Cases that will run (skipped ones take no time) and how many of them are done. */
  private readonly toRun: number;
  private done = 0;
  private ranMs = 0;
  private caseStart = 0;
  private phaseStart = 0;
  private phaseNow: LivePhase = 'starting';

  /** @param willRun how many planned cases are not skipped */
  constructor(willRun: number, now: number, measure?: MeasureOptions) {
    this.toRun = willRun;
    this.started = now;
    if (measure) this.budget = { warmupMs: measure.warmupMs, minTimeMs: measure.minTimeMs };
  }

  caseStarted(now: number): void {
    this.caseStart = now;
    this.phaseStart = now;
    this.phaseNow = 'starting';
  }

  phase(p: LivePhase, now: number): void {
    if (p === this.phaseNow) return;
    this.phaseNow = p;
    this.phaseStart = now;
  }

  /** A case that ran (not a skipped one) ended. */
  caseEnded(now: number): void {
    this.done++;
    this.ranMs += now - this.caseStart;
  }

  get currentPhase(): LivePhase {
    return this.phaseNow;
  }

  /** Time in the current phase. */
  phaseElapsed(now: number): number {
    return now - this.phaseStart;
  }

  /** Time since the run started. */
  elapsed(now: number): number {
    return now - this.started;
  }

  /** Expected time of one case: the mean of those done, else the plan's minimum budget. */
  perCase(): number | undefined {
    if (this.done > 0) return this.ranMs / this.done;
    if (this.budget) return this.budget.warmupMs + this.budget.minTimeMs;
    return undefined;
  }

  /** Estimated time left for the run, or undefined when nothing is known yet. */
  remaining(now: number, inCase: boolean): number | undefined {
    const per = this.perCase();
    if (per === undefined) return undefined;
    const after = Math.max(0, this.toRun - this.done - (inCase ? 1 : 0));
    let current = 0;
    if (inCase) {
      const minTime = this.budget?.minTimeMs ?? 0;
      current = this.phaseNow === 'samples'
        ? Math.max(0, minTime - this.phaseElapsed(now))
        : Math.max(per - (now - this.caseStart), minTime);
    }
    return after * per + current;
  }
}

/** 75 s → `1:15`, 3725 s → `1:02:05`. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
