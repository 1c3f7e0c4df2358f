/**
 * History reports: E-Divisive finds a known step at the run it starts and nothing in a flat
 * series; `gpubench report DIR` over real runs of the CLI and over results files made from
 * a real run with a known step (Markdown and HTML, the page checked in Chromium at 1280 px).
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultsFile } from '../src/harness/results/schema.js';
import { mulberry32 } from '../src/reporters/compare/stats.js';
import { bestSplit, eDivisive } from '../src/reporters/history/changepoints.js';
import { buildHistory, isHistory } from '../src/reporters/history/history.js';
import { CHROMIUM_FIX, haveChromium, launchChromium, requireChromium } from './chromium.js';
import { gpubench } from './helpers/cli.js';
import { writeHistory } from './helpers/history-files.js';
import { allreduceCase, resultsFile } from './fixtures/results.js';

/** `n` values around `level(i)` with relative noise `noise`, from a seeded generator. */
function series(n: number, level: (i: number) => number, noise: number, seed: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => level(i) * (1 + noise * (rand() + rand() + rand() - 1.5) * 2));
}

describe('E-Divisive change points', () => {
  it('finds a 25% step at the run it starts, in 20 different noise draws', () => {
    let extra = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const x = series(12, (i) => (i >= 8 ? 1.25 : 1), 0.02, seed);
      const found = eDivisive(x, { seed }).map((c) => c.index);
      expect(found, `seed ${seed}`).toContain(8);
      extra += found.length - 1;
    }
    // Each level is then tested again at α = 0.05: a spurious split now and then, no more.
    expect(extra).toBeLessThanOrEqual(2);
  });

  it('finds both steps of a regression that was later fixed', () => {
    const x = series(18, (i) => (i >= 6 && i < 12 ? 1.3 : 1), 0.02, 7);
    const cps = eDivisive(x);
    expect(cps.map((c) => c.index)).toEqual([6, 12]);
    for (const c of cps) expect(c.pValue).toBeLessThan(0.05);
  });

  it('finds nothing in flat series, constant ones, or too few runs', () => {
    let alarms = 0;
    for (let seed = 1; seed <= 40; seed++) alarms += eDivisive(series(12, () => 1, 0.03, 1000 + seed), { seed }).length;
    // α = 0.05 per series: 40 flat series may give a couple of alarms, never many.
    expect(alarms).toBeLessThanOrEqual(4);
    expect(eDivisive(Array(10).fill(3))).toEqual([]);
    expect(eDivisive([1, 2, 3])).toEqual([]);
  });

  it('Q̂ peaks at the split between two levels', () => {
    expect(bestSplit([1, 1.01, 0.99, 1, 2, 2.02, 1.98, 2])?.tau).toBe(4);
    expect(bestSplit([1, 2, 3], 2)).toBeUndefined();
  });
});

describe('history of results files', () => {
  it('keeps topologies apart, orders runs by start time, and names the run where a step starts', () => {
    const files: ResultsFile[] = [];
    for (let run = 0; run < 10; run++) {
      const slow = run >= 6 ? 1.3 : 1;
      // The same case id on 4 and on 8 ranks: only the 8-rank one slows down.
      const c8 = allreduceCase('ws', 'ring', 1 << 20, 10 / slow, { ranks: 8, seed: 100 + run });
      const c4 = { ...allreduceCase('ws', 'ring', 1 << 20, 8, { ranks: 4, seed: 200 + run }) };
      const f4 = resultsFile([c4], `r4-${run}`);
      const f8 = resultsFile([c8], `r8-${run}`);
      for (const f of [f4, f8]) f.run.startedAt = new Date(Date.UTC(2026, 10, 1 + run)).toISOString();
      files.push(f8, f4);
    }
    files.reverse(); // input order must not matter
    expect(isHistory(files)).toBe(true);
    const h = buildHistory(files);
    expect(h.runs).toHaveLength(20);
    expect(h.series.map((s) => s.label).sort()).toEqual([
      'allreduce/ws/f32/1048576/ring · NVIDIA H100 80GB HBM3 · 4 ranks · 4 nodes',
      'allreduce/ws/f32/1048576/ring · NVIDIA H100 80GB HBM3 · 8 ranks · 8 nodes',
    ]);
    const eight = h.series.find((s) => s.label.includes('8 ranks'))!;
    const four = h.series.find((s) => s.label.includes('4 ranks'))!;
    expect(eight.points).toHaveLength(10);
    expect(eight.changes.map((c) => c.runId)).toEqual(['r8-6']);
    expect(eight.changes[0]!.ratio).toBeGreaterThan(1.2);
    expect(eight.changes[0]!.ratio).toBeLessThan(1.4);
    expect(four.changes).toEqual([]);
    // Runs of different cases are not a history.
    expect(isHistory([files[0]!, resultsFile([allreduceCase('ws', 'tree', 1024, 1)], 'other')])).toBe(false);
  });
});

