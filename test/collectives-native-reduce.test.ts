/**
 * The addon's host reduction gives the collectives' JS loops' bits exactly, for every
 * dtype and op, on fresh random data salted with the awkward values (±0, ±Inf, NaN,
 * subnormals, the largest finite values, the integers' extremes so sums and products
 * wrap, 64-bit values beyond 2^53), and for every pair of fp8 patterns: ranks on hosts with and without the addon
 * must end with identical buffers.
 */
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../src/kernels/cuda/addon.js';
import { COLLECTIVE_DTYPES, allocate, encode, type CollectiveDtype, type ElementArray } from '../src/collectives/dtypes.js';
import { REDUCE_OPS, reduceFrom, reduceInto, reduceIntoJs } from '../src/collectives/ops.js';
import { hostReduction, type NativeReduce } from '../src/collectives/native-reduce.js';
import { freshSeed, uniform } from '../src/harness/random.js';

const loaded = loadAddon();
const addon = 'addon' in loaded ? (loaded.addon as Omit<typeof loaded.addon, 'reduce'> & { reduce: NativeReduce }) : undefined;
/** CI builds the addon in `npm ci`; only GPUBENCH_SKIP_NATIVE=1 excuses its absence. */
const withAddon = addon || process.env.GPUBENCH_SKIP_NATIVE !== '1' ? it : it.skip;

const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 6e-8, 65504, -65504, 3.4e38, -3.4e38, 1, -1, 2 ** 24 + 1];

/** Integer extremes of each width, salted into the random data: wrap-around at both ends. */
const INT_EDGES: Record<'i8' | 'u8' | 'i32' | 'u32', number[]> = {
  i8: [0, -1, 127, -128, 1, 64, -64],
  u8: [0, 255, 1, 128, 127, 16],
  i32: [0, -1, 2 ** 31 - 1, -(2 ** 31), 1, 65536],
  u32: [0, 2 ** 32 - 1, 1, 2 ** 31, 2 ** 31 - 1, 65536],
};
const BIG_EDGES = [0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 32n, 3n];

function randomArray(dtype: CollectiveDtype, n: number, seed: number): ElementArray {
  const u = uniform(n, seed);
  if (dtype === 'i32' || dtype === 'u32' || dtype === 'i8' || dtype === 'u8') {
    const out = allocate(dtype, n) as Int32Array;
    // Full-width random patterns (the store wraps them to the type), extremes first.
    for (let i = 0; i < n; i++) out[i] = Math.floor((u[i]! - 0.5) * 2 ** 32);
    out.set(INT_EDGES[dtype].slice(0, n), 0);
    return out;
  }
  if (dtype === 'i64' || dtype === 'u64') {
    const out = allocate(dtype, n) as BigInt64Array;
    const v = uniform(n, seed ^ 0x1234567);
    for (let i = 0; i < n; i++) out[i] = (BigInt(Math.floor((u[i]! + 1) * 2 ** 31)) << 32n) | BigInt(Math.floor((v[i]! + 1) * 2 ** 31));
    BIG_EDGES.slice(0, n).forEach((b, i) => (out[i] = b));
    return out;
  }
  if (dtype === 'fp8e4m3' || dtype === 'fp8e5m2') {
    // Every bit pattern is a value (or NaN/Inf): random bytes cover them all.
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor((u[i]! + 1) * 128) & 0xff;
    return out;
  }
  // Spread over magnitudes so sums and products round, overflow and underflow.
  const values = Array.from(u, (x, i) => (x - 0.5) * 2 ** ((i % 40) - 20));
  SPECIAL.forEach((v, i) => {
    if (i * 7 < n) values[i * 7] = v;
  });
  if (dtype === 'f64') [1.7e308, -1.7e308, 5e-324, -5e-324, 2 ** 53 + 1].forEach((v, i) => {
      if (i * 11 + 3 < n) values[i * 11 + 3] = v;
    });
  return dtype === 'f32' ? Float32Array.from(values) : dtype === 'f64' ? Float64Array.from(values) : encode(dtype, values);
}

