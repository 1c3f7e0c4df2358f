#!/usr/bin/env node
// Benchmark, not a test: does the paired gate (`gpubench compare --paired`) hold a host whose
// speed moves, and see a 20% slowdown through it? The same small suite as
// bench/compare-aa.mjs (bench/compare-aa.yaml), in triples of runs taken back to back:
//
//   A B S | S B A | A B S | S B A | ...     (A, B: the build; S: 1.2x the matmul work)
//
// the order reversed every other triple, so that neither side of a pair always runs first
// (Abedi & Brecht's randomized multiple interleaved trials, here alternated). Comparison k
// takes the N triples from the k-th: A/A is `compare --paired A B A B ...` (the same build on
// both sides), the slowdown `compare --paired B S B S ...`, each through the real CLI at its
// defaults. Counts false alarms (target <= 1 of 20) and catches (target 20 of 20).
// Consecutive comparisons share N - 1 triples, as consecutive CI jobs would share a runner's
// moods; the non-overlapping ones are counted too.
//   node bench/compare-paired.mjs [--pairs 20] [--window 5] [--factor 1.2] [--nice N]
//                                 [--repetitions N] [--budget-min 15] [--keep DIR] [--reuse DIR]
import { existsSync, rmSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { argOf, compare, load, matmul, med, run, settings } from './gate-bench.mjs';

const s = settings('gpubench-compare-paired-');
if (argOf('budget-min', undefined) === undefined) s.budgetMs = 15 * 60_000;
const N = Number(argOf('window', '5'));
const t0 = Date.now();

// Measure: triples until there are `pairs` windows of N, within the time budget.
const triples = [];
if (s.reuse) {
  for (let j = 0; existsSync(join(s.dir, `a${j}.json`)) && existsSync(join(s.dir, `b${j}.json`)) && existsSync(join(s.dir, `s${j}.json`)); j++)
    triples.push({ a: join(s.dir, `a${j}.json`), b: join(s.dir, `b${j}.json`), s: join(s.dir, `s${j}.json`) });
} else {
  process.stdout.write(`gpubench compare --paired: ${hostname()}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${new Date().toISOString()}, load ${load()}${s.nice !== undefined ? `, nice ${s.nice}` : ''}${s.repetitions ? `, ${s.repetitions} repetitions` : ''}\n`);
  for (let j = 0; j < s.pairs + N - 1 && Date.now() - t0 < s.budgetMs; j++) {
    const order = j % 2 === 0 ? ['a', 'b', 's'] : ['s', 'b', 'a'];
    const t = {};
    for (const x of order) t[x] = run(s, `${x}${j}`, x === 's');
    if (t.a && t.b && t.s) triples.push(t);
    process.stdout.write(`  triple ${j + 1}/${s.pairs + N - 1}: ${((Date.now() - t0) / 1000).toFixed(0)} s, load ${load()}\n`);
  }
}

process.stdout.write(`\nruns kept in ${s.dir}: ${triples.length} triples (A, B, ${s.factor}x S); ${((Date.now() - t0) / 1000).toFixed(0)} s, load now ${load()}\n`);
// The same runs judged by each statistic a run can stand for (compare --statistic).
for (const statistic of ['median', 'min']) {
  const aa = [];
  const caught = [];
  const slowdowns = [];
  for (let k = 0; k + N <= triples.length; k++) {
    const w = triples.slice(k, k + N);
    const same = compare('--paired', '--statistic', statistic, ...w.flatMap((t) => [t.a, t.b]));
    aa.push({ k, code: same.report.failed ? 1 : same.code, regressed: same.report.cases.filter((c) => c.verdict === 'regressed').map((c) => `${c.id} ${((c.ratio - 1) * 100).toFixed(0)}% (p ${c.pValue?.toPrecision(2)})`) });
    const slow = compare('--paired', '--statistic', statistic, ...w.flatMap((t) => [t.b, t.s]));
    const mm = slow.report.cases.filter(matmul);
    caught.push({ k, hit: slow.code === 1 && mm.some((c) => c.verdict === 'regressed'), verdicts: mm.map((c) => `${c.id.split('/')[3]} ${c.verdict} ${((c.ratio - 1) * 100).toFixed(0)}% [${((c.ci[0] - 1) * 100).toFixed(0)}…${((c.ci[1] - 1) * 100).toFixed(0)}%] p ${c.pValue?.toPrecision(2)}`) });
    if (k % N === 0) for (const c of mm) slowdowns.push(...c.pairs.ratios);
  }
  const falseAlarms = aa.filter((p) => p.code === 1);
  const hits = caught.filter((p) => p.hit);
  const apart = (xs) => xs.filter((p) => p.k % N === 0);
  process.stdout.write(`\n--statistic ${statistic}\n`);
  process.stdout.write(`A/A, ${N} pairs each, default threshold: ${falseAlarms.length} false alarm(s) in ${aa.length} comparisons (target <= 1 of 20); non-overlapping: ${apart(falseAlarms).length} of ${apart(aa).length}\n`);
  for (const p of falseAlarms) process.stdout.write(`  false alarm at triple ${p.k}: ${p.regressed.join(', ')}\n`);
  process.stdout.write(`${s.factor}x matmul work, ${N} pairs each: caught ${hits.length} of ${caught.length} (target 20 of 20); non-overlapping: ${apart(hits).length} of ${apart(caught).length}; measured matmul slowdown per pair (non-overlapping windows): median ${((med(slowdowns) - 1) * 100).toFixed(1)}% over ${slowdowns.length}\n`);
  for (const p of caught) process.stdout.write(`  ${p.hit ? 'caught' : 'MISSED'} at triple ${p.k}: ${p.verdicts.join('; ')}\n`);
}
if (!s.reuse && !s.keep) rmSync(s.dir, { recursive: true, force: true });
