/**
 * Fresh random inputs for every rank from one seed (so every rank can rebuild every
 * other rank's input and check its own output without moving data), and the check of
 * a rank's output against a float64 reference (exact for the integers, i64/u64 through a
 * BigInt reference, and for min/max and data moves).
 * What each rank must hold comes from its collective's module (`checked`, `reference`):
 * where NCCL defines no output on a rank (a reduce's or gather's non-roots) the module
 * says what is checked there instead.
 */
import type { Check } from '../harness/results/schema.js';
import { uniform } from '../harness/random.js';
import { allocate, bytesOf, fp8OfF16, isIntDtype, readElement, toBf16, toF16, view, type CollectiveDtype, type ElementArray } from './dtypes.js';
import { collectiveModule, inputCount, type CollectiveCall, type RankBuffers } from './collective.js';
import { exactOf, type Expected } from './module.js';
import { poison } from './poison.js';

/**
 * Rank r's input values: never zeros (the floats), in a range where the op neither
 * overflows nor underflows. Integers: sums stay inside the type for `ranks` ranks (8-bit
 * ones scale their range down with the rank count), prod takes ±1 and ±2 (±{1,2} wrap
 * only where 2^ranks leaves the type, as intended); i64 and u64 sit beyond 2^53, where a
 * double would round, so the exact check means something. f64 inputs are float32 values
 * (the one-process nccl path uploads float32 values) that sum and multiply in float64; fp8 ones are
 * fp8 values well inside the range (rounded through f16).
 */
export function rankInput(c: CollectiveCall, ranks: number, rank: number, seed: number): ElementArray {
  const u = uniform(inputCount(c, ranks), (seed + Math.imul(rank + 1, 0x9e3779b9)) | 0);
  const prod = c.op === 'prod';
  const out = allocate(c.dtype, u.length);
  const sign2 = (x: number) => (x < 0 ? -1 : 1) * (Math.abs(x) < 0.5 ? 1 : 2);
  const dtype = c.dtype;
  // Written straight into the dtype's storage: a 64 MiB case must not need float64 copies.
  if (dtype === 'i64' || dtype === 'u64') {
    const o = out as BigInt64Array;
    const signed = dtype === 'i64';
    for (let i = 0; i < u.length; i++) {
      const x = signed ? u[i]! : Math.abs(u[i]!);
      if (prod) o[i] = BigInt(sign2(x));
      // k·2^50 + j: up to 2^57 per rank, a sum of 64 ranks still inside 2^63.
      else o[i] = (BigInt(Math.round(x * 100)) << 50n) + BigInt(Math.round(x * 1e6));
    }
    return out;
  }
  const o = out as Float32Array;
  const intRange = dtype === 'i8' ? Math.max(1, Math.floor(100 / ranks)) : dtype === 'u8' ? Math.max(1, Math.floor(200 / ranks)) : 1000;
  const unsigned = dtype === 'u8' || dtype === 'u32';
  // fp8 inputs through f16 and a table: toFp8 per element would be most of a large case's time.
  const fp8 = dtype === 'fp8e4m3' || dtype === 'fp8e5m2' ? fp8OfF16(dtype) : undefined;
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    if (dtype === 'i32' || dtype === 'i8' || dtype === 'u8' || dtype === 'u32') {
      const v = prod ? sign2(x) : Math.round(x * intRange);
      o[i] = unsigned ? Math.abs(v) : v;
    } else {
      const v = prod ? 1 + 0.25 * x : x;
      if (dtype === 'f32') o[i] = v;
      else if (dtype === 'f64') o[i] = Math.fround(v);
      else if (dtype === 'f16') o[i] = toF16(v);
      else if (dtype === 'bf16') o[i] = toBf16(v);
      else o[i] = fp8![toF16(v)]!;
    }
  }
  return out;
}

/** Unit roundoff of a dtype: half the gap between 1 and the next value (0 for the integers). */
function unitRoundoff(c: CollectiveCall): number {
  const u: Partial<Record<CollectiveDtype, number>> = { f64: 2 ** -53, f32: 2 ** -24, f16: 2 ** -11, bf16: 2 ** -8, fp8e4m3: 2 ** -4, fp8e5m2: 2 ** -3 };
  return u[c.dtype] ?? 0;
}

/**
 * Per-element tolerance factor: an element is wrong when |out − ref| exceeds this times
 * its scale (Σ|xᵢ| for sum/avg, |ref| for prod): the rounding-error bound of n−1 steps
 * (plus avg's division) with a margin of 2. 0 where the answer is exact (integers wrap
 * exactly, min/max pick an input, gathers, scatters and broadcasts move bits; data
 * moves also have scale 0, so a reduce's unchanged non-root input must match exactly).
 * fp8 steps round twice (to f16, then to fp8); f16's roundoff is 2^-7 of fp8's at most,
 * inside the margin.
 */
export function toleranceOf(c: CollectiveCall, ranks: number): number {
  if (isIntDtype(c.dtype) || !collectiveModule(c.kind).reduces || c.op === 'min' || c.op === 'max') return 0;
  return 2 * (ranks + 1) * unitRoundoff(c);
}

/** The smallest subnormal of each float dtype: the spacing of values next to zero. */
const MIN_SUBNORMAL: Partial<Record<CollectiveDtype, number>> = { f64: 2 ** -1074, f32: 2 ** -149, f16: 2 ** -24, bf16: 2 ** -133, fp8e4m3: 2 ** -9, fp8e5m2: 2 ** -16 };

