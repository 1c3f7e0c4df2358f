/**
 * The paired gate (`gpubench compare --paired BASE1 HEAD1 BASE2 HEAD2 …`): the paired t on
 * log ratios (its p at a known quantile), runs whose host speed moves between pairs (the
 * stored-baseline gate misses a 20% slowdown there or cries wolf; the paired gate neither),
 * a wrong HEAD run failing the gate, refusals, `--statistic min` (through delays that only
 * add time, and blind to a stall in some calls), and the CLI's exit codes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/harness/errors.js';
import type { CaseResult, ResultsFile } from '../src/harness/results/schema.js';
import { summarize } from '../src/reporters/cases.js';
import { compareRuns, type CompareReport } from '../src/reporters/compare/compare.js';
import { comparePaired, pairedLogT } from '../src/reporters/compare/paired.js';
import { mulberry32 } from '../src/reporters/compare/stats.js';
import { allreduceCase, matmulCase, resultsFile, samples } from './fixtures/results.js';
import { captureMain } from './helpers/main-capture.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/**
 * One run of a matmul and an all-reduce case on a host running at `host` times its normal
 * speed, with run-to-run scatter `between` besides, matmul `slow` times the work.
 */
function run(seed: number, host: number, slow = 1, between = 0.02, id = `run-${seed}`): ResultsFile {
  const rand = mulberry32(seed);
  const mm = matmulCase('webgpu', 'f32', 1024, 4, { seed });
  const ar = allreduceCase('ws', 'ring', 1 << 20, 2, { ranks: 2, seed: seed + 1 });
  const cases = [mm, ar].map((c, i): CaseResult => {
    const s = samples(c.stats!.medianMs * host * Math.exp(between * gauss(rand)) * (i === 0 ? slow : 1), 0.01, 20, seed * 7 + i, false);
    return { ...c, samplesMs: s, stats: summarize(s) };
  });
  return resultsFile(cases, id);
}

/** n pairs taken on a host whose speed moves between pairs by exp(drift · N(0,1)). */
function pairs(seed: number, n: number, drift: number, slow = 1): [ResultsFile, ResultsFile][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const host = Math.exp(drift * gauss(rand));
    return [run(seed * 100 + 2 * i, host), run(seed * 100 + 2 * i + 1, host, slow)];
  });
}

describe('paired t on log ratios', () => {
  it('p is 0.05 at t(0.975, 4) and the interval is the t interval', () => {
    // Five log ratios with sample sd 0.05 and mean t(0.975, 4) · 0.05 / √5.
    const t975 = 2.7764451051977987; // scipy.stats.t.ppf(0.975, 4)
    const mean = (t975 * 0.05) / Math.sqrt(5);
    const z = [-Math.sqrt(1.6), -Math.sqrt(0.4), 0, Math.sqrt(0.4), Math.sqrt(1.6)];
    const r = pairedLogT(z.map((x) => Math.exp(mean + 0.05 * x)));
    expect(r.p).toBeCloseTo(0.05, 8);
    expect(r.ratio).toBeCloseTo(Math.exp(mean), 12);
    // At p = 0.05 the 95% interval just touches "no change".
    expect(r.lo).toBeCloseTo(1, 8);
    expect(r.hi).toBeCloseTo(Math.exp(2 * mean), 8);
    expect(pairedLogT([1.1, 1.1, 1.1]).p).toBe(0);
    expect(pairedLogT([1, 1, 1]).p).toBe(1);
  });
});

