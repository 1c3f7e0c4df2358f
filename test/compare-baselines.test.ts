/**
 * The gate over several baseline runs: the run-to-run noise floor (Student's t checked
 * against scipy), A/A sets whose runs differ as separate runs do (a one-run gate cries wolf,
 * the several-baseline gate does not) and real slowdowns still caught; thresholds per
 * workload and case; refusal (exit 2) when a baseline ran on another GPU, driver or stack
 * version; --baseline-dir.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureMain } from './helpers/main-capture.js';
import { UsageError } from '../src/harness/errors.js';
import type { CaseResult, ResultsFile } from '../src/harness/results/schema.js';
import { summarize } from '../src/reporters/cases.js';
import { compareRuns, type CompareReport } from '../src/reporters/compare/compare.js';
import { noiseFloor, studentTCdf, studentTQuantile } from '../src/reporters/compare/noise.js';
import { mulberry32 } from '../src/reporters/compare/stats.js';
import { parseThresholdRule, thresholdFor } from '../src/reporters/compare/thresholds.js';
import { allreduceCase, matmulCase, resultsFile, samples } from './fixtures/results.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'gpubench-baselines-'));
  dirs.push(d);
  return d;
}

/** A standard normal draw. */
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** A copy of `c` with samples `s` (stats recomputed). */
function withSamples(c: CaseResult, s: number[]): CaseResult {
  return { ...c, samplesMs: s, stats: summarize(s) };
}

/**
 * One run of two cases (matmul and all-reduce) as separate runs differ: the run's own speed
 * is off by exp(between · N(0,1)) (another process, another moment), samples scatter by `within`.
 */
function run(seed: number, between: number, within = 0.01, slow = 1, id = `run-${seed}`): ResultsFile {
  const rand = mulberry32(seed);
  const mm = matmulCase('webgpu', 'f32', 1024, 4, { seed });
  const ar = allreduceCase('ws', 'ring', 1 << 20, 2, { ranks: 2, seed: seed + 1 });
  const cases = [mm, ar].map((c, i) => {
    const runFactor = Math.exp(between * gauss(rand)) * (i === 0 ? slow : 1);
    return withSamples(c, samples(c.stats!.medianMs * runFactor, within, 20, seed * 7 + i, false));
  });
  return { ...resultsFile(cases, id), run: { ...resultsFile([], id).run, startedAt: new Date(Date.UTC(2026, 11, 1) + seed * 60_000).toISOString() } };
}

describe('Student t (the noise floor\'s k) matches scipy', () => {
  it('quantiles and CDF', () => {
    // scipy.stats.t.ppf(0.995, df)
    const ppf: [number, number][] = [[1, 63.656741162871526], [2, 9.924843200918287], [3, 5.840909309733355], [4, 4.604094871349992], [9, 3.249835541592126], [30, 2.7499956535672254]];
    for (const [df, q] of ppf) expect(studentTQuantile(0.995, df)).toBeCloseTo(q, 6);
    // scipy.stats.t.ppf(0.975, 5) = 2.5705818356363146; t.cdf(2.5, 7) = 0.9795038907071235
    expect(studentTQuantile(0.975, 5)).toBeCloseTo(2.5705818356363146, 7);
    expect(studentTCdf(2.5, 7)).toBeCloseTo(0.9795038907071235, 9);
    expect(studentTQuantile(0.005, 4)).toBeCloseTo(-4.604094871349992, 6);
  });
  it('the floor of known medians', () => {
    // log medians ln(0.9), 0, ln(1.1): sd 0.10003; k = t(0.995, 2) = 9.9248; floor = exp(k·sd·√(4/3)) − 1
    const f = noiseFloor([0.9, 1, 1.1]);
    const logs = [Math.log(0.9), 0, Math.log(1.1)];
    const mean = logs.reduce((a, b) => a + b) / 3;
    const sd = Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / 2);
    expect(f.runs).toBe(3);
    expect(f.spread).toBeCloseTo(sd, 12);
    expect(f.centerMs).toBeCloseTo(Math.exp(mean), 12);
    expect(f.floor).toBeCloseTo(Math.expm1(9.924843200918287 * sd * Math.sqrt(4 / 3)), 6);
    expect(noiseFloor([0.9, 1, 1.1], 3).floor).toBeCloseTo(Math.expm1(3 * sd * Math.sqrt(4 / 3)), 12);
    expect(noiseFloor([2]).floor).toBe(0);
  });
});

