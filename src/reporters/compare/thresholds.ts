/**
 * Thresholds per workload or per case: `--threshold 5%` sets the default,
 * `--threshold allreduce=15%` or `--threshold 'matmul/webgpu/*=8%'` overrides it for the
 * cases a pattern names (see harness/case-pattern.ts), and `--thresholds FILE` reads the
 * same from YAML:
 *
 *     default: 5%
 *     thresholds:
 *       allreduce: 15%
 *       "matmul/webgpu/f32/*": 8%
 *
 * The most specific rule wins (a case-id glob over a workload over the default); among
 * equally specific rules the one given last (the command line after the file).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseCasePattern, type CasePattern } from '../../harness/case-pattern.js';
import { UsageError } from '../../harness/errors.js';
import type { CaseResult } from '../../harness/results/schema.js';

/**
 * Parses a threshold: `5%`, `0.05`, or a bare `5` meaning 5%.
 * @throws UsageError for anything else or a value outside (0, 1000%)
 */
export function parseThreshold(text: string, field = '--threshold'): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(%?)\s*$/.exec(text);
  if (!m) throw new UsageError(`'${text}' is not a threshold; write it as 5% or 0.05`, field);
  const v = Number(m[1]);
  const t = m[2] === '%' || v >= 1 ? v / 100 : v;
  if (!(t > 0 && t < 10)) throw new UsageError(`'${text}' is out of range; use a value between 0% and 1000%`, field);
  return t;
}

/** One threshold rule. */
export interface ThresholdRule {
  pattern: CasePattern;
  value: number;
}

/**
 * Parses one `--threshold` value: `5%` (every case) or `PATTERN=5%`.
 * @throws UsageError naming `field`
 */
export function parseThresholdRule(text: string, field = '--threshold'): ThresholdRule {
  const eq = text.lastIndexOf('=');
  const patternText = eq < 0 ? '' : text.slice(0, eq);
  const pattern = parseCasePattern(patternText);
  if (!pattern || (eq >= 0 && patternText.trim() === '')) {
    throw new UsageError(`'${text}': '${patternText}' is not a workload name or a case-id glob (e.g. allreduce=15% or 'matmul/webgpu/*=8%')`, field);
  }
  return { pattern, value: parseThreshold(eq < 0 ? text : text.slice(eq + 1), field) };
}

const ThresholdValue = z.union([z.number(), z.string()]);
const ThresholdFile = z.strictObject({
  default: ThresholdValue.optional(),
  thresholds: z.record(z.string(), ThresholdValue).optional(),
});

/**
 * Reads a thresholds YAML file into rules (the default first).
 * @throws UsageError naming the file and the field
 */
export function loadThresholdFile(path: string): ThresholdRule[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`, '--thresholds');
  }
  const parsed = ThresholdFile.safeParse(doc ?? {});
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new UsageError(`${path}: ${i.path.join('.') || '(root)'}: ${i.message} (allowed keys: default, thresholds)`, '--thresholds');
  }
  const rules: ThresholdRule[] = [];
  const { default: dflt, thresholds = {} } = parsed.data;
  if (dflt !== undefined) rules.push(parseThresholdRule(String(dflt), `--thresholds ${path}: default`));
  for (const [pattern, v] of Object.entries(thresholds)) rules.push(parseThresholdRule(`${pattern}=${String(v)}`, `--thresholds ${path}: thresholds.${pattern}`));
  return rules;
}

/** The threshold of a case: the most specific matching rule, the last of equals; `fallback` when none matches. */
export function thresholdFor(c: Pick<CaseResult, 'id' | 'workload'>, rules: readonly ThresholdRule[], fallback: number): number {
  let best: ThresholdRule | undefined;
  for (const r of rules) if (r.pattern.matches(c) && (!best || r.pattern.rank >= best.pattern.rank)) best = r;
  return best?.value ?? fallback;
}
