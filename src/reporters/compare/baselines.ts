/**
 * A folder of past results as the gate's baselines: every `*.json` in it whose `schema`
 * is `gpubench.results/v1` (other JSON, such as exports written beside the results, is
 * passed over), oldest first by `run.startedAt`, the newest `last` of those that ran
 * on HEAD's machine and stack. Baselines from another GPU, driver or stack version are
 * left out with a note, so a runner's driver upgrade ages the old ones out; when none
 * is left the comparison is refused.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../../harness/errors.js';
import { RESULTS_SCHEMA, type ResultsFile } from '../../harness/results/schema.js';
import { parseResults } from '../load.js';
import { mismatchOf } from './compare.js';

/** Baselines read from a folder, and what was left out. */
export interface BaselineSet {
  files: ResultsFile[];
  labels: string[];
  /** Why files were left out, one line each. */
  notes: string[];
}

/**
 * Reads the baselines in `dir` for `head`.
 * @param exclude paths not to use (HEAD itself when it lives in the folder)
 * @throws UsageError when the folder cannot be read, a results file in it is malformed,
 *   or no baseline is left (naming why the candidates were left out)
 */
export async function loadBaselineDir(dir: string, head: ResultsFile, { last = 10, exclude = [] as string[], allowMismatch = false } = {}): Promise<BaselineSet> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.json')).sort();
  } catch (err) {
    throw new UsageError(`cannot read ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, '--baseline-dir');
  }
  const skip = new Set(exclude.map((p) => resolve(p)));
  const found: { file: ResultsFile; label: string }[] = [];
  const notes: string[] = [];
  for (const n of names) {
    const path = join(dir, n);
    if (skip.has(resolve(path))) continue;
    let data: unknown;
    try {
      data = JSON.parse(await readFile(path, 'utf8'));
    } catch {
      continue; // not JSON (half written, or not ours): not a baseline
    }
    if (typeof data !== 'object' || data === null || (data as { schema?: unknown }).schema !== RESULTS_SCHEMA) continue;
    const file = parseResults(data, path);
    if (file.run.id === head.run.id) continue;
    found.push({ file, label: path });
  }
  found.sort((a, b) => a.file.run.startedAt.localeCompare(b.file.run.startedAt));
  const usable: typeof found = [];
  const mismatches: string[] = [];
  for (const f of found) {
    const why = allowMismatch ? undefined : mismatchOf(f.file, head);
    if (why) mismatches.push(`${f.label}: ${why}`);
    else usable.push(f);
  }
  if (mismatches.length) notes.push(`${mismatches.length} results file${mismatches.length === 1 ? '' : 's'} in ${dir} left out: another machine or stack than HEAD (${mismatches[0]}${mismatches.length > 1 ? '; …' : ''})`);
  if (usable.length === 0) {
    throw new UsageError(
      found.length === 0
        ? `no ${RESULTS_SCHEMA} results file in ${dir}`
        : `none of the ${found.length} results files in ${dir} ran on HEAD's machine and stack: ${mismatches.slice(0, 2).join('; ')}${mismatches.length > 2 ? '; …' : ''}. Compare like with like, or pass --allow-mismatch`,
      '--baseline-dir',
    );
  }
  const chosen = usable.slice(-last);
  if (usable.length > chosen.length) notes.push(`the newest ${chosen.length} of ${usable.length} matching baselines in ${dir} used (--last ${last})`);
  return { files: chosen.map((f) => f.file), labels: chosen.map((f) => f.label), notes };
}
