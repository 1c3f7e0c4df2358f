/**
 * The host reduction's fast path: `reduce` from the native addon (native/src/reduce.cc),
 * loops the compiler vectorises, bit for bit what the JS loops in ops.ts compute. It is
 * used when the addon is built (it needs no CUDA) and `GPUBENCH_JS_REDUCE` is not set;
 * otherwise the JS loops run. Which one ran is part of every collective case's impl.
 */
import { loadAddon } from '../kernels/cuda/addon.js';
import type { CollectiveDtype } from './dtypes.js';
import type { ReduceOp } from './ops.js';

/** The addon's `reduce(dtype, op, dst, src[, a])`: dst = (a ?? dst) ⊕ src, element-wise, every collective dtype. */
export type NativeReduce = (dtype: CollectiveDtype, op: ReduceOp, dst: ArrayBufferView, src: ArrayBufferView, a?: ArrayBufferView) => void;

/** The native reduce, or undefined where the addon is not built or JS is forced. */
let chosen: NativeReduce | undefined | null = null;

/** The native reduce function if it is to be used. */
export function nativeReduce(): NativeReduce | undefined {
  if (chosen === null) {
    const loaded = process.env.GPUBENCH_JS_REDUCE === '1' ? undefined : loadAddon();
    // The addon's declared type names the first dtypes only; reduce.cc takes them all.
    chosen = loaded && 'addon' in loaded && typeof loaded.addon.reduce === 'function' ? (loaded.addon.reduce as NativeReduce) : undefined;
  }
  return chosen;
}

/** What reduces on the host in this process: "native" (C++) or "js". */
export function hostReduction(): 'native' | 'js' {
  return nativeReduce() ? 'native' : 'js';
}
