/**
 * The regression gate on synthetic sample sets with known answers, its statistics
 * checked against scipy, and the `gpubench compare` exit codes (0 / 1 / 2).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { captureMain } from './helpers/main-capture.js';
import { UsageError } from '../src/harness/errors.js';
import type { CaseResult, ResultsFile } from '../src/harness/results/schema.js';
import { summarize } from '../src/reporters/cases.js';
import { compareResults, parseThreshold, type CompareReport } from '../src/reporters/compare/compare.js';
import { compareMarkdown } from '../src/reporters/compare/render.js';
import { bootstrapRatioOfMedians, mannWhitneyU, median } from '../src/reporters/compare/stats.js';
import { allreduceCase, matmulCase, nodeResults, resultsFile, samples } from './fixtures/results.js';

const tempDirs: string[] = [];
afterAll(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

/** A copy of `c` whose samples are `s` (stats and metrics recomputed as the harness would). */
function withSamples(c: CaseResult, s: number[]): CaseResult {
  const stats = summarize(s);
  const tflops = c.metrics.tflops !== undefined ? (c.metrics.tflops * c.stats!.medianMs) / stats.medianMs : undefined;
  return { ...c, samplesMs: s, stats, metrics: { ...c.metrics, ...(tflops !== undefined ? { tflops } : {}) } };
}

/** BASE and HEAD files with one matmul case: HEAD's median time is `shift` × BASE's, both with relative noise `noise`. */
function pair(shift: number, noise: number, n: number, seed: number): { base: ResultsFile; head: ResultsFile } {
  const c = matmulCase('webgpu', 'f32', 2048, 20);
  const t = c.stats!.medianMs;
  return {
    base: resultsFile([withSamples(c, samples(t, noise, n, seed, false))], 'base'),
    head: resultsFile([withSamples(c, samples(t * shift, noise, n, seed + 1000, false))], 'head'),
  };
}

describe('statistics match scipy', () => {
  it('Mann-Whitney U, exact (no ties, small samples)', () => {
    // scipy.stats.mannwhitneyu([19, 22, 16, 29, 24], [20, 11, 17, 12]) → U=17, p=0.1111111111111111
    const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    expect(r.method).toBe('exact');
    expect(r.u).toBe(17);
    expect(r.p).toBeCloseTo(0.1111111111111111, 12);
    // scipy: U=4, p=0.002097902097902098
    const r2 = mannWhitneyU([3.1, 2.7, 4.4, 5.0, 3.9, 2.2, 4.8], [5.5, 6.1, 4.9, 7.2, 5.8, 6.6, 5.2, 6.9, 4.1]);
    expect(r2.u).toBe(4);
    expect(r2.p).toBeCloseTo(0.002097902097902098, 12);
  });
  it('Mann-Whitney U, normal approximation with ties', () => {
    // scipy: U=28.5, p=0.06543643386308458
    const r = mannWhitneyU([1, 2, 2, 3, 3, 3, 4, 5, 9, 10], [2, 3, 4, 4, 6, 7, 7, 8, 11, 12, 13]);
    expect(r.method).toBe('asymptotic');
    expect(r.u).toBe(28.5);
    expect(r.p).toBeCloseTo(0.06543643386308458, 6);
    // scipy: U=25, p=0.001631789335713029
    const x = [1.01, 1.03, 0.98, 1.10, 0.95, 1.07, 1.02, 0.99, 1.05, 1.00, 1.04, 0.97];
    const y = [1.06, 1.12, 1.01, 1.09, 1.15, 1.08, 1.03, 1.11, 1.13, 1.07, 1.02, 1.14, 1.10, 1.16, 1.05];
    const r2 = mannWhitneyU(x, y);
    expect(r2.u).toBe(25);
    expect(r2.p).toBeCloseTo(0.001631789335713029, 6);
  });
  it('identical samples give p = 1 and a ratio interval around 1', () => {
    const s = samples(2, 0.05, 25, 7);
    expect(mannWhitneyU(s, s).p).toBe(1);
    const ci = bootstrapRatioOfMedians(s, s, { seed: 3 });
    expect(ci.ratio).toBe(1);
    expect(ci.lo).toBeLessThanOrEqual(1);
    expect(ci.hi).toBeGreaterThanOrEqual(1);
  });
  it('bootstrap interval covers the true ratio and is reproducible', () => {
    const a = samples(1, 0.05, 40, 11, false);
    const b = samples(1.1, 0.05, 40, 12, false);
    const ci = bootstrapRatioOfMedians(a, b, { seed: 5 });
    expect(ci.ratio).toBeCloseTo(median(b) / median(a), 12);
    expect(ci.lo).toBeLessThan(1.1);
    expect(ci.hi).toBeGreaterThan(1.1);
    expect(ci.lo).toBeGreaterThan(1);
    expect(bootstrapRatioOfMedians(a, b, { seed: 5 })).toEqual(ci);
  });
});

