/**
 * The inputs of `gpubench report`: results files, and folders of them (a history kept by
 * CI). In a folder, every `*.json` whose `schema` is `gpubench.results/v1` is read, in
 * name order; other JSON there (exports such as `.gab.json`, compare reports) is passed
 * over. A named file is always read, and must be a results file.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultsFile } from '../../harness/results/schema.js';
import { RESULTS_SCHEMA } from '../../harness/results/schema.js';
import { UsageError } from '../../harness/errors.js';
import { loadResults, parseResults } from '../load.js';

/** Reads every input; a folder gives all the results files in it. Throws UsageError naming the path at fault. */
export async function loadInputs(paths: string[]): Promise<{ files: ResultsFile[]; names: string[] }> {
  const files: ResultsFile[] = [];
  const names: string[] = [];
  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (!st?.isDirectory()) {
      files.push(await loadResults(p));
      names.push(p);
      continue;
    }
    const entries = (await readdir(p)).filter((n) => n.toLowerCase().endsWith('.json')).sort();
    let found = 0;
    for (const name of entries) {
      const path = join(p, name);
      let data: unknown;
      try {
        data = JSON.parse(await readFile(path, 'utf8'));
      } catch {
        continue; // not JSON: not ours
      }
      if (typeof data !== 'object' || data === null || (data as { schema?: unknown }).schema !== RESULTS_SCHEMA) continue;
      files.push(parseResults(data, path));
      names.push(path);
      found++;
    }
    if (found === 0) throw new UsageError(`${p} holds no ${RESULTS_SCHEMA} files (*.json)`);
  }
  return { files, names };
}
