/**
 * The `fleet` section of the HTML report (`gpubench fleet` results): the verdict, one bar
 * per node (its matmul time per call against the fleet median) and the pair heatmap
 * (bandwidth of every link, coloured by its ratio to the median link). Static HTML and
 * CSS, no script: it reads the same offline as the rest of the page.
 */
import type { ResultsFile } from '../../harness/results/schema.js';
import type { FleetSection } from '../../fleet/run-fleet.js';
import { escapeHtml } from './html.js';

/** CSS of the fleet section (added to the page's). */
export const FLEET_CSS = `
.fleet-bars { display: grid; grid-template-columns: max-content 1fr max-content; gap: 3px 8px; align-items: center; font-size: 13px; max-width: 900px; }
.fleet-bar { position: relative; height: 14px; background: #eef; }
.fleet-bar > span { display: block; height: 100%; background: #4a7bd0; }
.fleet-bar.suspect > span { background: #c33; }
.fleet-bar > i { position: absolute; top: -2px; bottom: -2px; width: 2px; background: #333; }
table.fleet-heat { width: auto; font-size: 11px; }
table.fleet-heat td, table.fleet-heat th { text-align: center; padding: 3px 5px; min-width: 38px; }
.fleet-suspects li { margin: 2px 0; }
`;

const num = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Red (ratio ≤ 0.25) through yellow to green (ratio ≥ 1) for a link's bandwidth / the median link's. */
function heat(ratio: number): string {
  const t = Math.max(0, Math.min(1, (ratio - 0.25) / 0.75));
  return `hsl(${Math.round(120 * t)}, 70%, ${Math.round(80 - 15 * t)}%)`;
}

/** The section, or '' when the results have no `fleet` part. */
export function fleetSection(results: ResultsFile): string {
  const f = (results as ResultsFile & { fleet?: FleetSection }).fleet;
  if (!f) return '';
  const host = (r: number) => f.nodes[r]?.host ?? '?';
  // A bar is red for a node slow at its matmul (or lost); one blamed for its links shows in the heatmap.
  const slowRanks = new Set(f.suspects.filter((s) => s.via === 'node' || s.via === 'lost').flatMap((s) => s.ranks));
  const suspectRanks = new Set(f.suspects.filter((s) => s.kind !== 'link').flatMap((s) => s.ranks));
  const verdict = f.suspects.length
    ? `<p><b class="error">${f.suspects.length} suspect${f.suspects.length === 1 ? '' : 's'}</b>${f.exclude ? ` — exclude: <code>${escapeHtml(f.exclude)}</code>` : ''}</p><ol class="fleet-suspects">${f.suspects.map((s) => `<li>${escapeHtml(s.kind)}: ${escapeHtml(s.evidence)}</li>`).join('')}</ol>`
    : '<p><b>No suspect.</b></p>';
  const timed = f.nodes.filter((n) => n.medianMs !== null);
  const max = Math.max(...timed.map((n) => n.medianMs!), 0);
  const fleetMedian = timed.length ? median(timed.map((n) => n.medianMs!)) : 0;
  const bars = timed.length
    ? `<h3>Matmul per node (${escapeHtml(`${timed[0]!.backend} ${timed[0]!.dtype} ${timed[0]!.size}³`)}, ms per call; line: fleet median ${num(fleetMedian)} ms)</h3>
<div class="fleet-bars">${f.nodes.map((n) => {
        const v = n.medianMs;
        const label = `<span>rank ${n.rank} <span class="muted">${escapeHtml(n.host)}</span></span>`;
        if (v === null) return `${label}<div class="fleet-bar suspect"></div><span class="error">${escapeHtml(n.error ?? f.lost.find((l) => l.rank === n.rank)?.reason ?? 'not measured')}</span>`;
        return `${label}<div class="fleet-bar${slowRanks.has(n.rank) ? ' suspect' : ''}" title="${escapeHtml(`${num(v)} ms, ${n.samplesMs.length} samples`)}"><span style="width:${((100 * v) / max).toFixed(1)}%"></span><i style="left:${((100 * fleetMedian) / max).toFixed(1)}%"></i></div><span>${num(v)} ms</span>`;
      }).join('\n')}</div>`
    : '';
  const m = f.pairs.matrix.bandwidthMBps;
  const cells = m.flatMap((row, a) => row.flatMap((v, b) => (v !== null && a < b ? [v] : [])));
  // Colours against the links between nodes above suspicion, so bad nodes do not move the scale.
  const clean = m.flatMap((row, a) => row.flatMap((v, b) => (v !== null && a < b && !suspectRanks.has(a) && !suspectRanks.has(b) ? [v] : [])));
  const linkMedian = clean.length ? median(clean) : cells.length ? median(cells) : 0;
  const heatmap = cells.length
    ? `<h3>Pair bandwidth, MB/s (${f.pairs.links.length} links in ${f.pairs.rounds} rounds; colour: ratio to the median link between unsuspected nodes, ${num(linkMedian)} MB/s)</h3>
<div style="overflow-x:auto"><table class="fleet-heat"><thead><tr><th></th>${m.map((_, b) => `<th title="${escapeHtml(host(b))}">${b}</th>`).join('')}</tr></thead><tbody>
${m.map((row, a) => `<tr><th title="${escapeHtml(host(a))}">${a}</th>${row.map((v, b) => (a === b ? '<td>—</td>' : v === null ? '<td class="muted">?</td>' : `<td style="background:${heat(v / linkMedian)}" title="${escapeHtml(`${a} (${host(a)}) ↔ ${b} (${host(b)}): ${num(v)} MB/s, latency ${num(f.pairs.matrix.latencyUs[a]![b] ?? NaN)} µs`)}">${num(v)}</td>`)).join('')}</tr>`).join('\n')}
</tbody></table></div>`
    : '';
  const ar = f.allreduce && 'busbwGBps' in f.allreduce ? `<p>Ring all-reduce of ${f.allreduce.bytes} B over ${f.worldSize} ranks: busbw ${num(f.allreduce.busbwGBps)} GB/s.</p>` : f.allreduce && 'skipped' in f.allreduce ? `<p class="muted">Whole-group all-reduce skipped: ${escapeHtml(f.allreduce.skipped)}</p>` : '';
  return `<h2>Fleet: ${f.worldSize} ranks</h2>\n${verdict}\n${bars}\n${heatmap}\n${ar}`;
}
