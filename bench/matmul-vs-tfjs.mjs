#!/usr/bin/env node
// Benchmark, not a test: the autotuned tiled WGSL GEMM against tfjs-webgpu's tf.matMul at
// 1024^3 f32 on the same adapter, in one process. Both are checked against the float64
// reference first, warmed up, then timed alternately sample by sample (A B B A A B ...)
// so that whatever else the machine is doing hits both alike: on a shared 2-core machine
// lavapipe's times swing 2-3x over minutes, and back-to-back case runs would compare
// different loads. Reports per-kernel medians, the ratio of medians and the spread of
// the per-pair ratios. Target: tiled >= 1.5x tfjs-webgpu's throughput (aim 2x).
//   node bench/matmul-vs-tfjs.mjs [--size 1024] [--pairs 15] [--naive 3]
import { loadavg } from 'node:os';
import '../dist/kernels/index.js';
import { disposeBackends, getKernel, probeBackend } from '../dist/harness/registry.js';
import { matmulWorkload } from '../dist/kernels/matmul/workload.js';
import { freshSeed } from '../dist/harness/random.js';
import { percentile } from '../dist/harness/stats.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const n = arg('size', 1024);
const pairs = arg('pairs', 15);
const naiveSamples = arg('naive', 3);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const med = (xs) => percentile(sorted(xs), 0.5);

async function prepare(backend, kernel) {
  const probe = await probeBackend(backend);
  if (!probe.available) throw new Error(`${backend}: ${probe.reason}`);
  const p = { m: n, n, k: n, batch: 1, dtype: 'f32', kernel };
  const data = matmulWorkload.makeData(p, freshSeed());
  const c = await getKernel('matmul', backend).setup(p, data);
  const check = matmulWorkload.check(p, data, await c.runChecked());
  if (!check.passed) throw new Error(`${backend}/${kernel}: wrong result ${JSON.stringify(check)}`);
  if (c.fallbackReason?.()) throw new Error(`${backend}: ${c.fallbackReason()}`);
  for (let i = 0; i < 2; i++) await c.time(1); // warm-up
  return { name: `${backend} ${kernel === 'auto' ? (c.impl?.kernel ?? 'auto') : kernel}`, c, ms: [] };
}

console.log(`load average before: ${load()}`);
const tiled = await prepare('webgpu', 'auto');
const tfjs = await prepare('tfjs-webgpu', 'auto');
const device = tiled.c.device;
for (let i = 0; i < pairs; i++) {
  // ABBA order: neither kernel always runs first after the other.
  const order = i % 2 === 0 ? [tiled, tfjs] : [tfjs, tiled];
  for (const k of order) k.ms.push(await k.c.time(1));
}
const naive = naiveSamples > 0 ? await prepare('webgpu', 'naive') : undefined;
if (naive) for (let i = 0; i < naiveSamples; i++) naive.ms.push(await naive.c.time(1));
for (const k of [tiled, tfjs, naive]) await k?.c.dispose();
await disposeBackends();

const flops = 2 * n ** 3;
const row = (k) => {
  const s = sorted(k.ms);
  return `${k.name.padEnd(40)} median ${med(k.ms).toFixed(1).padStart(8)} ms  p10-p90 ${percentile(s, 0.1).toFixed(0)}-${percentile(s, 0.9).toFixed(0)} ms  ${(flops / med(k.ms) / 1e6).toFixed(2).padStart(6)} GFLOP/s  (${k.ms.length} samples)`;
};
console.log(`matmul ${n}^3 f32 on ${device}; ${pairs} alternating pairs, timestamp-query timing`);
for (const k of [tiled, tfjs, naive]) if (k) console.log(row(k));
const pairRatios = sorted(tiled.ms.map((t, i) => tfjs.ms[i] / t));
const ratio = med(tfjs.ms) / med(tiled.ms);
console.log(`ratio tiled / tfjs-webgpu throughput: ${ratio.toFixed(2)}x (per-pair ratios: median ${percentile(pairRatios, 0.5).toFixed(2)}x, p10-p90 ${percentile(pairRatios, 0.1).toFixed(2)}-${percentile(pairRatios, 0.9).toFixed(2)}x); target >= 1.5x, aim 2x: ${ratio >= 1.5 ? 'MET' : 'NOT MET'}`);
console.log(`load average after: ${load()}`);
