/**
 * Rounding float values to the storage dtype a kernel will see, so the float64 reference
 * multiplies exactly the numbers the device multiplies.
 */
import { f16round } from '@petamoriken/float16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even to bfloat16, returned as a float. */
export function bf16round(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000) return x; // Inf/NaN unchanged
  u32[0] = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  return f32[0]!;
}

/** Largest finite FP8 E4M3 value (S.1111.110 = 1.75·2^8). */
export const FP8_E4M3_MAX = 448;

/** Round half to even: the IEEE default, and what CUDA's conversions use. */
function rne(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Round-to-nearest-even to OCP FP8 E4M3 ("e4m3fn": 4 exponent bits, bias 7, 3 mantissa
 * bits, no infinities), returned as a float. Out-of-range values saturate to ±448 as
 * CUDA's `__NV_SATFINITE` conversion does; NaN stays NaN. Normals have a quantum of
 * 2^(e−3); below 2^−6 the subnormal quantum is 2^−9.
 */
export function fp8round(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1;
  if (a >= FP8_E4M3_MAX) return sign * FP8_E4M3_MAX;
  let exp = -6;
  if (a >= 2 ** -6) {
    exp = Math.floor(Math.log2(a));
    // log2 can be one ulp off near powers of two: keep a within [2^exp, 2^(exp+1)).
    if (2 ** exp > a) exp--;
    else if (2 ** (exp + 1) <= a) exp++;
  }
  const quantum = 2 ** (exp - 3);
  return sign * Math.min(FP8_E4M3_MAX, rne(a / quantum) * quantum);
}

/** Rounds every value in place to what `dtype` can store; f32/tf32 inputs stay f32. */
export function roundTo(values: Float32Array, dtype: string): Float32Array {
  const fn = dtype === 'f16' ? f16round : dtype === 'bf16' ? bf16round : dtype === 'fp8' ? fp8round : undefined;
  if (fn) for (let i = 0; i < values.length; i++) values[i] = fn(values[i]!);
  return values;
}
