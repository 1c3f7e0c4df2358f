/**
 * The fleet section of the HTML report: on a synthetic fleet (a slow node, an unmeasured
 * link, a group suspect, a copy that failed), on two results files of real runs kept as
 * fixtures, and in headless Chromium (no console error, nothing wider than 1280 px, every
 * section there). The fixtures: `test/fixtures/fleet/local-4.json` is `gpubench fleet
 * --local-nodes 4` with test/fleet-local.test.ts's fast options and `--allreduce-k 2` (no
 * telemetry; the ring slow against its pairs, so bisected); `telemetry-4.json` is
 * test/fleet-telemetry.test.ts's run (fake CUDA and NVML, rank 2 copying at a third of the
 * rate with hw-slowdown) with `--allreduce-bytes 256K --allreduce-k 2`.
 * GPUBENCH_UPDATE_DOCS=1 refreshes docs/fleet-report.png from the telemetry fixture.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../src/reporters/formats/html.js';
import type { ResultsFile } from '../src/harness/results/schema.js';
import type { FleetSection } from '../src/fleet/run-fleet.js';
import { CHROMIUM_FIX, haveChromium, launchChromium, requireChromium } from './chromium.js';

const fixture = (name: string) => JSON.parse(readFileSync(resolve('test/fixtures/fleet', name), 'utf8')) as ResultsFile & { fleet: FleetSection };
/** The text between `start` and the end of the first `end` after it. */
const between = (html: string, start: string, end: string) => html.slice(html.indexOf(start), html.indexOf(end, html.indexOf(start)) + end.length);
const bars = (html: string, kind: string) => html.match(new RegExp(`class="fleet-bar ${kind}( suspect)?"`, 'g')) ?? [];

/** A fleet results file of 3 nodes: rank 2 slow at its matmul, one link unmeasured. */
function fleetResults(): ResultsFile {
  const bw = [[null, 100, 20], [100, null, null], [20, null, null]];
  return {
    schema: 'gpubench.results/v1',
    run: { id: 'r', startedAt: '2026-01-01T00:00:00Z', argv: ['fleet'], version: '0', status: 'complete' },
    environment: { hostname: 'h', os: 'linux', arch: 'x64', cpu: 'c', memoryBytes: 1, node: 'v20', packages: {}, nodes: [] },
    devices: [],
    cases: [],
    fleet: {
      worldSize: 3, tolerance: 0.1, alpha: 0.01, minMads: 5, phases: { matmul: 'done', pairs: 'done', allreduce: 'off' }, phaseMs: {},
      nodes: [0, 1, 2].map((rank) => ({ rank, host: `gpu00${rank}`, pid: 1, backend: 'tfjs-cpu', device: 'cpu', size: 256, dtype: 'f32', samplesMs: [10], medianMs: rank === 2 ? 30 : 10, tflops: 1 })),
      pairs: { bytes: 1, rounds: 3, links: [], matrix: { bandwidthMBps: bw, latencyUs: bw } },
      lost: [],
      suspects: [{ kind: 'node', ranks: [2], via: 'node', metric: 'matmul time', unit: 'ms', value: 30, median: 10, slowdown: 2, mads: 9, p: 0.001, samples: 5, evidence: 'rank 2 (gpu002): matmul time 30 ms vs median 10 ms <b>', hosts: ['gpu002'] }],
      exclude: 'gpu002',
    },
  } as unknown as ResultsFile;
}

