#!/usr/bin/env node
// Host-side micro-benchmark (benchmark.js): what the float64 correctness check costs per
// case at a few sizes. It is why problems above FULL_CHECK_FMAS multiply-adds are checked
// on sampled rows: the check must stay a small fraction of a case's time.
//   node bench/reference-check.bench.mjs
import Benchmark from 'benchmark';
import { checkGemm, tolerance, FULL_CHECK_FMAS } from '../dist/kernels/matmul/reference.js';
import { uniform } from '../dist/harness/random.js';

const suite = new Benchmark.Suite('float64 matmul check');
for (const s of [128, 256, 512, 2048]) {
  const d = { m: s, n: s, k: s, batch: 1 };
  const a = uniform(s * s, 1);
  const b = uniform(s * s, 2);
  const out = new Float32Array(s * s); // values do not matter for the cost
  suite.add(`check ${s}^3${s ** 3 > FULL_CHECK_FMAS ? ' (sampled rows)' : ' (full)'}`, () => {
    checkGemm(a, b, d, out, tolerance('f32', s), 3);
  });
}
suite
  .on('cycle', (ev) => {
    const t = ev.target;
    console.log(`${t.name.padEnd(28)} ${(t.stats.mean * 1e3).toFixed(1).padStart(8)} ms ±${t.stats.rme.toFixed(1)}%  (${t.stats.sample.length} runs)`);
  })
  .run();