describe('a host whose speed moves between runs', () => {
  it('the paired gate holds identical builds and catches 1.2x where stored baselines cannot', () => {
    let pairedFa = 0;
    let pairedCaught = 0;
    let storedFa = 0;
    let storedCaught = 0;
    const seen: string[] = [];
    for (let s = 1; s <= 40; s++) {
      // Host speed ±25% (1 sd) from one pair to the next, ±2% between the runs of a pair.
      const same = comparePaired(pairs(s, 5, 0.25));
      if (same.failed) pairedFa++;
      const slow = comparePaired(pairs(s + 1000, 5, 0.25, 1.2));
      const mm = slow.cases.find((c) => c.workload === 'matmul')!;
      if (mm.verdict === 'regressed' && slow.failed) pairedCaught++;
      else seen.push(`${s}: ${mm.verdict} ${mm.ratio?.toFixed(3)} p ${mm.pValue}`);
      expect(mm.pairs!.n).toBe(5);
      // The unpaired gate on the same kind of host: eight stored baselines, one HEAD run.
      const host = mulberry32(s + 5000);
      const bases = Array.from({ length: 8 }, (_, i) => run(s * 100 + 50 + i, Math.exp(0.25 * gauss(host))));
      if (compareRuns(bases, run(s * 100 + 70, Math.exp(0.25 * gauss(host)))).failed) storedFa++;
      if (compareRuns(bases, run(s * 100 + 80, Math.exp(0.25 * gauss(host)), 1.2)).failed) storedCaught++;
    }
    expect(pairedFa).toBeLessThanOrEqual(1);
    expect(pairedCaught, seen.join('\n')).toBe(40);
    // What the stored baselines see of the same slowdown through ±25% host swings: little.
    expect(storedCaught).toBeLessThan(20);
    expect(storedFa).toBeLessThanOrEqual(2);
  });

  it('a wrong result in any HEAD run fails the gate; a case in BASE only is missing, in HEAD only new', () => {
    const ps = pairs(7, 5, 0.05);
    const h = ps[2]![1];
    h.cases[1] = { ...h.cases[1]!, status: 'failed', check: { passed: false, maxRelError: 0.5, tolerance: 1e-5, wrong: 3, checked: 100 }, reason: 'wrong result' };
    const r = comparePaired(ps);
    expect(r.failed).toBe(true);
    const ar = r.cases.find((c) => c.workload === 'allreduce')!;
    expect(ar.verdict).toBe('failed');
    expect(ar.note).toMatch(/wrong result in HEAD run 3/);
    const extra = pairs(8, 5, 0.05);
    for (const [b] of extra) b.cases = b.cases.slice(0, 1);
    const r2 = comparePaired(extra);
    expect(r2.cases.find((c) => c.workload === 'allreduce')!.verdict).toBe('new');
    const fewer = pairs(9, 5, 0.05);
    for (const [, hh] of fewer) hh.cases = hh.cases.slice(0, 1);
    expect(comparePaired(fewer).cases.find((c) => c.workload === 'allreduce')!.verdict).toBe('missing');
  });

  it('refuses fewer than two pairs and pairs from different machines; warns below five pairs', () => {
    expect(() => comparePaired(pairs(1, 1, 0))).toThrow(UsageError);
    const ps = pairs(2, 3, 0.02);
    expect(comparePaired(ps).warnings.join()).toMatch(/3 pairs: the paired t interval is wide/);
    ps[1]![1].devices = ps[1]![1].devices.map((d) => (d.backend === 'webgpu' ? { ...d, driver: 'Vulkan 1.3 / 575.51.03' } : d));
    expect(() => comparePaired(ps)).toThrow(/pair 2: .* ran on different machines or stacks: webgpu driver/);
    expect(comparePaired(ps, { allowMismatch: true }).warnings.join()).toMatch(/compared anyway/);
  });
});

/**
 * A run on a host whose noise only adds time: each sample is the case's time (1% jitter),
 * and in a run the host hits (`hitP`), 60% of the samples are delayed 1.3-1.7x. `partly`
 * slows 60% of the calls by that factor instead of all of them (a stall in some calls).
 */
