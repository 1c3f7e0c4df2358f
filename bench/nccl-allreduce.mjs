#!/usr/bin/env node
// NCCL all-reduce through gpubench's addon on every local GPU (one works too), checked and
// timed as nccl-tests does: algbw = bytes / t, busbw = algbw · 2(n−1)/n, t the slowest rank.
// Prints one JSON line per size. Needs `npm run build` and the addon (native/build).
//   node bench/nccl-allreduce.mjs [--dtype f32] [--op sum]
import { prepareAllReduce, NCCL_DTYPE_BYTES } from '../dist/kernels/cuda/nccl.js';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const dtype = arg('dtype', 'f32');
const op = arg('op', 'sum');
let failed = 0;
try {
for (const bytes of [1 << 20, 1 << 24, 1 << 28]) {
  const count = bytes / NCCL_DTYPE_BYTES[dtype];
  for (const inPlace of [false, true]) {
    const ar = await prepareAllReduce({ count, dtype, op, inPlace });
    try {
      const inputs = Array.from({ length: ar.ranks }, (_, r) => Float32Array.from({ length: count }, (_, i) => ((i * 7 + r * 3) % 17) - 8));
      inputs.forEach((d, r) => ar.upload(r, d));
      const outs = ar.runChecked();
      let wrong = 0;
      for (const out of outs) for (let i = 0; i < count; i += 101) if (out[i] !== inputs.reduce((s, d) => s + d[i], 0)) wrong++;
      await ar.time(5);
      const iters = bytes >= 1 << 28 ? 20 : 100;
      const ms = (await ar.time(iters)) / iters;
      const algbw = bytes / (ms / 1e3) / 1e9;
      const n = ar.ranks;
      if (wrong) failed++;
      console.log(JSON.stringify({ bytes, dtype, op, inPlace, ranks: n, ms, algbwGBps: algbw, busbwGBps: (algbw * 2 * (n - 1)) / n, wrong }));
    } finally {
      ar.dispose();
    }
  }
}
} catch (e) {
  console.error(`nccl-allreduce: ${e instanceof Error ? e.message : e}`);
  process.exit(2);
}
process.exit(failed ? 1 : 0);