describe('several baselines hold run-to-run variance', () => {
  it('A/A sets: one baseline cries wolf, five do not', () => {
    let one = 0;
    let five = 0;
    for (let s = 1; s <= 40; s++) {
      const base = Array.from({ length: 5 }, (_, i) => run(s * 100 + i, 0.08));
      const head = run(s * 100 + 50, 0.08);
      if (compareRuns([base[4]!], head).failed) one++;
      if (compareRuns(base, head).failed) five++;
    }
    // Runs that differ by ~8% each: against one run the samples alone call most of them regressions.
    expect(one).toBeGreaterThan(10);
    expect(five).toBeLessThanOrEqual(1);
  });

  it('a 2x slowdown is caught through the same run-to-run noise, and a 20% one on a quiet runner', () => {
    let twice = 0;
    let fifth = 0;
    const missed: string[] = [];
    for (let s = 1; s <= 40; s++) {
      const base = Array.from({ length: 5 }, (_, i) => run(s * 100 + i, 0.08));
      const r = compareRuns(base, run(s * 100 + 60, 0.08, 0.01, 2));
      const mm = r.cases.find((c) => c.workload === 'matmul')!;
      if (mm.verdict === 'regressed' && r.failed) twice++;
      else missed.push(`2x seed ${s}: ${mm.verdict} ${mm.ratio?.toFixed(2)} floor ${mm.noise?.floor.toFixed(2)} p ${mm.pValue}`);
      const quiet = Array.from({ length: 5 }, (_, i) => run(s * 100 + i, 0.015));
      const q = compareRuns(quiet, run(s * 100 + 60, 0.015, 0.01, 1.2)).cases.find((c) => c.workload === 'matmul')!;
      if (q.verdict === 'regressed') fifth++;
      else missed.push(`1.2x seed ${s}: ${q.verdict} ${q.ratio?.toFixed(2)} floor ${q.noise?.floor.toFixed(2)} p ${q.pValue}`);
    }
    // Five baselines estimate the spread roughly: in a few sets it comes out large enough to
    // cover 2x (38 of these 40 are caught); on a quiet runner 20% is caught in every set.
    expect(twice, missed.join('\n')).toBeGreaterThanOrEqual(36);
    expect(fifth, missed.join('\n')).toBe(40);
  });

  it('explains a change within the noise floor, and one baseline still works (weaker, said so)', () => {
    const base = Array.from({ length: 4 }, (_, i) => run(900 + i, 0.15));
    const head = run(950, 0.15, 0.01, 1.3);
    const r = compareRuns(base, head);
    const mm = r.cases.find((c) => c.workload === 'matmul')!;
    expect(mm.noise!.runs).toBe(4);
    expect(mm.noise!.floor).toBeGreaterThan(0.3);
    if (mm.verdict === 'insignificant') expect(mm.note).toMatch(/within the run-to-run noise floor ±[\d.]+% of 4 baselines/);
    const single = compareRuns([base[0]!], head);
    expect(single.warnings.join()).toMatch(/one baseline run: the gate cannot tell a slow run from a slow build/);
    expect(single.baselines).toHaveLength(1);
    expect(single.cases[0]!.noise).toBeUndefined();
  });
});

