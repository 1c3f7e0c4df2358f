/** Poisoning outputs before a checked call, so a call that writes nothing is caught. */
import { view, type CollectiveDtype } from './dtypes.js';

/** Fills a buffer with NaN (or an unlikely int) so a call that writes nothing is caught. */
export function poison(dtype: CollectiveDtype, bytes: Uint8Array): void {
  const v = view(dtype, bytes);
  if (dtype === 'f32') (v as Float32Array).fill(NaN);
  else if (dtype === 'i32') (v as Int32Array).fill(-0x7ffffff1);
  else (v as Uint16Array).fill(0x7fc1);
}
