#!/usr/bin/env node
// Compares gpubench's cuda results with torch's medians from the same command:
//   node bench/cuda-vs-torch-compare.mjs torch.jsonl gpubench-1.json [gpubench-2.json ...]
// Prints a Markdown table (gpubench/torch ratio of median TFLOP/s, best round of each) and
// exits 1 when bf16 or f16 at 8192 falls below 0.95x (the bar).
import { readFileSync } from 'node:fs';

const [torchFile, ...runs] = process.argv.slice(2);
const torchDtype = { bf16: 'bf16', fp16: 'f16', tf32: 'tf32', fp32: 'f32', fp8: 'fp8' };
const torch = new Map();
let device = '';
for (const line of readFileSync(torchFile, 'utf8').split('\n').filter(Boolean)) {
  const j = JSON.parse(line);
  if (j.device) { device = `${j.device}, torch ${j.torch}`; continue; }
  const key = `${torchDtype[j.dtype]}/${j.m}`;
  torch.set(key, Math.max(torch.get(key) ?? 0, j.tflops));
}
const ours = new Map();
const notes = new Map();
for (const f of runs) {
  const res = JSON.parse(readFileSync(f, 'utf8'));
  for (const c of res.cases) {
    if (c.workload !== 'matmul') {
      if (c.metrics?.bandwidthGBps) notes.set(c.id, `${c.metrics.bandwidthGBps.toFixed(0)} GB/s copied (${(c.metrics.readWriteGBps ?? 2 * c.metrics.bandwidthGBps).toFixed(0)} GB/s read+write)`);
      continue;
    }
    const key = `${c.params.dtype}/${c.params.m}`;
    if (c.status !== 'ok') { notes.set(key, `${c.status}: ${c.reason}`); continue; }
    if ((c.metrics.tflops ?? 0) > (ours.get(key)?.tflops ?? 0)) ours.set(key, { tflops: c.metrics.tflops, watts: c.metrics.avgWatts, impl: c.impl });
  }
}
console.log(`## gpubench cuda vs torch.matmul (${device})\n`);
console.log('| case | gpubench TFLOP/s | torch TFLOP/s | ratio | avg W | cuBLASLt algo |');
console.log('|---|---:|---:|---:|---:|---|');
let bad = 0;
for (const key of new Set([...torch.keys(), ...ours.keys(), ...[...notes.keys()].filter((k) => !k.startsWith('memcpy'))])) {
  const o = ours.get(key);
  const t = torch.get(key);
  const ratio = o && t ? o.tflops / t : undefined;
  if ((key === 'bf16/8192' || key === 'f16/8192') && !(ratio >= 0.95)) bad++;
  const cfg = o?.impl?.config ? `id ${o.impl.config.algoId} tile ${o.impl.config.tile} stages ${o.impl.config.stages} splitK ${o.impl.config.splitK} (${o.impl.autotune?.candidates} timed)` : '';
  console.log(`| ${key} | ${o ? o.tflops.toFixed(1) : notes.get(key) ?? '-'} | ${t ? t.toFixed(1) : '-'} | ${ratio ? ratio.toFixed(3) : '-'} | ${o?.watts ? o.watts.toFixed(0) : '-'} | ${cfg} |`);
}
for (const [id, n] of notes) if (id.startsWith('memcpy')) console.log(`\n${id}: ${n}`);
process.exit(bad ? 1 : 0);
