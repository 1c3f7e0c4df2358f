/**
 * Absolute floors: `gpubench run --min [CASES:]METRIC=VALUE` and `--acceptance PROFILE`
 * (configs/acceptance/*.yaml). Real tfjs-cpu runs pass and fail floors with the case, metric,
 * value and floor on the console and in the results; bad floors and bad profiles are exit 2
 * naming the flag and the field, before anything is measured.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAcceptance } from '../src/harness/acceptance.js';
import { captureMain } from './helpers/main-capture.js';
import { UsageError } from '../src/harness/errors.js';
import { applyFloors, parseFloor } from '../src/harness/floors.js';
import type { ResultsFile } from '../src/harness/results/schema.js';
import { matmulCase, resultsFile } from './fixtures/results.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'gpubench-floors-'));
  dirs.push(d);
  return d;
}

let err = '';
async function cli(...args: string[]): Promise<number> {
  const r = await captureMain(...args);
  err = r.err;
  return r.code;
}
const SMALL_RUN = ['run', '--backends', 'tfjs-cpu', '--sizes', '32', '--min-time', '30', '--warmup', '10', '--reporter', 'silent'];
const read = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as ResultsFile;

describe('--min syntax', () => {
  it('parses [CASES:]METRIC=VALUE', () => {
    expect(parseFloor('busbw=40')).toMatchObject({ metric: 'busbwGBps', min: 40, from: '--min busbw=40' });
    expect(parseFloor('busbw=40').pattern.text).toBe('');
    const f = parseFloor('matmul/*/bf16/*:tflops=600');
    expect(f).toMatchObject({ metric: 'tflops', min: 600 });
    expect(f.pattern.matches({ id: 'matmul/cuda/bf16/8192x8192x8192', workload: 'matmul' })).toBe(true);
    expect(f.pattern.matches({ id: 'matmul/cuda/f16/8192x8192x8192', workload: 'matmul' })).toBe(false);
    expect(parseFloor('allreduce:busbwGBps=12.5').pattern.matches({ id: 'allreduce/ws/f32/sum/ring/1024/r2h1', workload: 'allreduce' })).toBe(true);
  });
  it('refuses what it cannot read, naming --min', () => {
    for (const [text, why] of [
      ['busbw', /has no '='/],
      ['speed=3', /unknown metric 'speed'; allowed: tflops, pctOfPeak, busbw/],
      ['busbw=fast', /'fast' is not a non-negative number/],
      ['busbw=-1', /not a non-negative number/],
      ['busbw=', /not a non-negative number/],
      ['mat mul:tflops=1', /'mat mul' is not a workload name or a case-id glob/],
      [':tflops=1', /is not a workload name or a case-id glob/],
    ] as const) {
      expect(() => parseFloor(text)).toThrow(UsageError);
      expect(() => parseFloor(text)).toThrow(why);
      expect(() => parseFloor(text)).toThrow(/^--min: /);
    }
  });
});

describe('gpubench run --min on real runs', () => {
  it('passes, fails with the case, metric, value and floor, and writes the verdicts into the results', async () => {
    const dir = await tempDir();
    const ok = join(dir, 'ok.json');
    expect(await cli(...SMALL_RUN, '--json', ok, '--min', 'matmul:tflops=1e-9')).toBe(0);
    expect(err).toMatch(/floors: 1 of 1 met/);
    const okRes = read(ok);
    expect(okRes.run.floors).toEqual([expect.objectContaining({ from: '--min matmul:tflops=1e-9', metric: 'tflops', min: 1e-9, judged: 1, below: [], passed: true })]);
    expect(okRes.cases[0]!.floors).toEqual([expect.objectContaining({ metric: 'tflops', min: 1e-9, passed: true })]);

    const low = join(dir, 'low.json');
    expect(await cli(...SMALL_RUN, '--json', low, '--min', 'matmul/tfjs-cpu/*:tflops=1000', '--min', 'busbw=40')).toBe(1);
    expect(err).toMatch(/below floor: matmul\/tfjs-cpu\/f32\/32x32x32 tflops [\d.e-]+ < 1000 TFLOP\/s \(--min matmul\/tfjs-cpu\/\*:tflops=1000\)/);
    expect(err).toMatch(/floor busbwGBps >= 40 GB\/s \(--min busbw=40\) not met: no ok case measured busbwGBps/);
    expect(err).toMatch(/floors: 0 of 2 met: FAILED/);
    const lowRes = read(low);
    expect(lowRes.run.floors!.map((f) => f.passed)).toEqual([false, false]);
    expect(lowRes.run.floors![0]!.below).toEqual(['matmul/tfjs-cpu/f32/32x32x32']);
    const check = lowRes.cases[0]!.floors![0]!;
    expect(check.passed).toBe(false);
    expect(check.value).toBe(lowRes.cases[0]!.metrics.tflops);
    // The results with floors are still a compare input: the two gates compose in CI.
    expect(await cli('compare', ok, low, '--format', 'json')).not.toBe(2);
  }, 60_000);

  it('bad --min or --acceptance: exit 2 naming the flag, nothing measured', async () => {
    const dir = await tempDir();
    const json = join(dir, 'never.json');
    expect(await cli(...SMALL_RUN, '--json', json, '--min', 'tflops>5')).toBe(2);
    expect(err).toMatch(/error: --min: 'tflops>5' has no '='/);
    expect(await cli(...SMALL_RUN, '--json', json, '--acceptance', 'no-such-gpu')).toBe(2);
    expect(err).toMatch(/error: --acceptance: no acceptance profile 'no-such-gpu'/);
    expect(existsSync(json)).toBe(false);
  }, 30_000);
});

describe('acceptance profiles', () => {
  it('every shipped profile validates; % of peak resolves against the catalog', () => {
    const shipped = readdirSync(join(import.meta.dirname, '..', 'configs', 'acceptance')).filter((n) => n.endsWith('.yaml'));
    expect(shipped.sort()).toEqual(['a100-sxm-80gb.yaml', 'cpu-ci.yaml', 'h100-sxm.yaml', 'h200.yaml']);
    for (const n of shipped) {
      const p = loadAcceptance(n.replace('.yaml', ''));
      expect(p.floors.length).toBeGreaterThan(0);
      for (const f of p.floors) expect(f.source!.length).toBeGreaterThan(20);
    }
    const h100 = loadAcceptance('h100-sxm');
    expect(h100.profile.gpu).toBe('H100-SXM5-80GB');
    const bf16 = h100.floors.find((f) => f.pattern.text === 'matmul/cuda/bf16/8192x8192x8192')!;
    expect(bf16.min).toBeCloseTo(0.7 * 989.4, 6);
    expect(bf16.basis).toBe('70% of 989.4 (H100-SXM5-80GB tflops.bf16, configs/gpus.yaml)');
    expect(loadAcceptance('h200').floors.find((f) => f.metric === 'readWriteGBps')!.min).toBeCloseTo(0.7 * 4800, 6);
  });

  it('an H100 profile fails cases that ran elsewhere, and passes an H100 that clears it', () => {
    const h100 = loadAcceptance('h100-sxm').floors.filter((f) => f.metric === 'tflops');
    const onH100 = resultsFile([matmulCase('cuda', 'bf16', 8192, 760, { device: 'NVIDIA H100 80GB HBM3' }), matmulCase('cuda', 'f16', 8192, 650, { device: 'NVIDIA H100 80GB HBM3' })]);
    const [bf16, f16] = applyFloors(onH100, h100);
    expect(bf16!.passed).toBe(true);
    expect(f16!.passed).toBe(false);
    expect(f16!.below).toEqual(['matmul/cuda/f16/8192x8192x8192']);
    const onA100 = resultsFile([matmulCase('cuda', 'bf16', 8192, 760, { device: 'NVIDIA A100-SXM4-80GB' })]);
    const [other] = applyFloors(onA100, h100);
    expect(other!.passed).toBe(false);
    expect(other!.reason).toMatch(/ran on NVIDIA A100-SXM4-80GB, not on a H100-SXM5-80GB/);
  });

  it('a bad profile is exit 2 naming the field', async () => {
    const dir = await tempDir();
    const cases: [string, RegExp][] = [
      ['schema: gpubench.acceptance/v1\nname: x\nfloors:\n  - { case: matmul, metric: tflops, min: 1 }\n', /floors\[0\]\.source: /],
      ['schema: gpubench.acceptance/v1\nname: x\nfloors:\n  - { case: matmul, metric: speed, min: 1, source: "a datasheet" }\n', /floors\[0\]\.metric: unknown metric; allowed: tflops/],
      ['schema: gpubench.acceptance/v1\nname: x\nfloors:\n  - { case: matmul, metric: tflops, min: 1, pctOfPeak: 50, peak: tflops.bf16, source: "a datasheet" }\n', /floors\[0\]\.min: give either min or pctOfPeak/],
      ['schema: gpubench.acceptance/v1\nname: x\ngpu: H999\nfloors:\n  - { case: matmul, metric: tflops, min: 1, source: "a datasheet" }\n', /gpu: 'H999' is not in the GPU catalog/],
      ['schema: gpubench.acceptance/v1\nname: x\ngpu: H200-SXM-141GB\nfloors:\n  - { case: matmul, metric: tflops, pctOfPeak: 70, peak: tflops.fp64, source: "a datasheet" }\n', /floors\[0\]\.peak: the catalog entry H200-SXM-141GB has no tflops.fp64/],
      ['schema: gpubench.acceptance/v1\nname: x\nfloors: []\n', /floors: /],
      ['schema: gpubench.acceptance/v2\nname: x\nfloors:\n  - { case: matmul, metric: tflops, min: 1, source: "a datasheet" }\n', /schema: /],
    ];
    for (const [i, [yaml, why]] of cases.entries()) {
      const p = join(dir, `bad${i}.yaml`);
      await writeFile(p, yaml);
      expect(() => loadAcceptance(p)).toThrow(why);
      expect(() => loadAcceptance(p)).toThrow(/^--acceptance: /);
    }
    expect(await cli(...SMALL_RUN, '--json', join(dir, 'never.json'), '--acceptance', join(dir, 'bad0.yaml'))).toBe(2);
    expect(err).toMatch(/error: --acceptance: invalid acceptance profile .*bad0.yaml: floors\[0\]\.source/);
  }, 30_000);
});
