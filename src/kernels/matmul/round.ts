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

/** Rounds every value in place to what `dtype` can store; f32/tf32 inputs stay f32. */
export function roundTo(values: Float32Array, dtype: string): Float32Array {
  const fn = dtype === 'f16' ? f16round : dtype === 'bf16' ? bf16round : undefined;
  if (fn) for (let i = 0; i < values.length; i++) values[i] = fn(values[i]!);
  return values;
}