describe('compareResults on sample sets with known answers', () => {
  it('a 2% shift with tiny noise is significant: unchanged at 5%, regressed at 1%', () => {
    const { base, head } = pair(1.02, 0.002, 30, 1);
    const r5 = compareResults(base, head, { threshold: 0.05 });
    const c = r5.cases[0]!;
    expect(c.pValue!).toBeLessThan(1e-6);
    expect(c.ci![0]).toBeGreaterThan(1);
    expect(c.ratio!).toBeCloseTo(1.02, 2);
    expect(c.verdict).toBe('unchanged');
    expect(c.note).toMatch(/significant but within the threshold/);
    expect(r5.failed).toBe(false);
    const r1 = compareResults(base, head, { threshold: 0.01 });
    expect(r1.cases[0]!.verdict).toBe('regressed');
    expect(r1.failed).toBe(true);
  });

  it('a 2% shift with tiny noise is detected for every seed', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { base, head } = pair(1.02, 0.002, 30, seed * 7);
      expect(compareResults(base, head, { threshold: 0.01 }).cases[0]!.verdict, `seed ${seed}`).toBe('regressed');
    }
  });

  it('a 10% shift buried in 30% noise is not significant and does not fail the gate', () => {
    const { base, head } = pair(1.1, 0.3, 15, 3);
    const r = compareResults(base, head, { threshold: 0.05 });
    const c = r.cases[0]!;
    expect(c.pValue!).toBeGreaterThan(0.05);
    expect(c.ci![0]).toBeLessThan(1);
    expect(c.verdict).toBe('insignificant');
    expect(r.failed).toBe(false);
  });

  it('does not cry wolf: 10% in 30% noise fails the gate for few seeds out of 40', () => {
    let failed = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { base, head } = pair(1.1, 0.3, 15, seed * 13);
      if (compareResults(base, head).failed) failed++;
    }
    // Power against a 10% shift at this noise is low; a gate on medians alone would fail about half.
    expect(failed).toBeLessThanOrEqual(8);
  });

  it('a clear 10% slowdown regresses and a 10% speedup improves', () => {
    const slow = pair(1.1, 0.01, 20, 5);
    expect(compareResults(slow.base, slow.head).cases[0]!.verdict).toBe('regressed');
    const fast = pair(0.9, 0.01, 20, 6);
    const r = compareResults(fast.base, fast.head);
    expect(r.cases[0]!.verdict).toBe('improved');
    expect(r.failed).toBe(false);
  });

  it('an identical file is unchanged in every case', () => {
    const f = nodeResults();
    const r = compareResults(f, structuredClone(f));
    const ok = f.cases.filter((c) => c.status === 'ok').length;
    expect(r.counts.unchanged).toBe(ok);
    expect(r.counts.regressed + r.counts.improved + r.counts.insignificant).toBe(0);
    // The fixture's one wrong result is in HEAD too: that alone fails the gate.
    expect(r.counts.failed).toBe(1);
    expect(r.counts.skipped).toBe(1);
    // Without the wrong result, the identical file passes the gate.
    const clean = { ...f, cases: f.cases.filter((c) => c.status !== 'failed') };
    expect(compareResults(clean, structuredClone(clean)).failed).toBe(false);
  });

  it('a correctness failure in HEAD always fails, even when faster', () => {
    const { base, head } = pair(0.5, 0.01, 20, 9);
    head.cases[0] = { ...head.cases[0]!, check: { passed: false, maxRelError: 0.2, tolerance: 1e-5, wrong: 77 } };
    const r = compareResults(base, head);
    expect(r.cases[0]!.verdict).toBe('failed');
    expect(r.cases[0]!.note).toMatch(/wrong result in HEAD/);
    expect(r.failed).toBe(true);
  });

  it('lists cases only in BASE or only in HEAD without failing, and refuses files with nothing in common', () => {
    const a = matmulCase('webgpu', 'f32', 512, 5);
    const b = matmulCase('webgpu', 'f32', 1024, 9);
    const c = matmulCase('webgpu', 'f32', 2048, 12);
    const r = compareResults(resultsFile([a, b]), resultsFile([b, c]));
    expect(Object.fromEntries(r.cases.map((x) => [x.id, x.verdict]))).toEqual({
      [a.id]: 'missing', [b.id]: 'unchanged', [c.id]: 'new',
    });
    expect(r.failed).toBe(false);
    expect(() => compareResults(resultsFile([a]), resultsFile([c]))).toThrow(UsageError);
    expect(() => compareResults(resultsFile([a]), resultsFile([c]))).toThrow(/no case id in common/);
  });

  it('refuses BASE and HEAD from different GPUs (a warning with allowMismatch), and notes a changed timer', () => {
    const { base, head } = pair(1.0, 0.01, 20, 40);
    head.devices = head.devices.map((d) => ({ ...d, name: 'NVIDIA A100-SXM4-80GB' }));
    expect(() => compareResults(base, head)).toThrow(UsageError);
    expect(() => compareResults(base, head)).toThrow(/webgpu GPU\/device: 'NVIDIA H100 80GB HBM3' in BASE, 'NVIDIA A100-SXM4-80GB' in HEAD/);
    const r = compareResults(base, head, { allowMismatch: true });
    expect(r.warnings.join()).toMatch(/different machines or stacks.*compared anyway/);
    expect(compareMarkdown(r)).toMatch(/> \[!WARNING\]\n> BASE .* and HEAD .* ran on different machines or stacks/);
    const same = pair(1.0, 0.01, 20, 41);
    same.head.cases[0] = { ...same.head.cases[0]!, timer: 'wall-clock' };
    expect(compareResults(same.base, same.head).cases[0]!.note).toMatch(/timer changed: gpu-timestamp → wall-clock/);
  });

  it('parses thresholds', () => {
    expect(parseThreshold('5%')).toBeCloseTo(0.05);
    expect(parseThreshold('0.05')).toBeCloseTo(0.05);
    expect(parseThreshold('2.5')).toBeCloseTo(0.025);
    expect(() => parseThreshold('five')).toThrow(UsageError);
    expect(() => parseThreshold('0%')).toThrow(/out of range/);
  });

  it('renders Markdown with the verdict first', () => {
    const { base, head } = pair(1.1, 0.01, 20, 5);
    const md = compareMarkdown(compareResults(base, head, {}, { base: 'main.json', head: 'pr.json' }));
    expect(md).toMatch(/^## ❌ gpubench compare: fails the gate/);
    expect(md).not.toContain('<details>');
    expect(md).toMatch(/\| 🔴 regressed \| matmul\/webgpu\/f32\/2048x2048x2048 \| .* \| \+(9|10)\.\d%/);
  });
});

