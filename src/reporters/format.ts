/** Number formatting in the field's units, shared by the console reporters. */

/** TFLOP/s with three significant digits (software adapters measure in the thousandths). */
export function fmtTflops(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (x >= 100) return x.toFixed(0);
  return x.toPrecision(3);
}

/** Milliseconds with three significant digits. */
export function fmtMs(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x >= 1000 ? x.toFixed(0) : x.toPrecision(3);
}

/** A percentage with one decimal. */
export function fmtPct(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(1)}%`;
}
