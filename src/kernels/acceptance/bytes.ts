/**
 * Random bytes for the copy workloads and their byte-for-byte check: a copy is right only
 * when every byte of its destination equals the source's.
 */
import type { Check } from '../../harness/results/schema.js';

/** `count` random bytes from a seed (mulberry32, 4 bytes per step). */
export function randomBytes(count: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(count / 4));
  let s = seed >>> 0;
  for (let i = 0; i < words.length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    words[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return new Uint8Array(words.buffer, 0, count);
}

/** The bytes of any typed array (kernels hand copies back as Float32Array views). */
export const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A Float32Array over the same bytes (their length is a multiple of 4), for `runChecked`. */
export const asFloat32 = (a: Uint8Array): Float32Array => new Float32Array(a.buffer, a.byteOffset, a.byteLength / 4);

/**
 * Compares `out` with `src` repeated `copies` times (a bidirectional case hands back the
 * measured destination, then the interfering copy's, which is twice the size), byte for byte.
 */
export function checkBytes(src: Uint8Array, out: ArrayBufferView, copies: number, seed: number): Check {
  const got = bytesOf(out);
  const n = src.length * copies;
  if (got.length < n) return { passed: false, maxRelError: null, tolerance: 0, wrong: n, checked: 0, seed };
  let wrong = 0;
  for (let c = 0; c < copies; c++) {
    const base = c * src.length;
    for (let i = 0; i < src.length; i++) if (got[base + i] !== src[i]) wrong++;
  }
  return { passed: wrong === 0, maxRelError: wrong === 0 ? 0 : wrong / n, tolerance: 0, wrong, checked: n, seed };
}