/**
 * Absolute part of the bound: a step whose result falls among the subnormals rounds to their
 * spacing, an error no relative bound covers (e4m3 avg of 2^-9 and 0 is 2^-10, which rounds to
 * 0 or 2^-9, while the scale Σ|xᵢ| is 2^-9). Half the smallest subnormal per step, n steps
 * (avg's division and prod's products among them), margin 2. 0 where `toleranceOf` is.
 */
export function absoluteToleranceOf(c: CollectiveCall, ranks: number): number {
  if (toleranceOf(c, ranks) === 0) return 0;
  return ranks * (MIN_SUBNORMAL[c.dtype] ?? 0);
}

/**
 * The expected values of `rank`'s checked bytes (`checkedBytes`), as float64 values.
 * @param scale filled with each element's rounding scale where given (as long as the result)
 * @param input rank r's input (default: made afresh from the seed; a ReferenceCache passes its own)
 */
export function expectedOutput(
  c: CollectiveCall,
  ranks: number,
  rank: number,
  seed: number,
  scale?: Float64Array,
  input: (r: number) => ElementArray = (r) => rankInput(c, ranks, r, seed),
): Float64Array {
  const e = collectiveModule(c.kind).reference(c, ranks, rank, input);
  scale?.set(e.scale);
  return e.ref;
}

/** The bytes of `rank`'s buffers the check reads: what NCCL defines after the call (most: the output). */
export function checkedBytes(c: CollectiveCall, ranks: number, rank: number, b: RankBuffers): Uint8Array {
  return collectiveModule(c.kind).checked(c, ranks, rank, b);
}

/**
 * What the checks of every rank of one call share, built once where one process checks
 * all of them (`webgpu-local`, `nccl`): each rank's input, made once instead of once per
 * checked rank, and the reference where it is the same for every rank (all-reduce,
 * all-gather, broadcast). Without it n ranks × n inputs are rebuilt, which at 8 GPUs ×
 * 256 MiB is minutes of host time.
 */
export class ReferenceCache {
  private readonly inputs: ElementArray[] = [];
  private shared?: Expected;

  constructor(
    readonly c: CollectiveCall,
    readonly ranks: number,
    readonly seed: number,
  ) {}

  /** Rank r's input, made on first use. */
  input(r: number): ElementArray {
    return (this.inputs[r] ??= rankInput(this.c, this.ranks, r, this.seed));
  }

  /** The reference of `rank`'s checked bytes and each element's error scale. */
  expected(rank: number): Expected {
    if (this.shared) return this.shared;
    const m = collectiveModule(this.c.kind);
    const e = m.reference(this.c, this.ranks, rank, (r) => this.input(r));
    if (m.sameOnEveryRank) this.shared = e;
    return e;
  }
}

/**
 * Compares one rank's checked bytes (`checkedBytes`; the output for most collectives) with
 * the reference: relative L2 error and elements beyond the rounding bound. Pass `cache`
 * when checking several ranks of one call in one process.
 */
export function checkOutput(c: CollectiveCall, ranks: number, rank: number, seed: number, output: Uint8Array, cache?: ReferenceCache): Check {
  const { ref, scale } = cache ? cache.expected(rank) : collectiveModule(c.kind).reference(c, ranks, rank, (r) => rankInput(c, ranks, r, seed));
  const got = view(c.dtype, output);
  const tol = toleranceOf(c, ranks);
  const abs = absoluteToleranceOf(c, ranks);
  if (got.length !== ref.length) return { passed: false, maxRelError: null, tolerance: tol, wrong: ref.length, checked: ref.length, seed };
  // 64-bit integers: bit for bit against the exact (BigInt) reference, beyond 2^53 too.
  const exact = exactOf(ref);
  let num = 0;
  let den = 0;
  let wrong = 0;
  let nonFinite = false;
  for (let i = 0; i < ref.length; i++) {
    const g = readElement(c.dtype, got, i);
    const d = g - ref[i]!;
    den += ref[i]! * ref[i]!;
    if (exact ? got[i] !== exact[i] : !Number.isFinite(g) || !(Math.abs(d) <= tol * scale[i]! + abs)) wrong++;
    if (Number.isFinite(d)) num += d * d;
    else nonFinite = true;
  }
  const rel = den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
  return { passed: wrong === 0, maxRelError: nonFinite ? null : rel, tolerance: tol, wrong, checked: ref.length, seed };
}

/**
 * Fills this rank's input from the seed (or poisons it where the rank's input carries no
 * data: a broadcast's or scatter's non-roots) and poisons every output byte that is not
 * input: the whole output out of place, and in place the output around an input that
 * lies inside it (all-gather's and gather's block r).
 * @param input the rank's input if already made (a ReferenceCache's), else made here
 */
export function prepareRank(c: CollectiveCall, ranks: number, rank: number, seed: number, b: RankBuffers, input?: ElementArray): void {
  if (b.output.buffer !== b.input.buffer) poison(c.dtype, b.output);
  else if (b.output.byteLength > b.input.byteLength) {
    const at = b.input.byteOffset - b.output.byteOffset;
    poison(c.dtype, b.output.subarray(0, at));
    poison(c.dtype, b.output.subarray(at + b.input.byteLength));
  }
  if (collectiveModule(c.kind).hasInput(c, rank)) b.input.set(bytesOf(input ?? rankInput(c, ranks, rank, seed)));
  else poison(c.dtype, b.input);
}

export { bytesOf, poison };