describe('gpubench report over a folder of runs', () => {
  let dir: string;
  let real: string;
  let synthetic: string;
  let template: ResultsFile;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gpubench-history-'));
    real = join(dir, 'real');
    synthetic = join(dir, 'synthetic');
    mkdirSync(real);
    mkdirSync(synthetic);
    const suite = join(dir, 'fast.yaml');
    writeFileSync(suite, [
      'schema: gpubench.suite/v1', 'name: fast',
      'measure: { warmupMs: 20, minTimeMs: 60, minSamples: 5, maxSamples: 20, maxTimeMs: 2000 }',
      'workloads:', '  - { workload: matmul, backends: [tfjs-cpu], dtypes: [f32], sizes: [32, 64] }', '',
    ].join('\n'));
    // Three real runs of the CLI, each with its commit, as CI records it.
    for (let i = 1; i <= 3; i++) {
      const r = gpubench(['run', '--suite', suite, '--json', join(real, `run${i}.json`), '--reporter', 'silent'], { GITHUB_SHA: `${i}`.repeat(40) }, 60_000);
      expect(r.code, r.stderr).toBe(0);
    }
    // Exports beside the results are passed over, as in a CI artifacts folder.
    writeFileSync(join(real, 'run1.gab.json'), '[]');
    template = JSON.parse(readFileSync(join(real, 'run1.json'), 'utf8')) as ResultsFile;
    // Twelve runs made from the real one: 32³ is 25% slower from run 8 on, 64³ stays flat.
    writeHistory(synthetic, template, { runs: 12, level: (id, run) => (id.endsWith('/32x32x32') && run >= 8 ? 1.25 : 1) });
  }, 90_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads real runs of the CLI as a history, labelled by date and commit', () => {
    expect(template.run.commit).toBe('1'.repeat(40));
    const r = gpubench(['report', real, '--format', 'md']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\(the newest of 3 runs\)/);
    expect(r.stdout).toMatch(/### History: /);
    expect(r.stdout).toMatch(/3 runs, \d{4}-\d\d-\d\d \d\d:\d\d 11111111 to \d{4}-\d\d-\d\d \d\d:\d\d 33333333; 2 series/);
    expect(r.stdout).toMatch(/\| matmul\/tfjs-cpu\/f32\/32x32x32 · .* \| 3 \|/);
  });

  it('finds the step at run 8 of 12 and none in the flat case (Markdown)', () => {
    const r = gpubench(['report', synthetic, '--format', 'md']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/### History: 1 change point \(1 slower, 0 faster\)/);
    const row = r.stdout.split('\n').find((l) => l.includes('hist-08'));
    expect(row).toMatch(/^\| matmul\/tfjs-cpu\/f32\/32x32x32 · .* \| 2026-10-09 03:00 [0-9a-f]{8} \(`hist-08`\) \| .* \| 🔺 \+2\d(\.\d)?% time \(slower\) \| 0\.0\d+ \|$/);
    expect(r.stdout).toMatch(/1 series without a change point/);
    expect(r.stdout).toMatch(/\| matmul\/tfjs-cpu\/f32\/64x64x64 · .* \| 12 \|/);
    // --no-history merges the files as one report instead.
    const merged = gpubench(['report', synthetic, '--format', 'md', '--no-history']);
    expect(merged.code).toBe(0);
    expect(merged.stdout).not.toMatch(/### History/);
    expect(merged.stdout).toMatch(/32x32x32@hist-11/);
  });

  it('refuses an empty folder and a bad --alpha (exit 2, naming them)', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const r = gpubench(['report', empty, '--format', 'md']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/empty holds no gpubench\.results\/v1 files/);
    const a = gpubench(['report', synthetic, '--alpha', '1.5']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--alpha/);
  });

  if (!haveChromium && requireChromium) {
    it('needs Chromium (GPUBENCH_REQUIRE_CHROMIUM=1)', () => {
      throw new Error(CHROMIUM_FIX);
    });
  } else {
    it.skipIf(!haveChromium)(`draws every series with its change point, fitting a 1280 px window${haveChromium ? '' : ` (skipped: ${CHROMIUM_FIX})`}`, async () => {
      const out = join(dir, 'history.html');
      const r = gpubench(['report', synthetic, '--format', 'html', '--out', out, '--title', 'gpubench history']);
      expect(r.code, r.stderr).toBe(0);
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
        const errors: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });
        await page.waitForFunction(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.history !== undefined, undefined, { timeout: 15_000 });
        expect(errors).toEqual([]);
        const info = await page.evaluate(() => {
          const g = globalThis as unknown as {
            document: { body: { dataset: Record<string, string> }; documentElement: { scrollWidth: number; clientWidth: number }; querySelectorAll(s: string): ArrayLike<{ id: string; scrollWidth: number; clientWidth: number }> };
            Chart: { getChart(c: unknown): { data: { labels: string[][]; datasets: { label: string; data: number[] }[] }; config: { options: { gpubench: { changes: { at: number }[] } } } } | undefined };
          };
          const charts = Array.from(g.document.querySelectorAll('.history canvas')).map((c) => {
            const ch = g.Chart.getChart(c)!;
            return { labels: ch.data.labels as unknown as string[][], points: ch.data.datasets[0]!.data.length, changes: ch.config.options.gpubench.changes.map((x) => x.at), levels: [...new Set(ch.data.datasets[1]!.data)].length };
          });
          return {
            drawn: g.document.body.dataset.history,
            charts,
            page: { scroll: g.document.documentElement.scrollWidth, client: g.document.documentElement.clientWidth },
            wraps: Array.from(g.document.querySelectorAll('.table-wrap')).map((w) => ({ scroll: w.scrollWidth, client: w.clientWidth })),
          };
        });
        expect(info.drawn).toBe('2');
        // The series with the step first: its change at point 8, two levels; the flat one: one level, no change.
        expect(info.charts.map((c) => c.changes)).toEqual([[8], []]);
        expect(info.charts.map((c) => c.levels)).toEqual([2, 1]);
        expect(info.charts[0]!.points).toBe(12);
        expect(info.charts[0]!.labels[8]).toEqual(['10-09 03:00', expect.stringMatching(/^[0-9a-f]{8}$/)]);
        expect(await page.locator('figure.changed').count()).toBe(1);
        expect(await page.locator('table.changes tbody tr').count()).toBe(1);
        expect(info.page.scroll).toBeLessThanOrEqual(info.page.client);
        for (const w of info.wraps) expect(w.scroll).toBeLessThanOrEqual(w.client);
        const shot = await page.screenshot({ fullPage: false });
        mkdirSync(resolve('build/test-artifacts'), { recursive: true });
        await writeFile(resolve('build/test-artifacts/report-history.png'), shot);
        if (process.env.GPUBENCH_UPDATE_DOCS === '1') await writeFile(resolve('docs/report-history.png'), shot);
      } finally {
        await browser.close();
      }
    }, 60_000);
  }
});
