/**
 * Which cases a rule applies to, written the same way for `compare --threshold` and
 * `run --min`: a workload name (`allreduce`), or a glob on the case id where `*` is any
 * run of characters (also across `/`) and `?` one character
 * (`matmul/*\/bf16/*`, `allreduce/nccl/*`).
 */
import type { CaseResult } from './results/schema.js';

/** A parsed case pattern. */
export interface CasePattern {
  /** The text as written (empty: every case). */
  readonly text: string;
  /** True when the pattern applies to this case. */
  matches(c: Pick<CaseResult, 'id' | 'workload'>): boolean;
  /** How specific it is: an id glob beats a workload name, which beats every case. */
  readonly rank: 0 | 1 | 2;
}

const WORKLOAD_NAME = /^[a-z][a-z0-9-]*$/;
const GLOB_CHARS = /^[A-Za-z0-9_./*?+@-]+$/;

/**
 * Parses a pattern; undefined for text that is neither a workload-like name nor a glob of
 * case-id characters (the caller names the flag in its error).
 */
export function parseCasePattern(text: string): CasePattern | undefined {
  const t = text.trim();
  if (t === '' || t === '*') return { text: '', matches: () => true, rank: 0 };
  if (WORKLOAD_NAME.test(t)) return { text: t, matches: (c) => c.workload === t, rank: 1 };
  if (!GLOB_CHARS.test(t)) return undefined;
  const re = new RegExp(`^${t.replace(/[.+^${}()|[\]\\@]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return { text: t, matches: (c) => re.test(c.id), rank: 2 };
}
