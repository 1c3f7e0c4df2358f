/**
 * Element types of collectives and their storage: f32 and i32 as typed arrays, f16 and
 * bf16 as 16-bit patterns (Uint16Array) converted through f32 with round-to-nearest-even,
 * as the hardware does.
 */

/** Element types a collective can move and reduce. */
export const COLLECTIVE_DTYPES = ['f32', 'f16', 'bf16', 'i32'] as const;
export type CollectiveDtype = (typeof COLLECTIVE_DTYPES)[number];

/** A typed view of a collective buffer. */
export type ElementArray = Float32Array | Int32Array | Uint16Array;

/** Bytes per element. */
export function elementBytes(dtype: CollectiveDtype): number {
  return dtype === 'f16' || dtype === 'bf16' ? 2 : 4;
}

/** A typed view of `bytes` (which must be aligned to the element size). */
export function view(dtype: CollectiveDtype, bytes: Uint8Array): ElementArray {
  const n = bytes.byteLength / elementBytes(dtype);
  if (dtype === 'f32') return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  if (dtype === 'i32') return new Int32Array(bytes.buffer, bytes.byteOffset, n);
  return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
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
  if (dtype === 'f32') return new Float32Array(count);
  if (dtype === 'i32') return new Int32Array(count);
  return new Uint16Array(count);
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

/** Element i of a typed view as a number (f16/bf16 decoded). */
export function readElement(dtype: CollectiveDtype, a: ElementArray, i: number): number {
  const v = a[i]!;
  if (dtype === 'f16') return F16_TO_F32[v]!;
  if (dtype === 'bf16') return fromBf16(v);
  return v;
}

/** Encodes numbers into a new buffer of `dtype` (rounded, or truncated to int32 for i32). */
export function encode(dtype: CollectiveDtype, values: ArrayLike<number>): ElementArray {
  const out = allocate(dtype, values.length);
  if (dtype === 'f16') for (let i = 0; i < values.length; i++) out[i] = toF16(values[i]!);
  else if (dtype === 'bf16') for (let i = 0; i < values.length; i++) out[i] = toBf16(values[i]!);
  else out.set(values);
  return out;
}
