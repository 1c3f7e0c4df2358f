/**
 * The host reduction's fast path: `reduce` from the native addon (native/src/reduce.cc),
 * loops the compiler vectorises, bit for bit what the JS loops in ops.ts compute. It is
 * used when the addon is built (it needs no CUDA) and `GPUBENCH_JS_REDUCE` is not set;
 * otherwise the JS loops run. Which one ran is part of every collective case's impl.
 */
import { loadAddon, type NativeAddon } from '../kernels/cuda/addon.js';

/** The native reduce, or undefined where the addon is not built or JS is forced. */
let chosen: NativeAddon['reduce'] | undefined | null = null;

/** The native reduce function if it is to be used. */
export function nativeReduce(): NativeAddon['reduce'] | undefined {
  if (chosen === null) {
    const loaded = process.env.GPUBENCH_JS_REDUCE === '1' ? undefined : loadAddon();
    chosen = loaded && 'addon' in loaded && typeof loaded.addon.reduce === 'function' ? loaded.addon.reduce : undefined;
  }
  return chosen;
}

/** What reduces on the host in this process: "native" (C++) or "js". */
export function hostReduction(): 'native' | 'js' {
  return nativeReduce() ? 'native' : 'js';
}
