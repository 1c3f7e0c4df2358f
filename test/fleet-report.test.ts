import { describe, expect, it } from 'vitest';
import { renderHtml } from '../src/reporters/formats/html.js';
import type { ResultsFile } from '../src/harness/results/schema.js';

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
    expect(html.match(/class="fleet-bar( suspect)?"/g)).toEqual(['class="fleet-bar"', 'class="fleet-bar"', 'class="fleet-bar suspect"']);
    // 3×3 heatmap: diagonal dashes, the unmeasured pair as "?", values coloured.
    const table = html.slice(html.indexOf('<table class="fleet-heat">'), html.indexOf('</table>', html.indexOf('fleet-heat')));
    expect(table.match(/<td>—<\/td>/g)).toHaveLength(3);
    expect(table.match(/<td class="muted">\?<\/td>/g)).toHaveLength(2);
    expect(table).toMatch(/background:hsl\(120, 70%, 65%\)[^>]*>100</);
    expect(html).not.toContain('No measured cases to plot');
  });

  it('adds nothing to a results file without a fleet section', () => {
    const r = fleetResults();
    delete (r as { fleet?: unknown }).fleet;
    expect(renderHtml(r)).not.toContain('Fleet:');
  });
});
