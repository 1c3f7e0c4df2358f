/** Poisoning outputs before a checked call, so a call that writes nothing is caught. */
import { FP8_NAN, view, type CollectiveDtype } from './dtypes.js';

/**
 * The poison of each dtype: NaN for the floats (fp8: 0x7f, NaN in both formats; finite
 * fp8 inputs never reduce to NaN, as NCCL saturates), and for the integers an odd value
 * near the bottom or top of the type, which the checked inputs (rankInput: sums inside
 * ±100 for i8, ≤ 200 for u8, ≤ 1000·ranks for 32 bits, < 2^63 for 64; products ±2^k)
 * never sum, multiply, average or pick to.
 */
const POISON: Record<CollectiveDtype, number | bigint> = {
  f32: NaN,
  f64: NaN,
  f16: 0x7fc1,
  bf16: 0x7fc1,
  fp8e4m3: FP8_NAN,
  fp8e5m2: FP8_NAN,
  i8: -121,
  u8: 0xf1,
  i32: -0x7ffffff1,
  u32: 0xfffffff1,
  i64: -0x7ffffffffffffff1n,
  u64: 0xfffffffffffffff1n,
};

/** Fills a buffer with its dtype's poison so a call that writes nothing is caught. */
export function poison(dtype: CollectiveDtype, bytes: Uint8Array): void {
  (view(dtype, bytes) as Uint8Array).fill(POISON[dtype] as number);
}

/** The poison element of a dtype (a number, or a bigint for i64 and u64). */
export const poisonValue = (dtype: CollectiveDtype): number | bigint => POISON[dtype];