describe('an outlier baseline run is left out of the floor; a second mode is not', () => {
  it('one far run in eight is left out, with its modified z-score; two far together are a mode and stay', () => {
    const core = [1, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01];
    const one = noiseFloor([...core, 1.5]);
    expect(one.outliers).toHaveLength(1);
    expect(one.outliers![0]!.index).toBe(7);
    expect(one.outliers![0]!.z).toBeGreaterThan(3.5);
    expect(one.runs).toBe(7);
    expect(one).toMatchObject({ centerMs: noiseFloor(core).centerMs, floor: noiseFloor(core).floor });
    expect(one.floor).toBeLessThan(0.1);
    // With the far run in, the floor would be several times as wide: what hid 20% slowdowns.
    const logs = [...core, 1.5].map(Math.log);
    const mean = logs.reduce((a, b) => a + b) / 8;
    const sd = Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / 7);
    expect(Math.expm1(studentTQuantile(0.995, 7) * sd * Math.sqrt(9 / 8))).toBeGreaterThan(5 * one.floor);
    const two = noiseFloor([...core.slice(0, 6), 1.5, 1.4]);
    expect(two.outliers).toBeUndefined();
    expect(two.runs).toBe(8);
    // A mild straggler (+5%, itself past 3.5 in so tight a core) is no company for a run 50% off.
    expect(noiseFloor([...core.slice(0, 6), 1.05, 1.5]).outliers!.map((o) => o.index)).toEqual([7]);
    // Fewer than eight runs: no outlier is looked for; half or more equal (MAD 0): no scale to judge by.
    expect(noiseFloor([...core.slice(0, 6), 1.5]).outliers).toBeUndefined();
    expect(noiseFloor([1, 1, 1, 1, 1, 1.01, 0.99, 1.5]).outliers).toBeUndefined();
    // A fast outlier is as much an outlier as a slow one.
    expect(noiseFloor([...core, 0.6]).outliers![0]!.index).toBe(7);
  });

  it('a 20% slowdown is caught past a baseline run that was 50% slow, and the report says it was left out', () => {
    let caught = 0;
    let aaFailed = 0;
    const seen: string[] = [];
    for (let s = 1; s <= 20; s++) {
      const base = Array.from({ length: 8 }, (_, i) => run(s * 100 + i, 0.015, 0.01, i === 3 ? 1.5 : 1));
      const r = compareRuns(base, run(s * 100 + 60, 0.015, 0.01, 1.2));
      const mm = r.cases.find((c) => c.workload === 'matmul')!;
      seen.push(`${s}: ${mm.verdict} ${mm.ratio?.toFixed(2)} floor ${mm.noise?.floor.toFixed(3)} ${mm.note ?? ''}`);
      if (mm.verdict === 'regressed') caught++;
      expect(mm.noise!.runs).toBe(7);
      expect(mm.note).toMatch(/1 of 8 baseline runs left out as outliers \([\d.]+ ms, z [\d.]+\)/);
      if (compareRuns(base, run(s * 100 + 70, 0.015)).failed) aaFailed++;
    }
    expect(caught, seen.join('\n')).toBe(20);
    expect(aaFailed).toBeLessThanOrEqual(1);
  });
});

describe('thresholds per workload and case', () => {
  it('the most specific rule wins, the last of equals', () => {
    const rules = ['allreduce=15%', 'matmul/webgpu/*=8%', 'matmul/webgpu/f32/*=9%'].map((t) => parseThresholdRule(t));
    const mm = { id: 'matmul/webgpu/f32/1024x1024x1024', workload: 'matmul' as const };
    expect(thresholdFor(mm, rules, 0.05)).toBeCloseTo(0.09);
    expect(thresholdFor({ id: 'allreduce/ws/f32/1048576/ring', workload: 'allreduce' }, rules, 0.05)).toBeCloseTo(0.15);
    expect(thresholdFor({ id: 'matmul/cuda/bf16/8192x8192x8192', workload: 'matmul' }, rules, 0.05)).toBeCloseTo(0.05);
    expect(() => parseThresholdRule('all reduce=5%')).toThrow(/not a workload name or a case-id glob/);
    expect(() => parseThresholdRule('allreduce=lots')).toThrow(UsageError);
    expect(() => parseThresholdRule('=5%')).toThrow(UsageError);
  });
});

