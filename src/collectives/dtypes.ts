/**
 * Element types of collectives and their storage, as NCCL has them: f32, f64, i32, u32
 * as typed arrays; i8 and u8 as Int8Array/Uint8Array; i64 and u64 as BigInt64Array/
 * BigUint64Array (exact beyond 2^53); f16 and bf16 as 16-bit patterns (Uint16Array)
 * converted through f32 with round-to-nearest-even, as the hardware does; fp8 (OCP E4M3:
 * no infinity, NaN = S.1111.111, max 448; E5M2: IEEE-like with ±Inf and NaN, max 57344)
 * as 8-bit patterns (Uint8Array), encoded with round-to-nearest-even and saturation to
 * the largest finite value (±Inf included), as CUDA's `__nv_fp8_*` constructors do
 * (`__NV_SATFINITE`), which is what NCCL's fp8 reductions store.
 */

/** Element types a collective can move and reduce. */
export const COLLECTIVE_DTYPES = ['f32', 'f16', 'bf16', 'i32', 'i8', 'u8', 'u32', 'i64', 'u64', 'f64', 'fp8e4m3', 'fp8e5m2'] as const;
export type CollectiveDtype = (typeof COLLECTIVE_DTYPES)[number];

/** The 8-bit float formats. */
export type Fp8Dtype = 'fp8e4m3' | 'fp8e5m2';
/** The integer dtypes (exact, two's-complement wrap-around at their width). */
export type IntDtype = 'i8' | 'u8' | 'i32' | 'u32' | 'i64' | 'u64';

/** A typed view of a collective buffer. */
export type ElementArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

/** A typed view whose elements are numbers (every dtype but i64 and u64). */
export type NumberArray = Exclude<ElementArray, BigInt64Array | BigUint64Array>;

const BYTES: Record<CollectiveDtype, number> = { f32: 4, f16: 2, bf16: 2, i32: 4, i8: 1, u8: 1, u32: 4, i64: 8, u64: 8, f64: 8, fp8e4m3: 1, fp8e5m2: 1 };

/** Bytes per element. */
export function elementBytes(dtype: CollectiveDtype): number {
  return BYTES[dtype];
}

/** Whether the dtype is an integer one (exact results, wrap-around). */
export const isIntDtype = (dtype: CollectiveDtype): dtype is IntDtype =>
  dtype === 'i8' || dtype === 'u8' || dtype === 'i32' || dtype === 'u32' || dtype === 'i64' || dtype === 'u64';

/** Whether elements are 64-bit integers (bigint in JS). */
export const isBigDtype = (dtype: CollectiveDtype): dtype is 'i64' | 'u64' => dtype === 'i64' || dtype === 'u64';

/** Whether the dtype is an 8-bit float. */
export const isFp8Dtype = (dtype: CollectiveDtype): dtype is Fp8Dtype => dtype === 'fp8e4m3' || dtype === 'fp8e5m2';

type ArrayCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ElementArray;
const CTOR: Record<CollectiveDtype, ArrayCtor & { new (length: number): ElementArray }> = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u32: Uint32Array,
  f16: Uint16Array,
  bf16: Uint16Array,
  i8: Int8Array,
  u8: Uint8Array,
  i64: BigInt64Array,
  u64: BigUint64Array,
  fp8e4m3: Uint8Array,
  fp8e5m2: Uint8Array,
};

/** A typed view of `bytes` (which must be aligned to the element size). */
export function view(dtype: CollectiveDtype, bytes: Uint8Array): ElementArray {
  return new CTOR[dtype](bytes.buffer, bytes.byteOffset, bytes.byteLength / elementBytes(dtype));
}

/** Bytes of a typed array. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** `bytes` itself when aligned for `dtype`, else an aligned copy (pooled Buffers may sit at odd offsets). */
export function aligned(dtype: CollectiveDtype, bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % elementBytes(dtype) === 0 ? bytes : copyBytes(bytes);
}

/** A fresh copy (Buffer#slice would return a view, so never rely on slice to copy). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

/** Allocates `count` elements of `dtype`. */
export function allocate(dtype: CollectiveDtype, count: number): ElementArray {
  return new CTOR[dtype](count);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f16 bits → number, by table (65536 entries, built once). */
export const F16_TO_F32: Float32Array = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** number → f16 bits, rounding to nearest even (overflow → ±Inf, NaN stays NaN). */
export function toF16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  let m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  let he = e - 127 + 15;
  if (he >= 31) return sign | 0x7c00;
  if (he <= 0) {
    if (he < -10) return sign;
    m |= 0x800000;
    const shift = 14 - he;
    let hm = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && hm & 1)) hm++;
    return sign | hm;
  }
  let hm = m >>> 13;
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && hm & 1)) {
    hm++;
    if (hm === 0x400) {
      hm = 0;
      he++;
      if (he >= 31) return sign | 0x7c00;
    }
  }
  return sign | (he << 10) | hm;
}

/** bf16 bits → number. */
export function fromBf16(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** number → bf16 bits, rounding to nearest even (NaN stays NaN). */
export function toBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * `x` rounded to a binary float with `mbits` stored mantissa bits and smallest normal
 * exponent `emin`, to nearest even, as a number: the exact single rounding (no float32
 * step between). Overflow is the caller's (the result may exceed the format's range).
 */
export function roundToFormat(x: number, mbits: number, emin: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const ulp = 2 ** (Math.max(exponentOf(a), emin) - mbits);
  const q = a / ulp;
  let r = Math.floor(q);
  const d = q - r;
  if (d > 0.5 || (d === 0.5 && r % 2 === 1)) r++;
  const v = r * ulp;
  return x < 0 ? -v : v;
}

