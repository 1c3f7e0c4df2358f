#!/usr/bin/env node
// Benchmark, not a test: does `gpubench compare` hold run-to-run variance on this machine?
// Runs the same build many times on a small suite (bench/compare-aa.yaml: webgpu matmul on
// lavapipe, a 2-rank ws all-reduce with --local-nodes 2), alternating with runs of a plugin
// kernel that does 1.2x the work under the same case ids (test/fixtures/more-work.plugin.mjs):
//
//   N N N N | N S | N S | N S | ...        (R seed runs, then one normal and one slow per pair)
//
// A/A pair i: HEAD = the i-th normal run after the seed, baselines = the R normal runs just
// before it, as a CI job keeps the last R runs of main. Slowdown pair i: HEAD = the i-th slow
// run, baselines = the R normal runs just before it. Every comparison is the real CLI at its
// default settings (`gpubench compare B1 ... BR HEAD --format json`). Counts false alarms
// (target <= 1 of 20) and catches (target 20 of 20); the same A/A pairs against one baseline
// (the old two-file gate) for contrast.
//   node bench/compare-aa.mjs [--pairs 20] [--baselines 4] [--factor 1.2] [--nice N]
//                             [--repetitions N] [--budget-min 11] [--keep DIR] [--reuse DIR]
// --repetitions N measures each case in N interleaved rounds (`gpubench run --repetitions`).
// --nice N runs the measured processes at nice N (negative needs root): on a host shared with
// other jobs the load they bring is the noise. --reuse DIR re-judges the runs kept in DIR.
import { readdirSync, rmSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { argOf, compare as gate, load, matmul, med, run as runSuite, settings } from './gate-bench.mjs';

const s = settings('gpubench-compare-aa-');
const { pairs, factor, nice, repetitions, budgetMs, reuse, keep, dir } = s;
const R = Number(argOf('baselines', '4'));
const t0 = Date.now();
const run = (name, slow) => runSuite(s, name, slow);
const compare = (bases, head) => gate(...bases, head);

// Measure: R seed runs, then pairs of (normal, slow), within the time budget.
const normal = [];
const slow = [];
if (reuse) {
  const names = readdirSync(dir).filter((n) => /^[ns]\d+\.json$/.test(n)).sort((a, b) => Number(a.slice(1, -5)) - Number(b.slice(1, -5)));
  for (const n of names) (n[0] === 'n' ? normal : slow).push({ path: join(dir, n), seq: Number(n.slice(1, -5)) });
} else {
  process.stdout.write(`gpubench compare A/A: ${hostname()}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${new Date().toISOString()}, load ${load()}${nice !== undefined ? `, nice ${nice}` : ''}${repetitions ? `, ${repetitions} repetitions` : ''}\n`);
  let seq = 0;
  const measure = (slowRun) => {
    const name = `${slowRun ? 's' : 'n'}${seq}`;
    const path = run(name, slowRun);
    if (path) (slowRun ? slow : normal).push({ path, seq });
    seq++;
  };
  for (let i = 0; i < R; i++) measure(false);
  for (let i = 0; i < pairs && Date.now() - t0 < budgetMs; i++) {
    measure(false);
    measure(true);
    process.stdout.write(`  pair ${i + 1}/${pairs}: ${((Date.now() - t0) / 1000).toFixed(0)} s, load ${load()}\n`);
  }
}

const aa = [];
const aaOne = [];
const caught = [];
const slowdowns = [];
const floors = new Map();
for (const h of normal.slice(R)) {
  const bases = normal.filter((b) => b.seq < h.seq).slice(-R).map((b) => b.path);
  if (bases.length < R) continue;
  const { code, report } = compare(bases, h.path);
  aa.push({ head: h.path, code, regressed: report.cases.filter((c) => c.verdict === 'regressed').map((c) => `${c.id} ${((c.ratio - 1) * 100).toFixed(0)}%`) });
  for (const c of report.cases) if (c.noise) (floors.get(c.id) ?? floors.set(c.id, []).get(c.id)).push(c.noise.floor);
  const one = compare([bases[bases.length - 1]], h.path);
  aaOne.push({ code: one.code, regressed: one.report.counts.regressed });
}
for (const h of slow) {
  const bases = normal.filter((b) => b.seq < h.seq).slice(-R).map((b) => b.path);
  if (bases.length < R) continue;
  const { code, report } = compare(bases, h.path);
  const mm = report.cases.filter(matmul);
  caught.push({ head: h.path, code, matmulRegressed: mm.filter((c) => c.verdict === 'regressed').length, verdicts: mm.map((c) => `${c.id.split('/')[3]} ${c.verdict} ${((c.ratio - 1) * 100).toFixed(0)}% (floor ${((c.noise?.floor ?? 0) * 100).toFixed(0)}%)`) });
  for (const c of mm) slowdowns.push(c.ratio);
}

const falseAlarms = aa.filter((p) => p.code === 1);
const hits = caught.filter((p) => p.code === 1 && p.matmulRegressed > 0);
process.stdout.write(`\nruns kept in ${dir}: ${normal.length} normal, ${slow.length} with ${factor}x the matmul work; ${((Date.now() - t0) / 1000).toFixed(0)} s, load now ${load()}\n`);
process.stdout.write(`A/A, ${R} baselines each, default settings: ${falseAlarms.length} false alarm(s) in ${aa.length} pairs (target <= 1 of 20)\n`);
for (const p of falseAlarms) process.stdout.write(`  false alarm: ${p.head}: ${p.regressed.join(', ')}\n`);
process.stdout.write(`A/A, 1 baseline (the old two-file gate), same pairs: ${aaOne.filter((p) => p.code === 1).length} false alarm(s) in ${aaOne.length}\n`);
process.stdout.write(`${factor}x matmul work, ${R} baselines: caught ${hits.length} of ${caught.length} (target 20 of 20); measured matmul slowdown: median ${((med(slowdowns) - 1) * 100).toFixed(1)}% over ${slowdowns.length} case comparisons\n`);
for (const p of caught) process.stdout.write(`  ${p.code === 1 && p.matmulRegressed > 0 ? 'caught' : 'MISSED'}: ${p.verdicts.join('; ')}\n`);
process.stdout.write('noise floor per case (median over the A/A pairs):\n');
for (const [id, fs] of floors) process.stdout.write(`  ${id}: ±${(med(fs) * 100).toFixed(1)}%\n`);
if (!reuse && !keep) rmSync(dir, { recursive: true, force: true });
