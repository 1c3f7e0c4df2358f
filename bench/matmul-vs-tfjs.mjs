#!/usr/bin/env node
// Benchmark, not a test: the autotuned tiled WGSL GEMM against tfjs-webgpu's tf.matMul at
// 1024^3 f32 on the same adapter, measured in the same run (interleaved rounds, so drift
// and other load hit both). Prints medians and the ratio; target >= 1.5x (aim 2x).
//   node bench/matmul-vs-tfjs.mjs [--rounds 3] [--size 1024]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const rounds = Number(arg('rounds', 3));
const size = arg('size', '1024');
const dir = mkdtempSync(join(tmpdir(), 'gpubench-bench-'));
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const h = (s.length - 1) / 2; return (s[Math.floor(h)] + s[Math.ceil(h)]) / 2; };

const per = { auto: [], naive: [], tfjs: [] };
let device = '';
let tile = '';
for (let r = 0; r < rounds; r++) {
  const json = join(dir, `round${r}.json`);
  const p = spawnSync(process.execPath, [join(root, 'dist/cli.js'), 'run', '--suite', join(root, 'bench/matmul-vs-tfjs.yaml'), '--sizes', size, '--json', json, '--reporter', 'silent'], { encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
  if (p.status !== 0) {
    console.error(p.stderr);
    process.exit(p.status ?? 3);
  }
  const res = JSON.parse(readFileSync(json, 'utf8'));
  for (const c of res.cases) {
    if (c.status !== 'ok') throw new Error(`${c.id}: ${c.status} ${c.reason}`);
    const key = c.backend === 'tfjs-webgpu' ? 'tfjs' : c.params.kernel === 'naive' ? 'naive' : 'auto';
    per[key].push(c.stats.medianMs);
    if (key === 'auto') { device = c.device; tile = c.impl?.kernel ?? ''; }
  }
}
const flops = 2 * Number(size) ** 3;
const row = (name, ms) => `${name.padEnd(28)} ${med(ms).toFixed(1).padStart(9)} ms  ${(flops / med(ms) / 1e6).toFixed(2).padStart(7)} GFLOP/s   rounds: ${ms.map((x) => x.toFixed(0)).join(', ')}`;
console.log(`matmul ${size}^3 f32 on ${device}, ${rounds} rounds (median of per-round medians, timestamp-query timing)`);
console.log(row(`webgpu tiled (${tile})`, per.auto));
console.log(row('webgpu naive', per.naive));
console.log(row('tfjs-webgpu tf.matMul', per.tfjs));
const ratio = med(per.tfjs) / med(per.auto);
console.log(`ratio tiled / tfjs-webgpu throughput: ${ratio.toFixed(2)}x (target >= 1.5x, aim 2x): ${ratio >= 1.5 ? 'MET' : 'NOT MET'}`);