const f64 = new Float64Array(1);
const f64hi = new Uint32Array(f64.buffer, 4, 1);
/** floor(log2 a) for a finite a > 0, from the bits (Math.log2 may round across a power of two). */
function exponentOf(a: number): number {
  if (a < 2 ** -1022) return exponentOf(a * 2 ** 64) - 64;
  f64[0] = a;
  return ((f64hi[0]! >>> 20) & 0x7ff) - 1023;
}

/** f16's largest finite value; beyond 65520 (max + half an ulp) it rounds to Inf. */
const F16_MAX = 65504;

/** `x` rounded to f16 once, to nearest even, as a number (±Inf on overflow, NaN stays). */
export function roundToF16(x: number): number {
  const v = roundToFormat(x, 10, -14);
  return Math.abs(v) > F16_MAX ? (v > 0 ? Infinity : -Infinity) : v;
}

interface Fp8Format {
  mbits: number;
  bias: number;
  /** Largest finite value and its code. */
  max: number;
  maxCode: number;
  /** Whether all-ones exponent codes are ±Inf/NaN (E5M2) or values with only S.1111.111 NaN (E4M3). */
  ieee: boolean;
}

const FP8: Record<Fp8Dtype, Fp8Format> = {
  fp8e4m3: { mbits: 3, bias: 7, max: 448, maxCode: 0x7e, ieee: false },
  fp8e5m2: { mbits: 2, bias: 15, max: 57344, maxCode: 0x7b, ieee: true },
};

/** The canonical NaN code of both fp8 formats (E4M3: S.1111.111; E5M2: exponent all ones, mantissa 11). */
export const FP8_NAN = 0x7f;

/** fp8 bits → number, by table (256 entries per format). */
export const FP8_TO_NUMBER: Record<Fp8Dtype, Float64Array> = {
  fp8e4m3: fp8Table(FP8.fp8e4m3),
  fp8e5m2: fp8Table(FP8.fp8e5m2),
};

function fp8Table(f: Fp8Format): Float64Array {
  const t = new Float64Array(256);
  const emax = (1 << (7 - f.mbits)) - 1;
  for (let b = 0; b < 256; b++) {
    const s = b & 0x80 ? -1 : 1;
    const e = (b & 0x7f) >> f.mbits;
    const m = b & ((1 << f.mbits) - 1);
    if (f.ieee && e === emax) t[b] = m ? NaN : s * Infinity;
    else if (!f.ieee && (b & 0x7f) === 0x7f) t[b] = NaN;
    else if (e === 0) t[b] = s * m * 2 ** (1 - f.bias - f.mbits);
    else t[b] = s * (1 + m / (1 << f.mbits)) * 2 ** (e - f.bias);
  }
  return t;
}

/**
 * number → fp8 bits: round to nearest even, then saturate to ±max (±Inf too), NaN →
 * 0x7f: CUDA's `__nv_cvt_*_to_fp8(x, __NV_SATFINITE, …)`. −0 keeps its sign.
 */
export function toFp8(dtype: Fp8Dtype, x: number): number {
  if (x !== x) return FP8_NAN;
  const f = FP8[dtype];
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const v = Math.abs(roundToFormat(x, f.mbits, 1 - f.bias));
  if (v > f.max) return sign | f.maxCode;
  if (v === 0) return sign;
  const e = exponentOf(v);
  if (e < 1 - f.bias) return sign | (v / 2 ** (1 - f.bias - f.mbits));
  return sign | ((e + f.bias) << f.mbits) | ((v / 2 ** e - 1) * (1 << f.mbits));
}

const FP8_OF_F16 = new Map<Fp8Dtype, Uint8Array>();
/**
 * f16 bits → fp8 bits (toFp8 of the f16 value), by a table built once per format: a fast
 * encoder for generated data, where the f16 step's rounding does not matter.
 */
export function fp8OfF16(dtype: Fp8Dtype): Uint8Array {
  let t = FP8_OF_F16.get(dtype);
  if (!t) {
    t = new Uint8Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = toFp8(dtype, F16_TO_F32[h]!);
    FP8_OF_F16.set(dtype, t);
  }
  return t;
}

/** Element i of a typed view as a number (f16/bf16/fp8 decoded; 64-bit ints rounded to the nearest double). */
export function readElement(dtype: CollectiveDtype, a: ElementArray, i: number): number {
  const v = a[i]!;
  if (typeof v === 'bigint') return Number(v);
  if (dtype === 'f16') return F16_TO_F32[v]!;
  if (dtype === 'bf16') return fromBf16(v);
  if (dtype === 'fp8e4m3' || dtype === 'fp8e5m2') return FP8_TO_NUMBER[dtype][v]!;
  return v;
}

/**
 * Encodes numbers into a new buffer of `dtype`: rounded for the floats, truncated and
 * wrapped to the width for the integers (64-bit ones through BigInt, exact up to 2^53).
 */
export function encode(dtype: CollectiveDtype, values: ArrayLike<number>): ElementArray {
  const out = allocate(dtype, values.length);
  if (dtype === 'f16') for (let i = 0; i < values.length; i++) out[i] = toF16(values[i]!);
  else if (dtype === 'bf16') for (let i = 0; i < values.length; i++) out[i] = toBf16(values[i]!);
  else if (isFp8Dtype(dtype)) for (let i = 0; i < values.length; i++) out[i] = toFp8(dtype, values[i]!);
  else if (isBigDtype(dtype)) {
    const o = out as BigInt64Array;
    for (let i = 0; i < values.length; i++) o[i] = Number.isFinite(values[i]) ? BigInt(Math.trunc(values[i]!)) : 0n;
  } else (out as NumberArray).set(values);
  return out;
}