describe('refusal: another GPU, driver or stack version', () => {
  const base = () => run(1, 0.01);
  it('names the fact that differs', () => {
    const driver = run(2, 0.01);
    driver.devices = driver.devices.map((d) => (d.backend === 'webgpu' ? { ...d, driver: 'Vulkan 1.3 / 575.51.03' } : d));
    expect(() => compareRuns([base()], driver)).toThrow(/webgpu driver: 'Vulkan 1.3 \/ 570.124.06' in BASE, 'Vulkan 1.3 \/ 575.51.03' in HEAD/);
    const dawn = run(3, 0.01);
    dawn.environment.packages = { ...dawn.environment.packages, webgpu: '0.7.0' };
    expect(() => compareRuns([base()], dawn)).toThrow(/webgpu stack: webgpu: '0.6.2' in BASE, '0.7.0' in HEAD/);
    const ws = run(4, 0.01);
    ws.environment.packages = { ...ws.environment.packages, ws: '8.24.0' };
    const wsBase = base();
    wsBase.environment.packages = { ...wsBase.environment.packages, ws: '8.23.0' };
    expect(() => compareRuns([wsBase], ws)).toThrow(/ws stack: ws: '8.23.0' in BASE, '8.24.0' in HEAD/);
    // A version an implementation records per case (NCCL's).
    const nccl = (v: string, seed: number) => {
      const c = allreduceCase('nccl', 'auto', 1 << 26, 300, { ranks: 8, seed });
      return resultsFile([{ ...c, impl: { kernel: 'nccl', config: { ncclVersion: v } } }], `nccl-${v}-${seed}`);
    };
    expect(() => compareRuns([nccl('2.27.3', 1)], nccl('2.28.3', 2))).toThrow(/nccl stack: ncclVersion: '2.27.3' in BASE, '2.28.3' in HEAD/);
    expect(compareRuns([nccl('2.27.3', 1)], nccl('2.27.3', 2)).failed).toBe(false);
  });
  it('a fact one file does not record is not compared (older results)', () => {
    const old = base();
    old.devices = old.devices.map(({ driver: _d, ...d }) => d);
    expect(() => compareRuns([old], run(5, 0.01))).not.toThrow();
  });
});