describe('compare Markdown', () => {
  it('folds unchanged cases away and keeps what needs a look in the open', () => {
    const f = nodeResults();
    const h = structuredClone(f);
    const slow = h.cases.find((c) => c.id === 'matmul/webgpu/f32/4096x4096x4096')!;
    slow.samplesMs = slow.samplesMs.map((x) => x * 1.2);
    const md = compareMarkdown(compareResults(f, h));
    const [open, folded] = md.split('<details>');
    expect(open).toContain('| 🔴 regressed | matmul/webgpu/f32/4096x4096x4096 |');
    expect(open).toContain('| ❌ failed | matmul/tfjs-webgpu/f16/4096x4096x4096 |');
    expect(open).not.toContain('unchanged |');
    expect(folded).toMatch(/^<summary>\d+ unchanged, 1 skipped<\/summary>/);
    expect(folded).toContain('| ⚪ unchanged | matmul/cuda/bf16/8192x8192x8192 |');
  });
});

describe('gpubench compare (CLI)', () => {
  let out = '';
  let err = '';
  afterEach(() => {
    vi.restoreAllMocks();
    out = '';
    err = '';
  });
  async function run(...args: string[]): Promise<number> {
    const r = await captureMain(...args);
    out = r.out;
    err = r.err;
    return r.code;
  }
  async function files(base: unknown, head: unknown): Promise<[string, string]> {
    const dir = await mkdtemp(join(tmpdir(), 'gpubench-compare-'));
    tempDirs.push(dir);
    const b = join(dir, 'base.json');
    const h = join(dir, 'head.json');
    await writeFile(b, JSON.stringify(base));
    await writeFile(h, JSON.stringify(head));
    return [b, h];
  }

  it('exits 0 for an unchanged run and 1 for a regression, with JSON output', async () => {
    const same = pair(1.0, 0.01, 20, 21);
    expect(await run('compare', ...(await files(same.base, same.base)))).toBe(0);
    expect(out).toMatch(/passes the gate/);
    const slow = pair(1.2, 0.01, 20, 22);
    expect(await run('compare', ...(await files(slow.base, slow.head)), '--format', 'json')).toBe(1);
    const report = JSON.parse(out) as CompareReport;
    expect(report.schema).toBe('gpubench.compare/v1');
    expect(report.cases[0]!.verdict).toBe('regressed');
    // The same slowdown passes under a looser threshold.
    expect(await run('compare', ...(await files(slow.base, slow.head)), '--threshold', '25%')).toBe(0);
  });

  it('exits 2 for a different schema, no common cases, or a bad option', async () => {
    const { base } = pair(1, 0.01, 10, 30);
    expect(await run('compare', ...(await files(base, { ...base, schema: 'gpubench.results/v2' })))).toBe(2);
    expect(err).toMatch(/schema is "gpubench.results\/v2", this gpubench reads gpubench.results\/v1/);
    const other = resultsFile([matmulCase('cuda', 'bf16', 4096, 700)]);
    expect(await run('compare', ...(await files(base, other)))).toBe(2);
    expect(err).toMatch(/no case id in common/);
    expect(await run('compare', ...(await files(base, base)), '--format', 'xml')).toBe(2);
    expect(await run('compare', ...(await files(base, base)), '--threshold', 'lots')).toBe(2);
    expect(await run('compare', '/nonexistent/base.json', '/nonexistent/head.json')).toBe(2);
  });
});

