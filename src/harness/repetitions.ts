/**
 * Interleaved repetitions of a run (Google Benchmark's `--benchmark_repetitions` with
 * `--benchmark_enable_random_interleaving`): every case is measured once per round, the
 * rounds after the first in a shuffled order, so that each case's measurements are spread
 * over the whole run instead of one short window of it. On a shared host the speed of the
 * machine wanders by tens of percent for a second or so at a time (lavapipe on a 2-core VM:
 * 320³ matmul windows of 0.3 s range 11.9–16.3 ms within 8 s); a case measured in one
 * window takes whatever state that window had, and the run's median with it. The case's
 * result is the round whose median is the median of the rounds' medians: robust to one
 * disturbed round in three, and self-consistent (its metrics, check and samples are one
 * round's).
 */
import { mulberry32 } from './random.js';
import type { CaseResult } from './results/schema.js';

/** The round order of round `round` (0-based) over `n` cases: in plan order first, then shuffled (seeded). */
export function roundOrder(n: number, round: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (round === 0) return order;
  // Seeded per round: a reproducible shuffle (Fisher-Yates).
  const next = mulberry32(seed ^ Math.imul(round, 0x9e3779b1));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Whether a round's result ends the case's repetitions: a failed or skipped round is the case's result. */
export function endsRepetitions(r: CaseResult): boolean {
  return r.status !== 'ok';
}

/**
 * One case's result from its rounds (in the order they ran): the first that is not ok, as
 * it is; else the round with the median of the rounds' medians (the lower middle one of
 * an even count), with `repetitions` recording every round's median. `planned` is the
 * number of rounds the run asked for; fewer rounds (a stopped run) are said in the record.
 */
export function mergeRepetitions(rounds: readonly CaseResult[], planned: number): CaseResult {
  if (rounds.length === 0) throw new Error('mergeRepetitions: no rounds');
  const bad = rounds.find(endsRepetitions);
  if (bad) return rounds.length > 1 ? { ...bad, reason: `repetition ${rounds.indexOf(bad) + 1} of ${planned}: ${bad.reason ?? bad.status}` } : bad;
  if (planned <= 1) return rounds[0]!;
  const medians = rounds.map((r) => r.stats?.medianMs ?? Number.NaN);
  const byMedian = medians.map((m, i) => ({ m, i })).sort((a, b) => a.m - b.m);
  const chosen = byMedian[Math.floor((byMedian.length - 1) / 2)]!.i;
  return {
    ...rounds[chosen]!,
    repetitions: { planned, medianMs: medians, chosen },
  };
}
