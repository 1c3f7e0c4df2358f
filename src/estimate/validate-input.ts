/**
 * Turning zod failures into `UsageError`s that name the field path and what is allowed,
 * so a bad config exits 2 with one line instead of a stack trace.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { UsageError } from '../harness/errors.js';

/** `a.b[2].c` from a zod issue path. */
export function fieldPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

/** Parses `data` with `schema`, or throws a UsageError naming the first bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, data: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = fieldPath('', issue.path);
  let allowed = '';
  const iss = issue as unknown as { values?: unknown[]; keys?: string[]; code: string };
  if (Array.isArray(iss.values) && iss.values.length) allowed = ` (allowed: ${iss.values.map(String).join(', ')})`;
  if (iss.code === 'unrecognized_keys' && iss.keys) {
    return throwUsage(`${where}: ${field}: unknown field(s) ${iss.keys.join(', ')}`, field);
  }
  return throwUsage(`${where}: ${field}: ${issue.message}${allowed}`, field);
}

function throwUsage(msg: string, field: string): never {
  const e = new UsageError(msg);
  (e as { field?: string }).field = field;
  throw e;
}

/** Reads and parses a YAML or JSON file; a missing or unparsable file is a UsageError. */
export function readYamlFile(path: string, option: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, option);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new UsageError(`${path} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`, option);
  }
}
