/**
 * Fresh random inputs for every rank from one seed (so every rank can rebuild every
 * other rank's input and check its own output without moving data), and the check of
 * a rank's output against a float64 reference (exact for i32, min/max and data moves).
 * What each rank must hold comes from its collective's module (`checked`, `reference`):
 * where NCCL defines no output on a rank (a reduce's or gather's non-roots) the module
 * says what is checked there instead.
 */
import type { Check } from '../harness/results/schema.js';
import { uniform } from '../harness/random.js';
import { allocate, bytesOf, readElement, toBf16, toF16, view, type ElementArray } from './dtypes.js';
import { collectiveModule, inputCount, type CollectiveCall, type RankBuffers } from './collective.js';
import type { Expected } from './module.js';
import { poison } from './poison.js';

/** Rank r's input values: never zeros, in a range where the op neither overflows nor underflows. */
export function rankInput(c: CollectiveCall, ranks: number, rank: number, seed: number): ElementArray {
  const u = uniform(inputCount(c, ranks), (seed + Math.imul(rank + 1, 0x9e3779b9)) | 0);
  const prod = c.op === 'prod';
  const out = allocate(c.dtype, u.length);
  // Written straight into the dtype's storage: a 64 MiB case must not need float64 copies.
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    if (c.dtype === 'i32') out[i] = prod ? (x < 0 ? -1 : 1) * (Math.abs(x) < 0.5 ? 1 : 2) : Math.round(x * 1000);
    else {
      const v = prod ? 1 + 0.25 * x : x;
      out[i] = c.dtype === 'f32' ? v : c.dtype === 'f16' ? toF16(v) : toBf16(v);
    }
  }
  return out;
}

/** Unit roundoff of a dtype: half the gap between 1 and the next value. */
function unitRoundoff(c: CollectiveCall): number {
  return c.dtype === 'f32' ? 2 ** -24 : c.dtype === 'f16' ? 2 ** -11 : c.dtype === 'bf16' ? 2 ** -8 : 0;
}

/**
 * Per-element tolerance factor: an element is wrong when |out − ref| exceeds this times
 * its scale (Σ|xᵢ| for sum/avg, |ref| for prod): the rounding-error bound of n−1 steps
 * (plus avg's division) with a margin of 2. 0 where the answer is exact (i32 wraps
 * exactly, min/max pick an input, gathers, scatters and broadcasts move bits; data
 * moves also have scale 0, so a reduce's unchanged non-root input must match exactly).
 */
export function toleranceOf(c: CollectiveCall, ranks: number): number {
  if (c.dtype === 'i32' || !collectiveModule(c.kind).reduces || c.op === 'min' || c.op === 'max') return 0;
  return 2 * (ranks + 1) * unitRoundoff(c);
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
  if (got.length !== ref.length) return { passed: false, maxRelError: null, tolerance: tol, wrong: ref.length, checked: ref.length, seed };
  let num = 0;
  let den = 0;
  let wrong = 0;
  let nonFinite = false;
  for (let i = 0; i < ref.length; i++) {
    const g = readElement(c.dtype, got, i);
    const d = g - ref[i]!;
    den += ref[i]! * ref[i]!;
    if (!Number.isFinite(g) || !(Math.abs(d) <= tol * scale[i]!)) wrong++;
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