function delayedRun(seed: number, slow = 1, partly = false, hitP = 0.5): ResultsFile {
  const rand = mulberry32(seed);
  const hit = rand() < hitP;
  const delay = 1.3 + 0.4 * rand();
  const mm = matmulCase('webgpu', 'f32', 1024, 4, { seed });
  const s = Array.from({ length: 20 }, () => {
    const t = mm.stats!.medianMs * (1 + 0.01 * gauss(rand));
    const work = partly ? (rand() < 0.6 ? slow : 1) : slow;
    return t * work * (hit && rand() < 0.6 ? delay : 1);
  });
  return resultsFile([{ ...mm, samplesMs: s, stats: summarize(s) }], `run-${seed}`);
}

describe('--statistic min (each run by its fastest sample)', () => {
  const delayedPairs = (seed: number, slow: number, partly = false) =>
    Array.from({ length: 5 }, (_, i) => [delayedRun(seed * 100 + 2 * i), delayedRun(seed * 100 + 2 * i + 1, slow, partly)] as [ResultsFile, ResultsFile]);

  it('holds identical builds and catches 1.2x through delays that only add time, which the medians let through', () => {
    const count = { minFa: 0, minCaught: 0, medianCaught: 0 };
    for (let s = 1; s <= 20; s++) {
      if (comparePaired(delayedPairs(s, 1), { statistic: 'min' }).failed) count.minFa++;
      const slow = delayedPairs(s + 500, 1.2);
      const byMin = comparePaired(slow, { statistic: 'min' });
      if (byMin.failed) count.minCaught++;
      if (comparePaired(slow).failed) count.medianCaught++;
      expect(byMin.statistic).toBe('min');
      const mm = byMin.cases[0]!;
      expect(mm.base!.minMs).toBeLessThan(mm.base!.medianMs);
      expect(mm.ratio).toBeCloseTo(mm.head!.minMs! / mm.base!.minMs!, 1);
    }
    expect(count.minFa, JSON.stringify(count)).toBeLessThanOrEqual(1);
    expect(count.minCaught, JSON.stringify(count)).toBe(20);
    expect(count.medianCaught, JSON.stringify(count)).toBeLessThan(20);
  });

  it('is blind to a change that slows only some calls, which the median sees', () => {
    const ps = Array.from({ length: 5 }, (_, i) => [delayedRun(900 + 2 * i, 1, false, 0), delayedRun(901 + 2 * i, 1.5, true, 0)] as [ResultsFile, ResultsFile]);
    expect(comparePaired(ps).cases[0]!.verdict).toBe('regressed');
    expect(comparePaired(ps, { statistic: 'min' }).cases[0]!.verdict).not.toBe('regressed');
  });

  /** `f` with every sample of its one case `factor` times slower: a run the host slowed from end to end. */
  const slowedThrough = (f: ResultsFile, factor: number): ResultsFile => {
    const c = f.cases[0]!;
    const s = c.samplesMs.map((x) => x * factor);
    return { ...f, cases: [{ ...c, samplesMs: s, stats: summarize(s) }] };
  };
  const cleanPairs = (seed: number, slow: number) =>
    Array.from({ length: 5 }, (_, i) => [delayedRun(seed + 2 * i, 1, false, 0), delayedRun(seed + 2 * i + 1, slow, false, 0)] as [ResultsFile, ResultsFile]);

  it('leaves out a pair one of whose runs the host slowed from end to end, and says so; medians keep every pair', () => {
    const ps = cleanPairs(300, 1.2);
    ps[2] = [slowedThrough(ps[2]![0], 1.8), ps[2]![1]];
    const byMin = comparePaired(ps, { statistic: 'min' }).cases[0]!;
    expect(byMin.verdict).toBe('regressed');
    expect(byMin.pairs).toMatchObject({ n: 4, leftOut: [2] });
    expect(byMin.pairs!.ratios).toHaveLength(5);
    expect(byMin.note).toMatch(/pair 3 \(ratio 0\.6\d+, z \d+\.\d\) left out as an outlier: one of its runs was slow from end to end/);
    expect(byMin.ratio).toBeCloseTo(1.2, 1);
    const byMedian = comparePaired(ps).cases[0]!;
    expect(byMedian.pairs!.n).toBe(5);
    expect(byMedian.pairs!.leftOut).toBeUndefined();
    expect(byMedian.verdict).not.toBe('regressed');
    // The same build on both sides with such a run among them: no alarm either way.
    const same = cleanPairs(400, 1);
    same[4] = [same[4]![0], slowedThrough(same[4]![1], 1.8)];
    expect(comparePaired(same, { statistic: 'min' }).failed).toBe(false);
  });

  it('keeps two pairs off on the same side (a second mode, not a burst) and never more than one in five', () => {
    const ps = cleanPairs(500, 1);
    ps[1] = [ps[1]![0], slowedThrough(ps[1]![1], 1.8)];
    ps[3] = [ps[3]![0], slowedThrough(ps[3]![1], 1.7)];
    const c = comparePaired(ps, { statistic: 'min' }).cases[0]!;
    expect(c.pairs!.leftOut).toBeUndefined();
    expect(c.pairs!.n).toBe(5);
    const four = cleanPairs(600, 1).slice(0, 4);
    four[0] = [slowedThrough(four[0]![0], 1.8), four[0]![1]];
    expect(comparePaired(four, { statistic: 'min' }).cases[0]!.pairs!.leftOut).toBeUndefined();
  });

  it('judges paired runs only: the stored-baseline gate refuses it', () => {
    expect(() => compareRuns([delayedRun(1), delayedRun(2)], delayedRun(3), { statistic: 'min' })).toThrow(/--statistic min judges paired runs only/);
    expect(compareRuns([delayedRun(1), delayedRun(2)], delayedRun(3)).statistic).toBe('median');
  });
});