describe('gpubench compare with several baselines (CLI)', () => {
  let out = '';
  let err = '';
  async function cli(...args: string[]): Promise<number> {
    const r = await captureMain(...args);
    out = r.out;
    err = r.err;
    return r.code;
  }
  async function write(dir: string, name: string, f: unknown): Promise<string> {
    const p = join(dir, name);
    await writeFile(p, JSON.stringify(f));
    return p;
  }

  it('BASE... HEAD, per-workload thresholds, and exit 2 on another driver', async () => {
    const dir = await tempDir();
    const bases = await Promise.all([0, 1, 2, 3, 4].map((i) => write(dir, `b${i}.json`, run(700 + i, 0.08))));
    const same = await write(dir, 'aa.json', run(750, 0.08));
    expect(await cli('compare', ...bases, same, '--format', 'json')).toBe(0);
    const report = JSON.parse(out) as CompareReport;
    expect(report.baselines.map((b) => b.label)).toEqual(bases);
    expect(report.cases.every((c) => c.noise?.runs === 5)).toBe(true);
    const slow = await write(dir, 'slow.json', run(760, 0.08, 0.01, 2));
    expect(await cli('compare', ...bases, slow)).toBe(1);
    expect(out).toMatch(/5 baseline runs/);
    expect(out).toMatch(/🔴 regressed \| matmul\/webgpu\/f32\/1024x1024x1024/);
    // A threshold of 150% for matmul lets the 2x slowdown pass; the default stays 5%.
    expect(await cli('compare', ...bases, slow, '--threshold', 'matmul=150%', '--format', 'json')).toBe(0);
    const loose = JSON.parse(out) as CompareReport;
    expect(loose.cases.find((c) => c.workload === 'matmul')!.threshold).toBeCloseTo(1.5);
    expect(loose.cases.find((c) => c.workload === 'allreduce')!.threshold).toBeCloseTo(0.05);
    // The same from a YAML file.
    const yaml = join(dir, 'thresholds.yaml');
    await writeFile(yaml, 'default: 5%\nthresholds:\n  matmul: 150%\n');
    expect(await cli('compare', ...bases, slow, '--thresholds', yaml)).toBe(0);
    await writeFile(yaml, 'default: 5%\nthreshold:\n  matmul: 150%\n');
    expect(await cli('compare', ...bases, slow, '--thresholds', yaml)).toBe(2);
    expect(err).toMatch(/--thresholds: .*thresholds.yaml: .*threshold.*allowed keys: default, thresholds/);
    expect(await cli('compare', ...bases, slow, '--threshold', 'mat mul=5%')).toBe(2);
    expect(err).toMatch(/--threshold: 'mat mul=5%'/);
    // Another driver in HEAD: refused, unless asked to compare anyway.
    const other = run(770, 0.08);
    other.devices = other.devices.map((d) => ({ ...d, driver: '575.51.03' }));
    const otherPath = await write(dir, 'other-driver.json', other);
    expect(await cli('compare', ...bases, otherPath)).toBe(2);
    expect(err).toMatch(/driver: .* in BASE, '575.51.03' in HEAD.*--allow-mismatch/);
    expect(await cli('compare', ...bases, otherPath, '--allow-mismatch')).toBe(0);
    expect(out).toMatch(/compared anyway: --allow-mismatch/);
    expect(await cli('compare', same)).toBe(2);
    expect(err).toMatch(/give at least one baseline/);
  });

  it('--baseline-dir: the newest matching runs, other JSON passed over, another driver left out', async () => {
    const dir = await tempDir();
    for (let i = 0; i < 6; i++) await write(dir, `gpubench-${i}.json`, run(800 + i, 0.05));
    await write(dir, 'gpubench-0.gab.json', [{ name: 'x', unit: 'TFLOP/s', value: 1 }]);
    const upgraded = run(890, 0.05);
    upgraded.devices = upgraded.devices.map((d) => ({ ...d, driver: '575.51.03' }));
    await write(dir, 'gpubench-upgraded.json', upgraded);
    const headDir = await tempDir();
    const head = await write(headDir, 'head.json', run(850, 0.05));
    expect(await cli('compare', '--baseline-dir', dir, '--last', '4', head, '--format', 'json')).toBe(0);
    const r = JSON.parse(out) as CompareReport;
    expect(r.baselines.map((b) => b.label.slice(dir.length + 1))).toEqual(['gpubench-2.json', 'gpubench-3.json', 'gpubench-4.json', 'gpubench-5.json']);
    expect(r.warnings.join('\n')).toMatch(/1 results file in .* left out: another machine or stack than HEAD/);
    expect(r.warnings.join('\n')).toMatch(/the newest 4 of 6 matching baselines/);
    // A HEAD whose driver none of the baselines share: nothing to compare against.
    const lone = run(860, 0.05);
    lone.devices = lone.devices.map((d) => ({ ...d, driver: '580.00.00' }));
    expect(await cli('compare', '--baseline-dir', dir, await write(headDir, 'lone.json', lone))).toBe(2);
    expect(err).toMatch(/--baseline-dir: none of the 7 results files in .* ran on HEAD's machine and stack/);
    expect(await cli('compare', '--baseline-dir', await tempDir(), head)).toBe(2);
    expect(err).toMatch(/no gpubench.results\/v1 results file in/);
  });
});