const bits = (a: ElementArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe(addon ? 'the native host reduction' : `the native host reduction (addon not built: ${'reason' in loaded ? loaded.reason : ''})`, () => {
  withAddon('is built and chosen unless GPUBENCH_JS_REDUCE=1', () => {
    expect(addon, 'reason' in loaded ? loaded.reason : '').toBeDefined();
    expect(typeof addon!.reduce).toBe('function');
    expect(hostReduction()).toBe(process.env.GPUBENCH_JS_REDUCE === '1' ? 'js' : 'native');
  });

  for (const dtype of COLLECTIVE_DTYPES)
    withAddon(`gives the JS loops' bits for ${dtype} with every op`, () => {
      const n = 10_007;
      for (const op of REDUCE_OPS) {
        const seed = freshSeed();
        const dst = randomArray(dtype, n, seed);
        const src = randomArray(dtype, n, seed + 1);
        const js = allocate(dtype, n);
        bits(js).set(bits(dst));
        reduceIntoJs(dtype, op, js, src);
        // Out of place (dst = a ⊕ src, a untouched), then in place.
        const out = allocate(dtype, n);
        const a = allocate(dtype, n);
        bits(a).set(bits(dst));
        addon!.reduce(dtype, op, out, src, a);
        expect(Buffer.compare(bits(out), bits(js)), `${dtype} ${op} out of place, seed ${seed}`).toBe(0);
        expect(Buffer.compare(bits(a), bits(dst)), `${dtype} ${op}: the input stays as it was`).toBe(0);
        // Into what arrived (dst is src: the ring's partial sums), then in place.
        const arrived = allocate(dtype, n);
        bits(arrived).set(bits(src));
        addon!.reduce(dtype, op, arrived, arrived, a);
        expect(Buffer.compare(bits(arrived), bits(js)), `${dtype} ${op} into src, seed ${seed}`).toBe(0);
        addon!.reduce(dtype, op, dst, src);
        expect(Buffer.compare(bits(dst), bits(js)), `${dtype} ${op} seed ${seed}`).toBe(0);
      }
    });

  for (const dtype of ['fp8e4m3', 'fp8e5m2'] as const)
    withAddon(`gives the JS loops' bits for every pair of ${dtype} patterns with every op`, () => {
      // 256 × 256 pairs: every value, ±0, NaN (and E5M2's ±Inf), saturating sums and products.
      const a = new Uint8Array(65536);
      const b = new Uint8Array(65536);
      for (let i = 0; i < 65536; i++) {
        a[i] = i >> 8;
        b[i] = i & 0xff;
      }
      for (const op of REDUCE_OPS) {
        const js = a.slice();
        reduceIntoJs(dtype, op, js, b);
        const out = new Uint8Array(65536);
        addon!.reduce(dtype, op, out, b, a);
        expect(Buffer.compare(out, js), `${dtype} ${op}`).toBe(0);
      }
    });

  withAddon('refuses mismatched lengths, overlap and unknown names with a clear error', () => {
    const a = new Float32Array(1024);
    expect(() => addon!.reduce('f32', 'sum', a, new Float32Array(1000))).toThrow(/4000 bytes into 4096/);
    expect(() => addon!.reduce('f32', 'sum', a.subarray(0, 512), a.subarray(256, 768))).toThrow(/overlap/);
    expect(() => addon!.reduce('f32', 'xor' as 'sum', a, new Float32Array(1024))).toThrow(/unknown op "xor"/);
    expect(() => addon!.reduce('f128' as 'f32', 'sum', a, new Float32Array(1024))).toThrow(/unknown dtype "f128"/);
  });

  it('reduceInto and reduceFrom give the same bits whichever path they take, at every length and dtype', () => {
    const copy = (dtype: CollectiveDtype, x: ElementArray) => {
      const y = allocate(dtype, x.length);
      bits(y).set(bits(x));
      return y;
    };
    for (const dtype of COLLECTIVE_DTYPES)
      for (const n of [1, 255, 256, 4099]) {
        const seed = freshSeed();
        const dst = randomArray(dtype, n, seed);
        const src = randomArray(dtype, n, seed + 1);
        const js = copy(dtype, dst);
        reduceIntoJs(dtype, 'sum', js, src);
        const out = allocate(dtype, n);
        reduceFrom(dtype, 'sum', out, dst, src);
        expect(Buffer.compare(bits(out), bits(js)), `reduceFrom ${dtype} n ${n}`).toBe(0);
        const arrived = copy(dtype, src);
        reduceFrom(dtype, 'sum', arrived, dst, arrived);
        expect(Buffer.compare(bits(arrived), bits(js)), `reduceFrom into src, ${dtype} n ${n}`).toBe(0);
        reduceInto(dtype, 'sum', dst, src);
        expect(Buffer.compare(bits(dst), bits(js)), `reduceInto ${dtype} n ${n}`).toBe(0);
      }
  });
});