describe('the HTML report of a fleet run', () => {
  it('shows the verdict, a bar per node (the slow one red) and the pair heatmap', () => {
    const html = renderHtml(fleetResults());
    expect(html).toContain('<h2>Fleet: 3 ranks</h2>');
    expect(html).toContain('exclude: <code>gpu002</code>');
    // Evidence is escaped.
    expect(html).toContain('median 10 ms &lt;b&gt;');
    expect(bars(html, 'matmul')).toEqual(['class="fleet-bar matmul"', 'class="fleet-bar matmul"', 'class="fleet-bar matmul suspect"']);
    // 3×3 heatmap: diagonal dashes, the unmeasured pair as "?", values coloured.
    const table = between(html, '<table class="fleet-heat">', '</table>');
    expect(table.match(/<td>—<\/td>/g)).toHaveLength(3);
    expect(table.match(/<td class="muted">\?<\/td>/g)).toHaveLength(2);
    expect(table).toMatch(/background:hsl\(120, 70%, 65%\)[^>]*>100</);
    expect(html).not.toContain('No measured cases to plot');
  });

  it('lists a group suspect with its evidence, marks its level slow, and shows failed and unavailable copies', () => {
    const r = fleetResults() as ResultsFile & { fleet: FleetSection };
    const f = r.fleet;
    f.nodes[0]!.memcpy = { backend: 'cuda', device: 'H100', bytes: 2 ** 28, samplesMs: [1, 1], medianMs: 1, bandwidthGBps: 268 };
    f.nodes[1]!.memcpy = { backend: 'cuda', device: 'H100', bytes: 2 ** 28, samplesMs: [], medianMs: null, bandwidthGBps: null, error: 'copy check failed: 12 wrong' };
    f.nodes[2]!.memcpy = { backend: 'none', device: '', bytes: 0, samplesMs: [], medianMs: null, bandwidthGBps: null, unavailable: 'no backend here runs memcpy' };
    const run = (ranks: number[], bw: number) => ({ ranks, samplesMs: [1], busbwGBps: [bw], medianBusbwGBps: bw });
    const judged = (ranks: number[], value: number, median: number, slow: boolean) => ({ ranks, value, median, slowdown: median / value - 1, p: slow ? 1e-4 : 0.5, mads: slow ? 12 : 0.3, samples: 10, slow });
    f.allreduce = { bytes: 2 ** 18, algorithm: 'ring', medianMs: 4, algbwGBps: 0.07, busbwGBps: 0.09, samplesMs: [4, 4], predicted: { link: [1, 2], busbwGBps: 1.5, ratio: 0.06, p: 2e-5, slow: true } };
    f.bisection = { reason: 'slow', levels: [{ groups: [run([0, 1], 0.4), run([2], 0)], judged: [] }, { groups: [run([0], 0.5), run([1, 2], 0.05)], judged: [judged([0], 0.5, 0.05, false), judged([1, 2], 0.05, 0.5, true)] }], localised: [1, 2] };
    f.bisection.levels[0]!.groups[1] = { ranks: [2], samplesMs: [], busbwGBps: [], medianBusbwGBps: null, error: 'rank 2 <lost>' };
    f.suspects.push({ kind: 'group', ranks: [1, 2], via: 'bisection', metric: 'all-reduce busbw', unit: 'GB/s', value: 0.05, median: 0.5, slowdown: 9, mads: 12, p: 1e-4, samples: 10, evidence: 'ranks 1,2 (gpu001,gpu002): ring all-reduce busbw 0.05 GB/s vs median 0.5 GB/s', hosts: ['gpu001', 'gpu002'] });
    const html = renderHtml(r);
    expect(html).toContain('<b class="error">2 suspects</b>');
    expect(html).toContain('<li>group <span class="muted">(via bisection)</span>: ranks 1,2 (gpu001,gpu002): ring all-reduce busbw 0.05 GB/s vs median 0.5 GB/s</li>');
    // A group suspect colours no node's bar: only rank 2's matmul (its own suspect) is red; the failed copy is red, the unavailable one not.
    expect(bars(html, 'matmul')).toEqual(['class="fleet-bar matmul"', 'class="fleet-bar matmul"', 'class="fleet-bar matmul suspect"']);
    const copies = between(html, 'Device copy per node', '</section>');
    expect(copies).toContain('cuda memcpy of 256 MiB');
    expect(bars(copies, 'memcpy')).toEqual(['class="fleet-bar memcpy"', 'class="fleet-bar memcpy suspect"', 'class="fleet-bar memcpy"']);
    expect(copies).toContain('<span class="error">copy check failed: 12 wrong</span>');
    expect(copies).toContain('<span class="muted">no backend here runs memcpy</span>');
    const ar = between(html, 'All-reduce: the whole group', '</table>');
    expect(ar).toContain('busbw <b>0.0900 GB/s</b>');
    expect(ar).toContain('predicted by its slowest link 1↔2: 1.50 GB/s, ratio <b class="error">6%</b>, p=2.0e-5: slow against the pairs');
    expect(ar).toContain('Bisection: localised to ranks 1,2.');
    // Level 1: one group ran, one lost its rank (escaped); level 2: the localised group slow, in a suspect row.
    expect(ar).toContain('<td colspan="6" class="text error">rank 2 &lt;lost&gt;</td>');
    expect(ar).toMatch(/<tr class="suspect"><td>1,2<\/td><td class="num">0.0500<\/td><td class="num">0.500<\/td><td class="num">900%<\/td><td class="num">1.0e-4<\/td><td class="num">12.00<\/td><td><b class="error">slow<\/b><\/td><\/tr>/);
    expect(ar.match(/<tr class="suspect">/g)).toHaveLength(1);
  });

  it('shows a lost rank red in both panels and its row with the reason', () => {
    const r = fleetResults() as ResultsFile & { fleet: FleetSection };
    const f = r.fleet;
    for (const nd of f.nodes) nd.memcpy = { backend: 'webgpu', device: nd.rank === 0 ? 'A' : 'B', bytes: 2 ** 22, samplesMs: [1], medianMs: 1, bandwidthGBps: 4 };
    Object.assign(f.nodes[1]!, { samplesMs: [], medianMs: null, tflops: null, memcpy: undefined });
    f.lost = [{ rank: 1, host: 'gpu001', reason: 'no heartbeat for 4 s' }];
    f.suspects.push({ kind: 'lost', ranks: [1], via: 'lost', metric: 'alive', unit: '', value: null, median: null, slowdown: null, mads: null, p: null, samples: 0, evidence: 'rank 1 (gpu001): lost: no heartbeat for 4 s', hosts: ['gpu001'] });
    const html = renderHtml(r);
    expect(bars(html, 'matmul')).toEqual(['class="fleet-bar matmul"', 'class="fleet-bar matmul suspect"', 'class="fleet-bar matmul suspect"']);
    expect(between(html, 'Matmul per node', '</section>')).toContain('<span class="error">no heartbeat for 4 s</span>');
    const copies = between(html, 'Device copy per node', '</section>');
    expect(bars(copies, 'memcpy')).toEqual(['class="fleet-bar memcpy"', 'class="fleet-bar memcpy suspect"', 'class="fleet-bar memcpy"']);
    expect(copies).toContain('<span class="error">lost</span>');
    // Ranks 0 and 2 copied on different devices: the heading says the line is only a guide.
    expect(copies).toContain('2 different cases, each node judged against those that ran its own');
    const rows = between(html, '<table class="fleet-nodes">', '</table>').split('\n').filter((l) => l.startsWith('<tr'));
    expect(rows.map((row) => row.startsWith('<tr class="suspect">'))).toEqual([false, true, true]);
    expect(rows[1]).toContain('<td colspan="2" class="text error">no heartbeat for 4 s</td>');
  });

  it('renders a real local run: memcpy bars beside the matmul bars, the node table, the ring against its pairs, bisection and k-batches', () => {
    const r = fixture('local-4.json');
    const f = r.fleet;
    const html = renderHtml(r);
    expect(html).toContain('<p><b>No suspect.</b></p>');
    const panels = between(html, '<div class="fleet-panels">', '</section></div>');
    expect(bars(panels, 'matmul')).toHaveLength(4);
    expect(bars(panels, 'memcpy')).toEqual(Array(4).fill('class="fleet-bar memcpy"'));
    for (const nd of f.nodes) expect(panels).toContain(`${nd.memcpy!.bandwidthGBps! >= 1 ? nd.memcpy!.bandwidthGBps!.toFixed(2) : nd.memcpy!.bandwidthGBps!.toPrecision(3)} GB/s</span>`);
    // The node table: a row per node, its copy's bandwidth; no node has telemetry, said once per phase, with why.
    const nodes = between(html, '<table class="fleet-nodes">', '</table>');
    expect(nodes.match(/<tr>/g)).toHaveLength(5);
    expect(nodes).not.toContain('telemetry (');
    expect(html).toContain('No device telemetry: matmul: the tfjs-cpu backend reads no device telemetry; memcpy: the webgpu backend reads no device telemetry.');
    const ar = f.allreduce as Extract<FleetSection['allreduce'], { busbwGBps: number }>;
    const section = between(html, 'All-reduce: the whole group', '</table>');
    expect(section).toContain(`over 4 ranks: busbw <b>${ar.busbwGBps.toPrecision(3)} GB/s</b>`);
    expect(section).toContain(`ratio <b class="error">${(100 * ar.predicted!.ratio).toFixed(0)}%</b>`);
    expect(section).toContain(`no subgroup slower than its level in ${f.bisection!.levels.length} level`);
    // One row per group of every bisection level and per k-batch; 2 k-batches are too few to judge.
    const groups = f.bisection!.levels.reduce((n, l) => n + l.groups.length, 0) + f.kBatches!.groups.length;
    expect(section.match(/<tr>/g)).toHaveLength(groups + 1);
    expect(section).toContain('<td rowspan="2">2-batches</td>');
    expect(section.match(/not judged: a group needs at least 3 others/g)).toHaveLength(2);
  });

  it('renders a telemetry run: the slow copier red, its throttle reason in red in the node table', () => {
    const r = fixture('telemetry-4.json');
    const html = renderHtml(r);
    const copies = between(html, 'Device copy per node', '</section>');
    expect(bars(copies, 'memcpy')).toEqual(['class="fleet-bar memcpy"', 'class="fleet-bar memcpy"', 'class="fleet-bar memcpy suspect"', 'class="fleet-bar memcpy"']);
    expect(bars(html, 'matmul')).toEqual(Array(4).fill('class="fleet-bar matmul"'));
    const nodes = between(html, '<table class="fleet-nodes">', '</table>');
    expect(nodes).toContain('<th>telemetry (memcpy)</th>');
    expect(nodes).not.toContain('<th>telemetry (matmul)</th>');
    const rows = nodes.split('\n').filter((l) => l.startsWith('<tr'));
    expect(rows).toHaveLength(4);
    rows.forEach((row, rank) => {
      expect(row.startsWith(rank === 2 ? '<tr class="suspect">' : '<tr>')).toBe(true);
      expect(row).toContain('1980 MHz SM, 2619 MHz mem · 350 W (max 350) · 47 °C max<br>');
      expect(row).toContain(rank === 2 ? '<span class="error">hw-slowdown</span>' : '<span class="error">sw-power-cap</span>');
    });
    expect(html).toContain('No device telemetry: matmul: the tfjs-cpu backend reads no device telemetry.');
    expect(html).toContain('as the pairs predict');
  });

  it('adds nothing to a results file without a fleet section', () => {
    const r = fleetResults();
    delete (r as { fleet?: unknown }).fleet;
    expect(renderHtml(r)).not.toContain('Fleet:');
  });
});