describe('gpubench report (CLI)', () => {
  it('writes one format to stdout, several to a folder, and refuses unknown formats', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gpubench-reportcli-'));
    tempDirs.push(dir);
    const file = join(dir, 'node.json');
    await writeFile(file, JSON.stringify(nodeResults()));
    const csv = await captureMain('report', file, '--format', 'csv');
    expect(csv.code).toBe(0);
    expect(csv.out.split('\r\n')[0]).toMatch(/^id,workload,backend/);
    const several = await captureMain('report', file, '--format', 'html,md', '--format', 'openmetrics', '--out-dir', join(dir, 'out'));
    expect(several.code).toBe(0);
    expect(several.out.trim().split('\n').map((p) => p.slice(dir.length + 1))).toEqual(['out/node.html', 'out/node.md', 'out/node.prom']);
    const pdf = await captureMain('report', file, '--format', 'pdf');
    expect(pdf.code).toBe(2);
    expect(pdf.err).toMatch(/unknown format 'pdf'; allowed: html, md, csv, json, gab, bmf, openmetrics/);
    expect((await captureMain('report', file, '--format', 'html,md', '--out', join(dir, 'x'))).code).toBe(2);
  });
});

describe('topology', () => {
  it('refuses to pair a collective measured on other ranks or hosts, even under the same id (files from before ids carried it)', () => {
    const base = allreduceCase('ws', 'ring', 1 << 20, 0.5, { ranks: 3, seed: 11 });
    const head = { ...allreduceCase('ws', 'ring', 1 << 20, 0.5, { ranks: 4, seed: 12 }), id: base.id };
    expect(() => compareResults(resultsFile([base], 'b'), resultsFile([head], 'h'), {}, { base: 'b.json', head: 'h.json' }))
      .toThrow(/measured 1 collective case on different topologies.*3 ranks on 3 hosts in BASE, 4 ranks on 4 hosts in HEAD/);
    const hostsOnly = { ...head, params: { ...base.params, nodes: 1 } };
    expect(() => compareResults(resultsFile([base], 'b'), resultsFile([hostsOnly], 'h'))).toThrow(UsageError);
    // The same topology compares as before.
    const same = { ...allreduceCase('ws', 'ring', 1 << 20, 0.5, { ranks: 3, seed: 13 }), id: base.id };
    expect(compareResults(resultsFile([base], 'b'), resultsFile([same], 'h')).cases[0]!.verdict).not.toBe('failed');
  });
});
