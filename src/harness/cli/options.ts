/** Parsers for command-line option values; each names the option in its error. */
import { InvalidArgumentError } from 'commander';

/** A comma-separated list (repeatable: later occurrences add to earlier ones). */
export function list(value: string, previous: string[] | undefined): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
  return [...(previous ?? []), ...items];
}

/** A comma-separated list of positive integers (sizes). */
export function intList(value: string, previous: number[] | undefined): number[] {
  const out = value.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 65536) throw new InvalidArgumentError(`"${s}" is not an integer from 1 to 65536`);
    return n;
  });
  if (out.length === 0) throw new InvalidArgumentError('expected a comma-separated list of integers');
  return [...(previous ?? []), ...out];
}

/** A non-negative number of milliseconds. */
export function ms(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a non-negative number of milliseconds`);
  return n;
}
