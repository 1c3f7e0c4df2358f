/**
 * A history of results files for the history-report tests: each run is a copy of a real
 * results file (a run of the CLI: its environment, devices, cases and params) with a new
 * run id, start time and commit, and fresh samples drawn around each case's measured
 * median, scaled by `level(case, run)`. Statistics and metrics are recomputed from the
 * samples exactly as the harness defines them, so every file follows the contract.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultsFile } from '../../src/harness/results/schema.js';
import { summarize } from '../../src/reporters/cases.js';
import { mulberry32 } from '../../src/reporters/compare/stats.js';

/** Normal deviate (Box-Muller). */
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
}

/** Options of a synthetic history. */
export interface HistoryPlan {
  runs: number;
  /** Time factor of a case in a run (1 = as measured in the template). */
  level: (caseId: string, run: number) => number;
  /** Run-to-run noise of the level (relative stddev). @default 0.02 */
  runNoise?: number;
  /** Sample noise within a run. @default 0.03 */
  sampleNoise?: number;
  samples?: number;
  seed?: number;
}

/** Writes `plan.runs` results files `run-NN.json` into `dir`, one a day from 2026-10-01; returns their paths. */
export function writeHistory(dir: string, template: ResultsFile, plan: HistoryPlan): string[] {
  const rand = mulberry32(plan.seed ?? 42);
  const paths: string[] = [];
  for (let run = 0; run < plan.runs; run++) {
    const start = new Date(Date.UTC(2026, 9, 1 + run, 3, 0, 0));
    const runId = `hist-${String(run).padStart(2, '0')}`;
    const cases = template.cases.map((c) => {
      if (c.status !== 'ok' || !c.stats) return c;
      const level = plan.level(c.id, run) * (1 + (plan.runNoise ?? 0.02) * gauss(rand));
      const base = c.stats.medianMs * level;
      const samplesMs = Array.from({ length: plan.samples ?? 15 }, () => base * Math.max(0.2, 1 + (plan.sampleNoise ?? 0.03) * gauss(rand)));
      const stats = summarize(samplesMs);
      // Throughput is inversely proportional to the median time.
      const scale = c.stats.medianMs / stats.medianMs;
      const metrics = Object.fromEntries(Object.entries(c.metrics).map(([k, v]) =>
        [k, typeof v === 'number' && /tflops$|GBps$|pctOfPeak/.test(k) && k !== 'peakTflops' ? v * scale : v]));
      return { ...c, samplesMs, stats, metrics };
    });
    const file: ResultsFile = {
      ...template,
      run: {
        ...template.run, id: runId, startedAt: start.toISOString(), finishedAt: new Date(start.getTime() + 60_000).toISOString(),
        commit: `${(0x1000000 + run * 7919).toString(16)}${'0'.repeat(33)}`,
      },
      cases,
    };
    const path = join(dir, `run-${String(run).padStart(2, '0')}.json`);
    writeFileSync(path, JSON.stringify(file, null, 2));
    paths.push(path);
  }
  return paths;
}
