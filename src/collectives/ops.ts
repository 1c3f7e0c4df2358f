/**
 * Reduction operators on the CPU over typed arrays: sum, prod, min, max, avg. `avg`
 * reduces as a sum and is divided by the rank count once, where the fully reduced value
 * is final (so every rank ends with the same bits). f16/bf16 round after every step,
 * as a device accumulating in that type does; fp8 steps go through f16 and saturate, as
 * NCCL's do; the integers wrap as two's complement at their width (i64/u64 as BigInt).
 */
import { F16_TO_F32, FP8_TO_NUMBER, fromBf16, roundToF16, toBf16, toF16, toFp8, type CollectiveDtype, type ElementArray, type Fp8Dtype } from './dtypes.js';
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
  if (!sameMemory(a, dst)) (dst as Uint8Array).set(a as Uint8Array);
  reduceIntoJs(dtype, op, dst, s);
}

/** The JS loops of reduceInto: the reference the native path must match bit for bit. */
export function reduceIntoJs(dtype: CollectiveDtype, op: ReduceOp, dst: ElementArray, src: ElementArray): void {
  const n = dst.length;
  const o = op === 'avg' ? 'sum' : op;
  if (dtype === 'f32' || dtype === 'f64') {
    const d = dst as Float32Array;
    const s = src as Float32Array;
    // Monomorphic loops per op: the JIT keeps these at memory speed.
    if (o === 'sum') for (let i = 0; i < n; i++) d[i] = d[i]! + s[i]!;
    else if (o === 'prod') for (let i = 0; i < n; i++) d[i] = d[i]! * s[i]!;
    else if (o === 'min') for (let i = 0; i < n; i++) d[i] = BINARY.min(d[i]!, s[i]!);
    else for (let i = 0; i < n; i++) d[i] = BINARY.max(d[i]!, s[i]!);
  } else if (dtype === 'i32' || dtype === 'u32') {
    // Stores into Int32Array/Uint32Array wrap to the width; the sum of two is exact in a double.
    const d = dst as Int32Array;
    const s = src as Int32Array;
    if (o === 'sum') for (let i = 0; i < n; i++) d[i] = d[i]! + s[i]!;
    else if (o === 'prod') for (let i = 0; i < n; i++) d[i] = Math.imul(d[i]!, s[i]!);
    else if (o === 'min') for (let i = 0; i < n; i++) d[i] = Math.min(d[i]!, s[i]!);
    else for (let i = 0; i < n; i++) d[i] = Math.max(d[i]!, s[i]!);
  } else if (dtype === 'i8' || dtype === 'u8') {
    // Products of two 8-bit values are exact in a double; the store wraps.
    const d = dst as Int8Array;
    const s = src as Int8Array;
    if (o === 'sum') for (let i = 0; i < n; i++) d[i] = d[i]! + s[i]!;
    else if (o === 'prod') for (let i = 0; i < n; i++) d[i] = d[i]! * s[i]!;
    else if (o === 'min') for (let i = 0; i < n; i++) d[i] = Math.min(d[i]!, s[i]!);
    else for (let i = 0; i < n; i++) d[i] = Math.max(d[i]!, s[i]!);
  } else if (dtype === 'i64' || dtype === 'u64') {
    // BigInt64Array/BigUint64Array stores wrap modulo 2^64: two's complement at 64 bits.
    const d = dst as BigInt64Array;
    const s = src as BigInt64Array;
    if (o === 'sum') for (let i = 0; i < n; i++) d[i] = d[i]! + s[i]!;
    else if (o === 'prod') for (let i = 0; i < n; i++) d[i] = d[i]! * s[i]!;
    else if (o === 'min') for (let i = 0; i < n; i++) d[i] = d[i]! < s[i]! ? d[i]! : s[i]!;
    else for (let i = 0; i < n; i++) d[i] = d[i]! > s[i]! ? d[i]! : s[i]!;
  } else if (dtype === 'fp8e4m3' || dtype === 'fp8e5m2') {
    const t = fp8OpTable(dtype, o);
    const d = dst as Uint8Array;
    const s = src as Uint8Array;
    for (let i = 0; i < n; i++) d[i] = t[(d[i]! << 8) | s[i]!]!;
  } else {
    const d = dst as Uint16Array;
    const s = src as Uint16Array;
    const f = BINARY[o];
    if (dtype === 'f16') for (let i = 0; i < n; i++) d[i] = toF16(f(F16_TO_F32[d[i]!]!, F16_TO_F32[s[i]!]!));
    else for (let i = 0; i < n; i++) d[i] = toBf16(f(fromBf16(d[i]!), fromBf16(s[i]!)));
  }
}

/**
 * One fp8 step as NCCL takes it (`__nv_fp8_e4m3(__hadd(__half(x), __half(y)))`, and
 * `__hmul`, `__hmin`, `__hmax`): both operands widened to f16 (exactly), the op rounded
 * once to f16, the result converted to fp8 rounding to nearest even and saturating
 * (`__NV_SATFINITE`: beyond ±max, ±Inf included, → ±max; NaN → NaN).
 */