const WIDTH = 1280;

if (!haveChromium && requireChromium) {
  describe('the fleet report in Chromium', () => {
    it('needs Chromium (GPUBENCH_REQUIRE_CHROMIUM=1)', () => {
      throw new Error(CHROMIUM_FIX);
    });
  });
} else {
  describe.skipIf(!haveChromium)(`the fleet report in Chromium${haveChromium ? '' : ` (skipped: ${CHROMIUM_FIX})`}`, () => {
    let browser: Browser | undefined;
    const artifacts = resolve('build/test-artifacts');
    beforeAll(async () => {
      browser = await launchChromium();
      mkdirSync(artifacts, { recursive: true });
    });
    afterAll(async () => {
      await browser?.close();
    });

    for (const name of ['local-4', 'telemetry-4']) {
      it(`${name}: no console error, nothing wider than ${WIDTH} px, every section there`, async () => {
        const file = join(artifacts, `fleet-${name}.html`);
        writeFileSync(file, renderHtml(fixture(`${name}.json`)));
        const page = await browser!.newPage({ viewport: { width: WIDTH, height: 900 }, deviceScaleFactor: 1 });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        await page.route(/^(?!file:|data:)/, (route) => route.abort());
        await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
        expect(errors).toEqual([]);
        // Every element's right edge within the window, and nothing scrolls sideways.
        const geometry = await page.evaluate(() => {
          const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number }; querySelectorAll(s: string): ArrayLike<{ scrollWidth: number; clientWidth: number; getBoundingClientRect(): { right: number } }> } }).document;
          const wraps = [d.documentElement, ...Array.from(d.querySelectorAll('.table-wrap'))].map((e) => [e.scrollWidth, e.clientWidth] as const);
          const right = Math.max(...Array.from(d.querySelectorAll('main *')).map((e) => e.getBoundingClientRect().right));
          return { wraps, right };
        });
        for (const [scroll, client] of geometry.wraps) expect(scroll).toBeLessThanOrEqual(client);
        expect(geometry.right).toBeLessThanOrEqual(WIDTH);
        // The sections, and the two bar panels side by side (same top).
        expect(await page.locator('.fleet-bar.matmul').count()).toBe(4);
        expect(await page.locator('.fleet-bar.memcpy').count()).toBe(4);
        const tops = await page.locator('.fleet-panels > section').evaluateAll((els) => els.map((e) => (e as unknown as { getBoundingClientRect(): { top: number } }).getBoundingClientRect().top));
        expect(tops).toHaveLength(2);
        expect(tops[0]).toBe(tops[1]);
        expect(await page.locator('table.fleet-nodes tbody tr').count()).toBe(4);
        expect(await page.locator('table.fleet-heat tbody tr').count()).toBe(4);
        expect(await page.locator('h3', { hasText: 'All-reduce: the whole group' }).count()).toBe(1);
        expect(await page.locator('table.fleet-ar tbody tr').count()).toBeGreaterThanOrEqual(2);
        const shot = await page.screenshot({ path: join(artifacts, `fleet-${name}.png`), fullPage: true });
        if (name === 'telemetry-4' && process.env.GPUBENCH_UPDATE_DOCS === '1') {
          // The page down to the end of the fleet section (the all-reduce table).
          const box = await page.locator('table.fleet-ar').boundingBox();
          await page.screenshot({ path: resolve('docs/fleet-report.png'), fullPage: true, clip: { x: 0, y: 0, width: WIDTH, height: Math.ceil(box!.y + box!.height + 16) } });
        }
        expect(shot.length).toBeGreaterThan(0);
        await page.close();
      }, 60_000);
    }
  });
}
