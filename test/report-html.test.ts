/**
 * The HTML report opened in a real headless Chromium: every chart renders (Chart.js
 * instance, non-empty canvas), nothing is fetched from the network, no console
 * errors, and a screenshot is kept under build/test-artifacts/ (git-ignored).
 * GPUBENCH_UPDATE_DOCS=1 also refreshes docs/report-fixture.png (synthetic fixture data).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCharts } from '../src/reporters/charts.js';
import { renderHtml } from '../src/reporters/formats/html.js';
import type { ResultsFile } from '../src/harness/results/schema.js';
import { CHROMIUM_FIX, haveChromium, launchChromium, requireChromium } from './chromium.js';
import { gpubench } from './helpers/cli.js';
import { allreduceCase, matmulCase, nodeResults, resultsFile } from './fixtures/results.js';

// The page callbacks run in the browser; the test program has no DOM lib (it would
// change the typing of the WebGPU code), so they see the few DOM shapes they use.
interface PageCanvas {
  id: string;
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
interface PageGlobals {
  document: { body: { dataset: Record<string, string | undefined> }; querySelectorAll(sel: string): ArrayLike<PageCanvas> };
  Chart: { getChart(c: PageCanvas): { data: { datasets: { label: string; data: unknown[] }[] } } | undefined };
}

const ARTIFACTS = resolve('build/test-artifacts');
const results = nodeResults();
const LINK = 12.5; // 100 GbE between the WebSocket ranks

if (!haveChromium && requireChromium) {
  describe('HTML report in Chromium', () => {
    it('needs Chromium (GPUBENCH_REQUIRE_CHROMIUM=1)', () => {
      throw new Error(CHROMIUM_FIX);
    });
  });
} else if (!haveChromium) {
  console.warn(`[gpubench] HTML report tests skipped: ${CHROMIUM_FIX}. CI sets GPUBENCH_REQUIRE_CHROMIUM=1 to make this a failure.`);
  describe.skip(`HTML report in Chromium — skipped: ${CHROMIUM_FIX}`, () => {
    it('renders', () => {});
  });
} else {
  describe('HTML report in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
      await mkdir(ARTIFACTS, { recursive: true });
    });
    afterAll(async () => {
      await browser?.close();
    });

    /** Opens a page from a file, recording console errors, page errors and any network request. */
    async function open(html: string, name: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
      const file = join(ARTIFACTS, name);
      await writeFile(file, html);
      const page = await browser.newPage({ viewport: { width: 1400, height: 1060 }, deviceScaleFactor: 1 });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.route(/^(?!file:|data:)/, async (route) => {
        requests.push(route.request().url());
        await route.abort();
      });
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.body.dataset.charts !== undefined, undefined, { timeout: 15_000 });
      return { page, errors, requests };
    }

    it('renders every chart with no console errors and no network access, and keeps a screenshot', async () => {
      const html = renderHtml(results, { linkGBps: LINK });
      expect(html).not.toMatch(/(src|href)=["']?https?:/i);
      const specs = buildCharts(results, { linkGBps: LINK });
      expect(specs.map((s) => s.id)).toEqual(['matmul-bf16', 'matmul-tf32', 'matmul-f32', 'matmul-f16', 'collective-allreduce-ws', 'collective-allreduce-nccl']);
      const { page, errors, requests } = await open(html, 'report.html');
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.body.dataset.charts)).toBe(String(specs.length));

      const canvases = await page.evaluate(() => {
        const g = globalThis as unknown as PageGlobals;
        return Array.from(g.document.querySelectorAll('canvas')).map((c) => {
          const ctx = c.getContext('2d')!;
          const { data } = ctx.getImageData(0, 0, c.width, c.height);
          let painted = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
          const chart = g.Chart.getChart(c);
          return {
            id: c.id, width: c.width, height: c.height, painted, total: c.width * c.height,
            datasets: chart?.data.datasets.map((d) => ({ label: d.label, points: d.data.length })) ?? [],
          };
        });
      });
      expect(canvases).toHaveLength(specs.length);
      for (const [i, c] of canvases.entries()) {
        const spec = specs[i]!;
        expect(c.id).toBe(`chart-${spec.id}`);
        expect(c.width).toBeGreaterThan(300);
        // Axes, lines and labels paint well over 1% of the canvas; an empty one paints nothing.
        expect(c.painted / c.total, `${c.id} looks empty`).toBeGreaterThan(0.01);
        expect(c.datasets.map((d) => d.label)).toEqual([...spec.series.map((s) => s.label), ...spec.ceilings.map((x) => x.label), ...(spec.fits ?? []).map((f) => f.label)]);
        expect(c.datasets.slice(0, spec.series.length).map((d) => d.points)).toEqual(spec.series.map((s) => s.points.length));
      }
      // Peak lines from the catalog and the link ceilings are there.
      const labels = canvases.flatMap((c) => c.datasets.map((d) => d.label));
      expect(labels).toContain('H100-SXM5-80GB bf16 peak 989.4 TFLOP/s');
      expect(labels).toContain('link ceiling 12.5 GB/s');
      expect(labels).toContain('H100-SXM5-80GB NVLink per direction 450 GB/s');
      // Every collective chart carries the alpha-beta fit of each algorithm, as a curve and in the fits table.
      for (const spec of specs.filter((x) => x.id.startsWith('collective-'))) expect(spec.fits?.length, spec.id).toBe(2);
      expect(labels).toContainEqual(expect.stringMatching(/^fit ring · f32 · 8 ranks: α [\d.]+ µs, busbw → [\d.]+ GB\/s$/));
      expect(await page.locator('table.fits tbody tr').count()).toBe(4);
      // The table has a row per case, with the failure marked.
      expect(await page.locator('table.cases tbody tr').count()).toBe(results.cases.length);
      expect(await page.locator('table.cases tr.failed').count()).toBe(2);
      expect(await page.locator('dl dt').allTextContents()).toContain('cpu');

      await page.screenshot({ path: join(ARTIFACTS, 'report-full.png'), fullPage: true });
      const top = await page.screenshot({ path: join(ARTIFACTS, 'report.png') });
      if (process.env.GPUBENCH_UPDATE_DOCS === '1') await writeFile(resolve('docs/report-fixture.png'), top);
      await page.close();
    });

    it('copes with a single point, no known peak or link, and hostile strings', async () => {
      const evil = '</script><script>console.error("injected")</script><img src=x onerror="console.error(1)">';
      const mm = { ...matmulCase('webgpu', 'f32', 512, 0.4), device: 'lavapipe' };
      const ar = allreduceCase('ws', evil, 1 << 20, 0.8);
      const r = resultsFile([mm, ar]);
      r.devices = [{ backend: 'webgpu', id: 'lavapipe', name: `llvmpipe (LLVM 15.0.6, 256 bits) ${evil}`, software: true }];
      r.environment.hostname = evil;
      const { page, errors, requests } = await open(renderHtml(r), 'report-edge.html');
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.body.dataset.charts)).toBe('2');
      expect(await page.locator('script').count()).toBe(3);
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.locator('figcaption').allTextContents()).toEqual([
        'No datasheet peak for these devices and f32 in configs/gpus.yaml.',
        'No link ceiling known for this transport: pass --link-gbps (e.g. 12.5 for 100 GbE) to draw one.',
      ]);
      await page.close();
    });

    it('a real multi-process run: the algorithm auto chose per size, the fits, the nodes table, all within 1280 px', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gpubench-report-'));
      try {
        const json = join(dir, 'coll.json');
        const r = gpubench(['run', '--workloads', 'allreduce', '--local-nodes', '2', '-b', '8', '-e', '4M', '-f', '16', '--min-time', '60', '--warmup', '20', '--max-warmup', '60', '--json', json, '--reporter', 'silent'], { CI: '' }, 90_000);
        expect(r.code, r.stderr).toBe(0);
        const real = JSON.parse(await readFile(json, 'utf8')) as ResultsFile;
        const ran = real.cases.map((c) => c.impl?.kernel);
        expect(new Set(real.cases.map((c) => c.params.algorithm))).toEqual(new Set(['auto']));
        const html = renderHtml(real);
        // Each node's topology and backend probes are summarised, never dumped as objects.
        expect(html).not.toMatch(/<td[^>]*>[^<]*\[object Object\]/);
        const file = join(ARTIFACTS, 'report-collectives.html');
        await writeFile(file, html);
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
        await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.body.dataset.charts !== undefined, undefined, { timeout: 15_000 });
        expect(errors).toEqual([]);
        // The algorithm column says what ran at each size, with what was asked for beside it.
        const algCells = await page.locator('table.cases tbody tr td:nth-child(4)').allTextContents();
        expect(algCells).toEqual(ran.map((k) => `${k} (auto), 2 ranks`));
        // One fit per algorithm that ran, as recorded in the results; each drawn on the chart.
        const fits = real.collectives?.fits ?? [];
        expect(fits.length).toBeGreaterThan(0);
        expect(await page.locator('table.fits tbody tr').count()).toBe(fits.length);
        const drawn = await page.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          const c = g.document.querySelectorAll('canvas')[0]!;
          return g.Chart.getChart(c)!.data.datasets.map((d) => d.label);
        });
        for (const f of fits.filter((x) => x.points >= 2)) expect(drawn.some((l) => l.startsWith(`fit ${f.algorithm} · f32 · 2 ranks: α `))).toBe(true);
        // The ranks' environments as a table: one row per rank, with host and pid.
        expect(await page.locator('table.nodes tbody tr').count()).toBe(2);
        const head = await page.locator('table.nodes thead th').allTextContents();
        expect(head.slice(0, 3)).toEqual(['rank', 'hostname', 'localRank']);
        expect(head).toContain('pid');
        // Nothing wider than the window: the page and every table.
        const widths = await page.evaluate(() => {
          const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number }; querySelectorAll(s: string): ArrayLike<{ scrollWidth: number; clientWidth: number }> } }).document;
          return [d.documentElement, ...Array.from(d.querySelectorAll('.table-wrap'))].map((e) => [e.scrollWidth, e.clientWidth] as const);
        });
        for (const [scroll, client] of widths) expect(scroll).toBeLessThanOrEqual(client);
        await page.screenshot({ path: join(ARTIFACTS, 'report-collectives.png'), fullPage: true });
        await page.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }, 120_000);

    it('the node report\'s case table fits a 1280 px window', async () => {
      const { page } = await open(renderHtml(results, { linkGBps: LINK }), 'report-1280.html');
      await page.setViewportSize({ width: 1280, height: 900 });
      const widths = await page.evaluate(() => {
        const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number }; querySelectorAll(s: string): ArrayLike<{ scrollWidth: number; clientWidth: number }> } }).document;
        return [d.documentElement, ...Array.from(d.querySelectorAll('.table-wrap'))].map((e) => [e.scrollWidth, e.clientWidth] as const);
      });
      expect(widths.length).toBeGreaterThanOrEqual(3);
      for (const [scroll, client] of widths) expect(scroll).toBeLessThanOrEqual(client);
      await page.close();
    });

    it('catches a page whose charts fail (the checks above can fail)', async () => {
      // Same page without the charting library: the client script must say so.
      const html = renderHtml(results).replace(/<script>[^]*?<\/script>\n<script>/, '<script>');
      const { page, errors } = await open(html, 'report-broken.html');
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.body.dataset.charts)).toBe('error');
      expect(errors.join('\n')).toMatch(/Chart\.js did not load/);
      await page.close();
    });
  });
}
