/**
 * Reduction operators on the CPU over typed arrays: sum, prod, min, max, avg. `avg`
 * reduces as a sum and is divided by the rank count once, where the fully reduced value
 * is final (so every rank ends with the same bits). f16/bf16 round after every step,
 * as a device accumulating in that type does; i32 wraps as two's complement.
 */
import { F16_TO_F32, fromBf16, toBf16, toF16, type CollectiveDtype, type ElementArray } from './dtypes.js';
import { nativeReduce } from './native-reduce.js';

/** Below this many elements the JS loop beats the cost of a call into the addon. */
const NATIVE_MIN_ELEMENTS = 256;

/** Reduction operators, as NCCL names them. */
export const REDUCE_OPS = ['sum', 'prod', 'min', 'max', 'avg'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

type Binary = (a: number, b: number) => number;
const BINARY: Record<Exclude<ReduceOp, 'avg'>, Binary> = {
  sum: (a, b) => a + b,
  prod: (a, b) => a * b,
  min: (a, b) => (a < b || a !== a ? a : b),
  max: (a, b) => (a > b || a !== a ? a : b),
};

/** dst[i] = dst[i] ⊕ src[i] for every i (lengths must match; natively where the addon is built). */
export function reduceInto(dtype: CollectiveDtype, op: ReduceOp, dst: ElementArray, src: ElementArray): void {
  reduceFrom(dtype, op, dst, dst, src);
}

const sameMemory = (x: ElementArray, y: ElementArray) => x.buffer === y.buffer && x.byteOffset === y.byteOffset;

/**
 * dst[i] = a[i] ⊕ src[i]: an out-of-place step that spares the caller copying `a` into
 * `dst` first. `dst` is `a` itself, `src` itself (reduce into what arrived), or disjoint
 * from both.
 */
export function reduceFrom(dtype: CollectiveDtype, op: ReduceOp, dst: ElementArray, a: ElementArray, src: ElementArray): void {
  const n = dst.length;
  if (src.length !== n || a.length !== n) throw new RangeError(`reduce: lengths ${a.length} and ${src.length} into ${n}`);
  const native = n >= NATIVE_MIN_ELEMENTS ? nativeReduce() : undefined;
  if (native) return native(dtype, op, dst, src, a);
  // The JS loops take dst as the first operand: put a there, keeping src's values aside if dst is src.
  const s = sameMemory(dst, src) ? src.slice() : src;
  if (!sameMemory(a, dst)) dst.set(a);
  reduceIntoJs(dtype, op, dst, s);
}

/** The JS loops of reduceInto: the reference the native path must match bit for bit. */
export function reduceIntoJs(dtype: CollectiveDtype, op: ReduceOp, dst: ElementArray, src: ElementArray): void {
  const n = dst.length;
  const o = op === 'avg' ? 'sum' : op;
  if (dtype === 'f32') {
    const d = dst as Float32Array;
    const s = src as Float32Array;
    // Monomorphic loops per op: the JIT keeps these at memory speed.
    if (o === 'sum') for (let i = 0; i < n; i++) d[i] = d[i]! + s[i]!;
    else if (o === 'prod') for (let i = 0; i < n; i++) d[i] = d[i]! * s[i]!;
    else if (o === 'min') for (let i = 0; i < n; i++) d[i] = BINARY.min(d[i]!, s[i]!);
    else for (let i = 0; i < n; i++) d[i] = BINARY.max(d[i]!, s[i]!);
  } else if (dtype === 'i32') {
    const d = dst as Int32Array;
    const s = src as Int32Array;
    if (o === 'sum') for (let i = 0; i < n; i++) d[i] = (d[i]! + s[i]!) | 0;
    else if (o === 'prod') for (let i = 0; i < n; i++) d[i] = Math.imul(d[i]!, s[i]!);
    else if (o === 'min') for (let i = 0; i < n; i++) d[i] = Math.min(d[i]!, s[i]!);
    else for (let i = 0; i < n; i++) d[i] = Math.max(d[i]!, s[i]!);
  } else {
    const d = dst as Uint16Array;
    const s = src as Uint16Array;
    const f = BINARY[o];
    if (dtype === 'f16') for (let i = 0; i < n; i++) d[i] = toF16(f(F16_TO_F32[d[i]!]!, F16_TO_F32[s[i]!]!));
    else for (let i = 0; i < n; i++) d[i] = toBf16(f(fromBf16(d[i]!), fromBf16(s[i]!)));
  }
}

/** Finishes a reduction over `ranks` contributions: divides for `avg`, nothing otherwise. */
export function finalize(dtype: CollectiveDtype, op: ReduceOp, buf: ElementArray, ranks: number): void {
  if (op !== 'avg') return;
  const n = buf.length;
  if (dtype === 'f32') {
    const d = buf as Float32Array;
    for (let i = 0; i < n; i++) d[i] = d[i]! / ranks;
  } else if (dtype === 'i32') {
    // Integer average truncates toward zero, as C division does.
    const d = buf as Int32Array;
    for (let i = 0; i < n; i++) d[i] = Math.trunc(d[i]! / ranks);
  } else if (dtype === 'f16') {
    const d = buf as Uint16Array;
    for (let i = 0; i < n; i++) d[i] = toF16(F16_TO_F32[d[i]!]! / ranks);
  } else {
    const d = buf as Uint16Array;
    for (let i = 0; i < n; i++) d[i] = toBf16(fromBf16(d[i]!) / ranks);
  }
}

/** The float64 (or exact int32) reference of one element: op over every rank's value. */
export function referenceReduce(dtype: CollectiveDtype, op: ReduceOp, values: readonly number[]): number {
  if (dtype === 'i32') {
    let acc = values[0]!;
    for (let i = 1; i < values.length; i++) {
      const v = values[i]!;
      acc = op === 'prod' ? Math.imul(acc, v) : op === 'min' ? Math.min(acc, v) : op === 'max' ? Math.max(acc, v) : (acc + v) | 0;
    }
    return op === 'avg' ? Math.trunc(acc / values.length) : acc;
  }
  const f = BINARY[op === 'avg' ? 'sum' : op];
  let acc = values[0]!;
  for (let i = 1; i < values.length; i++) acc = f(acc, values[i]!);
  return op === 'avg' ? acc / values.length : acc;
}
