/**
 * The addon's host reduction gives the collectives' JS loops' bits exactly, for every
 * dtype and op, on fresh random data salted with the awkward values (±0, ±Inf, NaN,
 * subnormals, the largest finite values): ranks on hosts with and without the addon
 * must end with identical buffers.
 */
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../src/kernels/cuda/addon.js';
import { COLLECTIVE_DTYPES, allocate, encode, type CollectiveDtype, type ElementArray } from '../src/collectives/dtypes.js';
import { REDUCE_OPS, reduceFrom, reduceInto, reduceIntoJs } from '../src/collectives/ops.js';
import { hostReduction } from '../src/collectives/native-reduce.js';
import { freshSeed, uniform } from '../src/harness/random.js';

const loaded = loadAddon();
const addon = 'addon' in loaded ? loaded.addon : undefined;
/** CI builds the addon in `npm ci`; only GPUBENCH_SKIP_NATIVE=1 excuses its absence. */
const withAddon = addon || process.env.GPUBENCH_SKIP_NATIVE !== '1' ? it : it.skip;

const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 6e-8, 65504, -65504, 3.4e38, -3.4e38, 1, -1, 2 ** 24 + 1];

function randomArray(dtype: CollectiveDtype, n: number, seed: number): ElementArray {
  const u = uniform(n, seed);
  if (dtype === 'i32') {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor((u[i]! - 0.5) * 2 ** 32) | 0;
    out.set([0, -1, 2 ** 31 - 1, -(2 ** 31), 1, 65536].slice(0, n), 0);
    return out;
  }
  // Spread over magnitudes so sums and products round, overflow and underflow.
  const values = Array.from(u, (x, i) => (x - 0.5) * 2 ** ((i % 40) - 20));
  SPECIAL.forEach((v, i) => {
    if (i * 7 < n) values[i * 7] = v;
  });
  return dtype === 'f32' ? Float32Array.from(values) : encode(dtype, values);
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
        js.set(dst);
        reduceIntoJs(dtype, op, js, src);
        // Out of place (dst = a ⊕ src, a untouched), then in place.
        const out = allocate(dtype, n);
        const a = allocate(dtype, n);
        a.set(dst);
        addon!.reduce(dtype, op, out, src, a);
        expect(Buffer.compare(bits(out), bits(js)), `${dtype} ${op} out of place, seed ${seed}`).toBe(0);
        expect(Buffer.compare(bits(a), bits(dst)), `${dtype} ${op}: the input stays as it was`).toBe(0);
        // Into what arrived (dst is src: the ring's partial sums), then in place.
        const arrived = allocate(dtype, n);
        arrived.set(src);
        addon!.reduce(dtype, op, arrived, arrived, a);
        expect(Buffer.compare(bits(arrived), bits(js)), `${dtype} ${op} into src, seed ${seed}`).toBe(0);
        addon!.reduce(dtype, op, dst, src);
        expect(Buffer.compare(bits(dst), bits(js)), `${dtype} ${op} seed ${seed}`).toBe(0);
      }
    });

  withAddon('refuses mismatched lengths, overlap and unknown names with a clear error', () => {
    const a = new Float32Array(1024);
    expect(() => addon!.reduce('f32', 'sum', a, new Float32Array(1000))).toThrow(/4000 bytes into 4096/);
    expect(() => addon!.reduce('f32', 'sum', a.subarray(0, 512), a.subarray(256, 768))).toThrow(/overlap/);
    expect(() => addon!.reduce('f32', 'xor' as 'sum', a, new Float32Array(1024))).toThrow(/unknown op "xor"/);
    expect(() => addon!.reduce('f64' as 'f32', 'sum', a, new Float32Array(1024))).toThrow(/unknown dtype "f64"/);
  });

  it('reduceInto and reduceFrom give the same bits whichever path they take, at every length', () => {
    for (const n of [1, 255, 256, 4099]) {
      const seed = freshSeed();
      const dst = randomArray('f32', n, seed);
      const src = randomArray('f32', n, seed + 1);
      const js = Float32Array.from(dst);
      reduceIntoJs('f32', 'sum', js, src);
      const out = new Float32Array(n).fill(NaN);
      reduceFrom('f32', 'sum', out, dst, src);
      expect(Buffer.compare(bits(out), bits(js)), `reduceFrom n ${n}`).toBe(0);
      const arrived = Float32Array.from(src);
      reduceFrom('f32', 'sum', arrived, dst, arrived);
      expect(Buffer.compare(bits(arrived), bits(js)), `reduceFrom into src, n ${n}`).toBe(0);
      reduceInto('f32', 'sum', dst, src);
      expect(Buffer.compare(bits(dst), bits(js)), `reduceInto n ${n}`).toBe(0);
    }
  });
});