export function fp8Step(dtype: Fp8Dtype, op: Exclude<ReduceOp, 'avg'>, a: number, b: number): number {
  const t = FP8_TO_NUMBER[dtype];
  return toFp8(dtype, roundToF16(BINARY[op](t[a]!, t[b]!)));
}

const FP8_TABLES = new Map<string, Uint8Array>();
/** Every (a, b) pair's fp8Step, built once per format and op (64 KiB). */
function fp8OpTable(dtype: Fp8Dtype, op: Exclude<ReduceOp, 'avg'>): Uint8Array {
  const key = `${dtype}/${op}`;
  let t = FP8_TABLES.get(key);
  if (!t) {
    t = new Uint8Array(65536);
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) t[(a << 8) | b] = fp8Step(dtype, op, a, b);
    FP8_TABLES.set(key, t);
  }
  return t;
}

/**
 * Finishes a reduction over `ranks` contributions: divides for `avg`, nothing otherwise.
 * Integers divide as NCCL's ncclAvg does (the wrapped sum, then the quotient truncated
 * toward zero); fp8 divides in double and rounds through f16 as its steps do.
 */
export function finalize(dtype: CollectiveDtype, op: ReduceOp, buf: ElementArray, ranks: number): void {
  if (op !== 'avg') return;
  const n = buf.length;
  if (dtype === 'f32' || dtype === 'f64') {
    const d = buf as Float32Array;
    for (let i = 0; i < n; i++) d[i] = d[i]! / ranks;
  } else if (dtype === 'i32' || dtype === 'u32' || dtype === 'i8' || dtype === 'u8') {
    // Integer average truncates toward zero, as C division does.
    const d = buf as Int32Array;
    for (let i = 0; i < n; i++) d[i] = Math.trunc(d[i]! / ranks);
  } else if (dtype === 'i64' || dtype === 'u64') {
    // BigInt division truncates toward zero.
    const d = buf as BigInt64Array;
    const r = BigInt(ranks);
    for (let i = 0; i < n; i++) d[i] = d[i]! / r;
  } else if (dtype === 'fp8e4m3' || dtype === 'fp8e5m2') {
    // 256 patterns: divide each once, then map (per element it would be most of a large call).
    const d = buf as Uint8Array;
    const t = FP8_TO_NUMBER[dtype];
    const div = new Uint8Array(256);
    for (let b = 0; b < 256; b++) div[b] = toFp8(dtype, roundToF16(t[b]! / ranks));
    for (let i = 0; i < n; i++) d[i] = div[d[i]!]!;
  } else if (dtype === 'f16') {
    const d = buf as Uint16Array;
    for (let i = 0; i < n; i++) d[i] = toF16(F16_TO_F32[d[i]!]! / ranks);
  } else {
    const d = buf as Uint16Array;
    for (let i = 0; i < n; i++) d[i] = toBf16(fromBf16(d[i]!) / ranks);
  }
}

/** `x` wrapped to the width of an integer dtype of at most 32 bits. */
function wrap(dtype: CollectiveDtype, x: number): number {
  if (dtype === 'i8') return (x << 24) >> 24;
  if (dtype === 'u8') return x & 0xff;
  if (dtype === 'u32') return x >>> 0;
  return x | 0;
}

/**
 * The float64 (or exact integer) reference of one element: op over every rank's value.
 * Integers of at most 32 bits wrap as two's complement at their width; i64 and u64 take
 * `referenceReduceBig`.
 */
export function referenceReduce(dtype: CollectiveDtype, op: ReduceOp, values: readonly number[]): number {
  if (dtype === 'i32' || dtype === 'u32' || dtype === 'i8' || dtype === 'u8') {
    let acc = values[0]!;
    for (let i = 1; i < values.length; i++) {
      const v = values[i]!;
      acc = op === 'prod' ? wrap(dtype, Math.imul(acc, v)) : op === 'min' ? Math.min(acc, v) : op === 'max' ? Math.max(acc, v) : wrap(dtype, acc + v);
    }
    return op === 'avg' ? Math.trunc(acc / values.length) : acc;
  }
  const f = BINARY[op === 'avg' ? 'sum' : op];
  let acc = values[0]!;
  for (let i = 1; i < values.length; i++) acc = f(acc, values[i]!);
  return op === 'avg' ? acc / values.length : acc;
}

/** The exact reference of one i64 or u64 element, wrapping modulo 2^64 as the dtype does. */
export function referenceReduceBig(dtype: 'i64' | 'u64', op: ReduceOp, values: readonly bigint[]): bigint {
  const w = (x: bigint) => (dtype === 'i64' ? BigInt.asIntN(64, x) : BigInt.asUintN(64, x));
  let acc = values[0]!;
  for (let i = 1; i < values.length; i++) {
    const v = values[i]!;
    acc = op === 'prod' ? w(acc * v) : op === 'min' ? (v < acc ? v : acc) : op === 'max' ? (v > acc ? v : acc) : w(acc + v);
  }
  return op === 'avg' ? acc / BigInt(values.length) : acc;
}
