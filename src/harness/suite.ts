/**
 * Suite files: YAML in `configs/`, validated against a schema composed from the
 * registered workloads' entry schemas (and shipped as JSON Schema so editors complete
 * them). A bad field is a UsageError naming the field path and the allowed values.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { DEFAULT_MEASURE } from './measure.js';
import { listWorkloads, getWorkload } from './registry.js';
import { UsageError } from './errors.js';
import { PACKAGE_ROOT } from './version.js';

/** Version tag of suite files. */
export const SUITE_SCHEMA = 'gpubench.suite/v1';

const d = DEFAULT_MEASURE;
/** The measurement knobs of a suite (see MeasureOptions for each one's meaning). */
export const MeasureBlock = z.strictObject({
  warmupMs: z.number().min(0).default(d.warmupMs),
  warmupIterations: z.number().int().min(0).default(d.warmupIterations),
  /** Absent: 10 × warmupMs. */
  maxWarmupMs: z.number().min(0).optional(),
  minTimeMs: z.number().min(0).default(d.minTimeMs),
  minSamples: z.number().int().min(1).default(d.minSamples),
  maxSamples: z.number().int().min(1).default(d.maxSamples),
  minSampleMs: z.number().min(0).default(d.minSampleMs),
  maxTimeMs: z.number().min(1).default(d.maxTimeMs),
  /** Interleaved rounds of the plan (absent: 1). */
  repetitions: z.number().int().min(1).max(100).optional(),
});

/** The suite schema over every registered workload's entry schema. */
export function suiteSchema() {
  const entries = listWorkloads().map((id) => getWorkload(id)!.entrySchema);
  if (entries.length === 0) throw new Error('no workloads registered');
  const entry = entries.length === 1 ? entries[0]! : z.discriminatedUnion('workload', entries as [z.ZodObject, z.ZodObject, ...z.ZodObject[]]);
  return z.strictObject({
    $schema: z.string().optional(),
    schema: z.literal(SUITE_SCHEMA).default(SUITE_SCHEMA),
    name: z.string().min(1),
    description: z.string().optional(),
    measure: MeasureBlock.default(MeasureBlock.parse({})),
    workloads: z.array(entry).min(1),
  });
}

/** A validated suite. */
export interface Suite {
  name: string;
  description?: string;
  measure: z.infer<typeof MeasureBlock>;
  workloads: Array<Record<string, unknown> & { workload: string; backends?: string[] }>;
  /** Where it was read from. */
  source: string;
}

/** `workloads[0].dtypes[1]` from a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

/** Turns zod issues into one message naming each field and what it allows. */
export function describeIssues(source: string, error: z.ZodError): string {
  const lines = error.issues.slice(0, 8).map((i) => {
    let msg = i.message;
    if (i.code === 'invalid_union' && 'note' in i && i.note === 'No matching discriminator') {
      msg = `unknown workload; allowed: ${listWorkloads().join(', ')}`;
    }
    return `  ${formatPath(i.path)}: ${msg}`;
  });
  const more = error.issues.length > 8 ? `\n  … and ${error.issues.length - 8} more` : '';
  return `invalid suite ${source}:\n${lines.join('\n')}${more}`;
}

/** Validates a parsed suite document. */
export function validateSuite(doc: unknown, source: string): Suite {
  const r = suiteSchema().safeParse(doc);
  if (!r.success) throw new UsageError(describeIssues(source, r.error));
  return { ...(r.data as unknown as Omit<Suite, "source">), source };
}

/** Built-in suite names (files in configs/suites/). */
export function suiteDir(): string {
  return join(PACKAGE_ROOT, 'configs', 'suites');
}

/** Resolves `--suite`: a path to a YAML file, or the name of a built-in suite. */
export function resolveSuitePath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  const builtin = join(suiteDir(), `${nameOrPath}.yaml`);
  if (existsSync(builtin)) return builtin;
  throw new UsageError(`no suite file or built-in suite named "${nameOrPath}" (built-in suites are in ${suiteDir()})`, '--suite');
}

/** Reads, parses and validates a suite by name or path. */
export function loadSuite(nameOrPath: string): Suite {
  const path = resolveSuitePath(nameOrPath);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof YAMLParseError) throw new UsageError(`invalid YAML in ${path}: ${err.message}`);
    throw new UsageError(`cannot read suite ${path}: ${(err as Error).message}`);
  }
  return validateSuite(doc, path);
}
