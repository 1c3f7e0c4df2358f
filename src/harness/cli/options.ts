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

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** A byte size: `8`, `1K`, `64MiB`, `1G` (K/M/G are powers of 1024, as nccl-tests reads them). */
export function byteSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 40) throw new InvalidArgumentError(`"${value}" is not a byte size from 1 to 1TiB, e.g. 8, 1K, 64MiB`);
  return n;
}

/** A positive integer within [min, max]. */
export function intIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`"${value}" is not an integer from ${min} to ${max}`);
    return n;
  };
}

/** A number greater than 1 (a sweep's step factor). */
export function factor(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 1 || n > 2 ** 40) throw new InvalidArgumentError(`"${value}" is not a factor greater than 1`);
  return n;
}

/** A port range `A-B` (inclusive) or a single port `A`, within 1..65535. */
export function portRange(value: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(value);
  const a = m ? Number(m[1]) : NaN;
  const b = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(a >= 1 && b <= 65535 && a <= b)) throw new InvalidArgumentError(`"${value}" is not a port range like 30000-30099 (1 to 65535, low to high)`);
  return [a, b];
}

/** A positive, finite number (a bandwidth in GB/s). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a positive number`);
  return n;
}

/** A positive number of seconds (nccl-tests' -T). */
export function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) throw new InvalidArgumentError(`"${value}" is not a number of seconds from 0 to 86400`);
  return n;
}