describe('gpubench compare --paired (CLI)', () => {
  it('exit 0 for the same build, 1 for a slower one, 2 for an odd count or with --baseline-dir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpubench-paired-'));
    dirs.push(dir);
    const write = async (name: string, f: ResultsFile) => {
      const p = join(dir, name);
      await writeFile(p, JSON.stringify(f));
      return p;
    };
    const files = async (tag: string, ps: [ResultsFile, ResultsFile][]) =>
      (await Promise.all(ps.map(async ([b, h], i) => [await write(`${tag}-base-${i}.json`, b), await write(`${tag}-head-${i}.json`, h)]))).flat();
    const same = await files('aa', pairs(11, 5, 0.2));
    let r = await captureMain('compare', '--paired', ...same);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/5 pairs of BASE and HEAD runs taken alternately/);
    expect(r.out).toMatch(/paired t α 0\.05/);
    const slow = await files('slow', pairs(12, 5, 0.2, 1.3));
    r = await captureMain('compare', '--paired', ...slow, '--format', 'json');
    expect(r.code, r.err).toBe(1);
    const report = JSON.parse(r.out) as CompareReport;
    expect(report.heads).toHaveLength(5);
    const mm = report.cases.find((c) => c.workload === 'matmul')!;
    expect(mm.verdict).toBe('regressed');
    expect(mm.ratio).toBeGreaterThan(1.2);
    expect(mm.pairs!.ratios).toHaveLength(5);
    r = await captureMain('compare', '--paired', ...same.slice(1));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--paired takes pairs BASE1 HEAD1 BASE2 HEAD2 …; got 9 files, an odd number/);
    r = await captureMain('compare', '--paired', '--baseline-dir', dir, same[1]!);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--paired takes its runs as arguments/);
    r = await captureMain('compare', '--paired', '--statistic', 'min', ...slow);
    expect(r.code, r.err).toBe(1);
    expect(r.out).toMatch(/\| base min ms \| head min ms \|/);
    expect(r.out).toMatch(/ratios of fastest samples/);
    r = await captureMain('compare', '--statistic', 'min', ...same.slice(0, 3));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--statistic min judges paired runs only/);
    r = await captureMain('compare', '--paired', '--statistic', 'mean', ...same);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown statistic 'mean'; allowed: median, min/);
  });
});
