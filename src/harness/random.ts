/**
 * Seeded random inputs. Every case gets a fresh seed (recorded in its check) so data is
 * never zeros or a constant pattern, yet a failing case can be reproduced.
 */
import { randomInt } from 'node:crypto';

/** A new 31-bit seed from the OS's random source. */
export function freshSeed(): number {
  return randomInt(1, 2 ** 31 - 1);
}

/** A small, fast, seedable PRNG (mulberry32): uniform in [0, 1), the same sequence for the same seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Uniform floats in [-1, 1) from a seed (mulberry32: small, fast, and good enough for
 * test data; not for cryptography).
 */
export function uniform(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  const next = mulberry32(seed);
  for (let i = 0; i < count; i++) out[i] = next() * 2 - 1;
  return out;
}

/** k distinct integers from [0, n), ascending, from a seed. */
export function sampleIndices(n: number, k: number, seed: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const r = uniform(k * 2, seed ^ 0x5bd1e995);
  const picked = new Set<number>();
  for (let i = 0; picked.size < k; i++) {
    const u = i < r.length ? (r[i]! + 1) / 2 : Math.random();
    picked.add(Math.min(n - 1, Math.floor(u * n)));
  }
  return [...picked].sort((a, b) => a - b);
}
