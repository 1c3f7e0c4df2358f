/**
 * Fresh random inputs for every rank from one seed (so every rank can rebuild every
 * other rank's input and check its own output without moving data), and the check of
 * a rank's output against a float64 reference (exact for i32, min/max and data moves).
 */
import type { Check } from '../harness/results/schema.js';
import { uniform } from '../harness/random.js';
import { allocate, bytesOf, readElement, toBf16, toF16, view, type CollectiveDtype, type ElementArray } from './dtypes.js';
import { referenceReduce, type ReduceOp } from './ops.js';
import { inputCount, type CollectiveCall, type RankBuffers } from './collective.js';
import { segmentOf } from './algorithms/ring-steps.js';

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
 * exactly, min/max pick an input, gathers and broadcasts move bits).
 */
export function toleranceOf(c: CollectiveCall, ranks: number): number {
  if (c.dtype === 'i32' || c.kind === 'allgather' || c.kind === 'broadcast' || c.op === 'min' || c.op === 'max') return 0;
  return 2 * (ranks + 1) * unitRoundoff(c);
}

/**
 * The expected output of `rank`, as float64 values.
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
  const root = c.root ?? 0;
  if (c.kind === 'broadcast') return decode(c.dtype, input(root));
  if (c.kind === 'allgather') {
    const out = new Float64Array(c.count);
    for (let r = 0; r < ranks; r++) out.set(decode(c.dtype, input(r)), segmentOf(c.count, ranks, r)[0]);
    return out;
  }
  const inputs = Array.from({ length: ranks }, (_, r) => input(r));
  const [a, b] = c.kind === 'reducescatter' ? segmentOf(c.count, ranks, rank) : [0, c.count];
  const out = new Float64Array(b - a);
  const vals = new Array<number>(ranks);
  for (let i = a; i < b; i++) {
    for (let r = 0; r < ranks; r++) vals[r] = readElement(c.dtype, inputs[r]!, i);
    out[i - a] = referenceReduce(c.dtype, c.op as ReduceOp, vals);
    if (scale) {
      let s = 0;
      for (const v of vals) s += Math.abs(v);
      scale[i - a] = c.op === 'prod' ? Math.abs(out[i - a]!) : s;
    }
  }
  return out;
}

function decode(dtype: CollectiveDtype, a: ElementArray): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = readElement(dtype, a, i);
  return out;
}

/**
 * What the checks of every rank of one call share, built once where one process checks
 * all of them (`webgpu-local`, `nccl`): each rank's input, made once instead of once per
 * checked rank, and the all-reduce's reference, which is the same for every rank. Without
 * it n ranks × n inputs are rebuilt, which at 8 GPUs × 256 MiB is minutes of host time.
 */
export class ReferenceCache {
  private readonly inputs: ElementArray[] = [];
  private shared?: { ref: Float64Array; scale: Float64Array };

  constructor(
    readonly c: CollectiveCall,
    readonly ranks: number,
    readonly seed: number,
  ) {}

  /** Rank r's input, made on first use. */
  input(r: number): ElementArray {
    return (this.inputs[r] ??= rankInput(this.c, this.ranks, r, this.seed));
  }

  /** The reference of `rank`'s output and each element's error scale. */
  expected(rank: number): { ref: Float64Array; scale: Float64Array } {
    if (this.c.kind === 'allreduce' && this.shared) return this.shared;
    const n = this.c.kind === 'reducescatter' ? this.c.count / this.ranks : this.c.count;
    const scale = new Float64Array(n);
    const ref = expectedOutput(this.c, this.ranks, rank, this.seed, scale, (r) => this.input(r));
    if (this.c.kind === 'allreduce') this.shared = { ref, scale };
    return { ref, scale };
  }
}

/**
 * Compares one rank's output with the reference: relative L2 error and elements beyond
 * the rounding bound. Pass `cache` when checking several ranks of one call in one process.
 */
export function checkOutput(c: CollectiveCall, ranks: number, rank: number, seed: number, output: Uint8Array, cache?: ReferenceCache): Check {
  let ref: Float64Array;
  let scale: Float64Array;
  if (cache) ({ ref, scale } = cache.expected(rank));
  else {
    scale = new Float64Array(c.kind === 'reducescatter' ? c.count / ranks : c.count);
    ref = expectedOutput(c, ranks, rank, seed, scale);
  }
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
 * Fills this rank's input from the seed and poisons every output byte that is not input.
 * @param input the rank's input if already made (a ReferenceCache's), else made here
 */
export function prepareRank(c: CollectiveCall, ranks: number, rank: number, seed: number, b: RankBuffers, input?: ElementArray): void {
  if (b.output.buffer !== b.input.buffer) poison(c.dtype, b.output);
  else if (c.kind === 'allgather') {
    const n = b.input.byteLength;
    poison(c.dtype, b.output.subarray(0, rank * n));
    poison(c.dtype, b.output.subarray((rank + 1) * n));
  }
  if (c.kind !== 'broadcast' || rank === (c.root ?? 0)) b.input.set(bytesOf(input ?? rankInput(c, ranks, rank, seed)));
  else poison(c.dtype, b.input);
}

/** Fills a buffer with NaN (or an unlikely int) so a call that writes nothing is caught. */
export function poison(dtype: CollectiveDtype, bytes: Uint8Array): void {
  const v = view(dtype, bytes);
  if (dtype === 'f32') (v as Float32Array).fill(NaN);
  else if (dtype === 'i32') (v as Int32Array).fill(-0x7ffffff1);
  else (v as Uint16Array).fill(0x7fc1);
}

export { bytesOf };
