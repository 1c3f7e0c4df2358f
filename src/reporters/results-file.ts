/**
 * Writes the results file of a run so that an interruption loses nothing: one JSONL
 * line per event as it happens (`<name>.jsonl`: the run, each round of a repeated case,
 * each case, the end), and the whole JSON rewritten atomically
 * (write a temporary file, then rename) after every case and at the end, with
 * `run.status` saying whether it is complete.
 */
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter } from '../harness/reporter.js';
import type { CaseResult, ResultsFile } from '../harness/results/schema.js';

/** Writes `data` to `path` atomically: readers see the old file or the new one, never half. */
export function writeJsonAtomic(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`);
  renameSync(tmp, path);
}

/** The JSONL companion of a results file: `r.json` → `r.jsonl`. */
export function jsonlPathFor(jsonPath: string): string {
  return jsonPath.replace(/\.json$/i, '') + '.jsonl';
}

/** The reporter that owns the results file. */
export class ResultsFileReporter implements Reporter {
  readonly jsonlPath: string;

  constructor(readonly jsonPath: string) {
    this.jsonlPath = jsonlPathFor(jsonPath);
  }

  onRunStart(_plan: unknown, results: ResultsFile): void {
    mkdirSync(dirname(this.jsonPath), { recursive: true });
    const { cases: _cases, ...head } = results;
    writeFileSync(this.jsonlPath, `${JSON.stringify({ type: 'run', ...head })}\n`);
    writeJsonAtomic(this.jsonPath, results);
  }

  /** Each round of a repeated case is kept as it ends: a run killed between rounds loses none. */
  onRepetitionEnd(result: CaseResult, round: number, rounds: number): void {
    appendFileSync(this.jsonlPath, `${JSON.stringify({ type: 'repetition', round, rounds, ...result })}\n`);
  }

  onCaseEnd(result: CaseResult, results: ResultsFile): void {
    appendFileSync(this.jsonlPath, `${JSON.stringify({ type: 'case', ...result })}\n`);
    writeJsonAtomic(this.jsonPath, results);
  }

  onRunEnd(results: ResultsFile): void {
    appendFileSync(this.jsonlPath, `${JSON.stringify({ type: 'end', run: results.run })}\n`);
    writeJsonAtomic(this.jsonPath, results);
  }
}
