/**
 * Reading results files for reporters and compare: every input goes through the
 * `gpubench.results/v1` zod schema, so a wrong or unreadable file is a usage error
 * (exit 2) naming the file and the first fields at fault, never a crash further down.
 */
import { readFile } from 'node:fs/promises';
import { ResultsFile, RESULTS_SCHEMA } from '../harness/results/schema.js';
import { UsageError } from '../harness/errors.js';

/** Reads, parses and validates one results file. Throws UsageError on any problem. */
export async function loadResults(path: string): Promise<ResultsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read results file ${path} (${code ?? String(err)})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path} is not JSON: ${(err as Error).message}`);
  }
  return parseResults(data, path);
}

/** Validates already-parsed JSON as a results file; `label` names it in messages. */
export function parseResults(data: unknown, label = 'results'): ResultsFile {
  // Name a foreign schema plainly: that is the most common wrong input (another
  // tool's JSON, or a future v2 file fed to an older gpubench).
  if (typeof data === 'object' && data !== null && 'schema' in data) {
    const schema = (data as { schema: unknown }).schema;
    if (schema !== RESULTS_SCHEMA) {
      throw new UsageError(`${label}: schema is ${JSON.stringify(schema)}, this gpubench reads ${RESULTS_SCHEMA}`);
    }
  }
  const parsed = ResultsFile.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    const more = parsed.error.issues.length > 5 ? ` (+${parsed.error.issues.length - 5} more)` : '';
    throw new UsageError(`${label} is not a valid ${RESULTS_SCHEMA} file: ${issues.join('; ')}${more}`);
  }
  return parsed.data;
}

/**
 * Combines several results files into one for a single report. The first file gives
 * run and environment; the others' environments go to `environment.nodes`. A case id
 * seen twice gets `@<run id>` appended so no measurement is silently dropped.
 */
export function mergeResults(files: ResultsFile[]): ResultsFile {
  const [first, ...rest] = files;
  if (!first) throw new UsageError('no results files given');
  if (rest.length === 0) return first;
  const seen = new Set<string>();
  const cases: ResultsFile['cases'] = [];
  for (const f of files) {
    for (const c of f.cases) {
      const id = seen.has(c.id) ? `${c.id}@${f.run.id}` : c.id;
      seen.add(id);
      cases.push(id === c.id ? c : { ...c, id });
    }
  }
  const statuses = files.map((f) => f.run.status);
  const status = statuses.includes('failed') ? 'failed' : statuses.includes('partial') ? 'partial' : 'complete';
  return {
    ...first,
    run: { ...first.run, status },
    environment: {
      ...first.environment,
      nodes: [...first.environment.nodes, ...rest.map((f) => ({ runId: f.run.id, ...f.environment }))],
    },
    devices: dedupeDevices(files.flatMap((f) => f.devices)),
    cases,
  };
}

function dedupeDevices(devices: ResultsFile['devices']): ResultsFile['devices'] {
  const byKey = new Map<string, ResultsFile['devices'][number]>();
  for (const d of devices) byKey.set(`${d.backend}|${d.id}|${d.name}`, d);
  return [...byKey.values()];
}
