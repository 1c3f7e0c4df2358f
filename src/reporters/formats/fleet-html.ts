/**
 * The `fleet` section of the HTML report (`gpubench fleet` results): the verdict with every
 * suspect's evidence (node, link, lost, group), one bar per node for its matmul time and
 * beside it one for its device-copy bandwidth (each against the fleet median), the node
 * table with each phase's device telemetry, the pair heatmap (bandwidth of every link,
 * coloured by its ratio to the median link) and the all-reduce table (the whole group
 * against what its pairs predict, the bisection levels, the k-batches). Static HTML and
 * CSS, no script: it reads the same offline as the rest of the page.
 */
import type { ResultsFile } from '../../harness/results/schema.js';
import type { FleetGroupRun, FleetNode, FleetSection } from '../../fleet/run-fleet.js';
import type { GroupJudged } from '../../fleet/bisect.js';
import type { NodeTelemetry } from '../../fleet/telemetry.js';
import { escapeHtml } from './html.js';

/** CSS of the fleet section (added to the page's). */
export const FLEET_CSS = `
.fleet-panels { display: flex; flex-wrap: wrap; gap: 0 32px; }
.fleet-panels > section { flex: 1 1 420px; min-width: 0; max-width: 640px; }
.fleet-bars { display: grid; grid-template-columns: max-content 1fr max-content; gap: 3px 8px; align-items: center; font-size: 13px; }
.fleet-bar { position: relative; height: 14px; background: #eef; }
.fleet-bar > span { display: block; height: 100%; background: #4a7bd0; }
.fleet-bar.memcpy > span { background: #3f9d8c; }
.fleet-bar.suspect > span { background: #c33; }
.fleet-bar > i { position: absolute; top: -2px; bottom: -2px; width: 2px; background: #333; }
table.fleet-heat { width: auto; font-size: 11px; }
table.fleet-heat td, table.fleet-heat th { text-align: center; padding: 3px 5px; min-width: 38px; }
table.fleet-nodes, table.fleet-ar { width: auto; max-width: 100%; }
tr.suspect td { background: #ffebe9; }
.fleet-suspects li { margin: 2px 0; overflow-wrap: anywhere; }
`;

const num = (x: number) => (!Number.isFinite(x) ? String(x) : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const whole = (x: number) => x.toFixed(0);
const count = (x: number) => (Number.isInteger(x) ? String(x) : num(x));
const size = (bytes: number) => (bytes >= 2 ** 20 ? `${count(bytes / 2 ** 20)} MiB` : `${count(bytes / 2 ** 10)} KiB`);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const pval = (p: number) => (p < 1e-3 ? p.toExponential(1) : p.toFixed(3));
/** Throttle reasons that say the device held itself back (as src/fleet/telemetry.ts judges them). */
const SLOWING = /slowdown|power-cap|power-brake|thermal/;

/** Red (ratio ≤ 0.25) through yellow to green (ratio ≥ 1) for a link's bandwidth / the median link's. */
function heat(ratio: number): string {
  const t = Math.max(0, Math.min(1, (ratio - 0.25) / 0.75));
  return `hsl(${Math.round(120 * t)}, 70%, ${Math.round(80 - 15 * t)}%)`;
}

/** One bar of a per-node panel: a value, or a note in its place (why it was not measured). */
interface Bar {
  node: FleetNode;
  value: number | null;
  note?: { text: string; error: boolean };
  suspect: boolean;
  title: string;
}

/** A panel of one bar per node, scaled to the largest value, with the fleet median as a line. */
function barPanel(heading: string, unit: string, kind: string, bars: Bar[], cases: number): string {
  const values = bars.flatMap((b) => (b.value === null ? [] : [b.value]));
  if (!values.length) return '';
  const max = Math.max(...values);
  const mid = median(values);
  const rows = bars.map((b) => {
    const label = `<span>rank ${b.node.rank} <span class="muted">${escapeHtml(b.node.host)}</span></span>`;
    if (b.value === null) {
      const note = b.note ?? { text: 'not measured', error: true };
      return `${label}<div class="fleet-bar ${kind}${note.error ? ' suspect' : ''}"></div><span class="${note.error ? 'error' : 'muted'}">${escapeHtml(note.text)}</span>`;
    }
    return `${label}<div class="fleet-bar ${kind}${b.suspect ? ' suspect' : ''}" title="${escapeHtml(b.title)}"><span style="width:${((100 * b.value) / max).toFixed(1)}%"></span><i style="left:${((100 * mid) / max).toFixed(1)}%"></i></div><span>${num(b.value)} ${unit}</span>`;
  });
  // Nodes that ran different cases are judged each against its own kind; the one line is then only a guide.
  const mixed = cases > 1 ? `; ${cases} different cases, each node judged against those that ran its own` : '';
  return `<section><h3>${escapeHtml(heading)} (line: fleet median ${num(mid)} ${unit}${mixed})</h3>\n<div class="fleet-bars">${rows.join('\n')}</div></section>`;
}

/** One phase's telemetry in a cell: clocks, power, temperature, throttle reasons (the slowing ones in red). */
function telemetryCell(t: NodeTelemetry | undefined): string {
  if (!t) return '<td class="muted">—</td>';
  if ('none' in t) return `<td class="text muted">${escapeHtml(String(t.none))}</td>`;
  const clocks = [t.avgSmClockMHz !== undefined && `${whole(t.avgSmClockMHz)} MHz SM`, t.avgMemClockMHz !== undefined && `${whole(t.avgMemClockMHz)} MHz mem`].filter(Boolean).join(', ');
  const parts = [clocks, `${whole(t.avgWatts)} W (max ${whole(t.maxWatts)})`, t.maxTemperatureC !== undefined && `${whole(t.maxTemperatureC)} °C max`].filter(Boolean).map((s) => escapeHtml(String(s)));
  const reasons = t.throttleReasons.length
    ? t.throttleReasons.map((r) => (SLOWING.test(r) ? `<span class="error">${escapeHtml(r)}</span>` : escapeHtml(r))).join(', ')
    : 'no throttle reason';
  return `<td class="text">${parts.join(' · ')}<br>${reasons}</td>`;
}

/** The node table: what ran where, its medians, and each phase's telemetry where any node has some. */
function nodeTable(f: FleetSection, suspectRanks: Set<number>): string {
  const phases = (['matmul', 'memcpy'] as const).filter((p) => f.nodes.some((n) => n.telemetry?.[p] !== undefined));
  const real = phases.filter((p) => f.nodes.some((n) => { const t = n.telemetry?.[p]; return t !== undefined && !('none' in t); }));
  // A phase no node has telemetry for gets one line under the table, not a column of the same reason.
  const none = phases.filter((p) => !real.includes(p)).map((p) => {
    const why = [...new Set(f.nodes.flatMap((n) => { const t = n.telemetry?.[p]; return t && 'none' in t ? [t.none] : []; }))];
    return `${p}: ${why.join('; ')}`;
  });
  const hasCopy = f.nodes.some((n) => n.memcpy);
  const head = ['rank', 'host', 'matmul', 'ms/call', 'TFLOP/s', ...(hasCopy ? ['memcpy', 'GB/s'] : []), ...real.map((p) => `telemetry (${p})`)];
  const rows = f.nodes.map((n) => {
    const c = n.memcpy;
    const copy = !hasCopy ? '' : !c ? '<td class="muted">—</td><td></td>'
      : `<td class="text">${escapeHtml(`${c.backend} · ${c.device} · ${size(c.bytes)}`)}</td>${c.bandwidthGBps !== null ? `<td class="num">${num(c.bandwidthGBps)}</td>` : `<td class="text ${c.error ? 'error' : 'muted'}">${escapeHtml(c.error ?? c.unavailable ?? 'not measured')}</td>`}`;
    const mm = n.backend ? `${n.backend} · ${n.device ?? '?'} · ${n.dtype ?? '?'} ${n.size ?? '?'}³` : '—';
    const ms = n.medianMs !== null ? `<td class="num">${num(n.medianMs)}</td><td class="num">${n.tflops !== null ? num(n.tflops) : '—'}</td>` : `<td colspan="2" class="text error">${escapeHtml(n.error ?? f.lost.find((l) => l.rank === n.rank)?.reason ?? 'not measured')}</td>`;
    return `<tr${suspectRanks.has(n.rank) ? ' class="suspect"' : ''}><td class="num">${n.rank}</td><td>${escapeHtml(n.host)}</td><td class="text">${escapeHtml(mm)}</td>${ms}${copy}${real.map((p) => telemetryCell(n.telemetry?.[p])).join('')}</tr>`;
  });
  return `<h3>Nodes</h3>\n<div class="table-wrap"><table class="fleet-nodes"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table></div>${none.length ? `\n<p class="muted">No device telemetry: ${escapeHtml(none.join('; '))}.</p>` : ''}`;
}

/** Rows of one level of groups (bisection or k-batch): busbw, the others' median, slowdown, p, MADs, slow. */
function groupRows(label: string, groups: FleetGroupRun[], judged: GroupJudged[], unjudged: string): string[] {
  return groups.map((g, i) => {
    const j = judged.find((x) => x.ranks.join() === g.ranks.join());
    const first = i === 0 ? `<td rowspan="${groups.length}">${escapeHtml(label)}</td>` : '';
    const ranks = `<td>${escapeHtml(g.ranks.join(','))}</td>`;
    if (g.error || g.medianBusbwGBps === null) return `<tr>${first}${ranks}<td colspan="6" class="text error">${escapeHtml(g.error ?? 'no samples')}</td></tr>`;
    const judgement = j
      ? `<td class="num">${num(j.median)}</td><td class="num">${pct(j.slowdown)}</td><td class="num">${pval(j.p)}</td><td class="num">${j.mads === null ? '—' : num(j.mads)}</td><td>${j.slow ? '<b class="error">slow</b>' : 'ok'}</td>`
      : `<td colspan="5" class="text muted">${escapeHtml(unjudged)}</td>`;
    return `<tr${j?.slow ? ' class="suspect"' : ''}>${first}${ranks}<td class="num">${num(g.medianBusbwGBps)}</td>${judgement}</tr>`;
  });
}

/** The whole-group all-reduce against its pairs, the bisection levels and the k-batches. */
function allreduceSection(f: FleetSection): string {
  const ar = f.allreduce;
  if (!ar) return '';
  if ('skipped' in ar) return `<h3>All-reduce</h3>\n<p class="muted">Whole-group all-reduce skipped: ${escapeHtml(ar.skipped)}</p>`;
  const p = ar.predicted;
  const whole = `<p>Ring all-reduce of ${size(ar.bytes)} over ${f.worldSize} ranks: busbw <b>${num(ar.busbwGBps)} GB/s</b> (algbw ${num(ar.algbwGBps)} GB/s, ${num(ar.medianMs)} ms, ${ar.samplesMs.length} samples)${p
    ? `; predicted by its slowest link ${p.link.join('↔')}: ${num(p.busbwGBps)} GB/s, ratio <b${p.slow ? ' class="error"' : ''}>${pct(p.ratio)}</b>, p=${pval(p.p)}: ${p.slow ? 'slow against the pairs' : 'as the pairs predict'}`
    : '; no prediction (a ring link was not measured)'}.</p>`;
  const b = f.bisection;
  const rows: string[] = [];
  b?.levels.forEach((l, i) => rows.push(...groupRows(`bisection level ${i + 1}`, l.groups, l.judged, 'not judged')));
  const k = f.kBatches;
  if (k) rows.push(...groupRows(`${k.k}-batches`, k.groups, k.judged, 'not judged: a group needs at least 3 others'));
  const table = rows.length
    ? `<div class="table-wrap"><table class="fleet-ar"><thead><tr><th>run</th><th>ranks</th><th>busbw GB/s</th><th>others' median</th><th>slower</th><th>p</th><th>MADs</th><th>verdict</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table></div>`
    : '';
  const bis = !b ? '' : `<p class="muted">Bisection: ${escapeHtml(b.skipped ? `skipped (${b.skipped})` : b.localised ? `localised to ranks ${b.localised.join(',')}` : `no subgroup slower than its level in ${b.levels.length} level${b.levels.length === 1 ? '' : 's'}`)}.</p>`;
  return `<h3>All-reduce: the whole group, its bisection, k-batches</h3>\n${whole}\n${bis}\n${table}`;
}

/** The section, or '' when the results have no `fleet` part. */
export function fleetSection(results: ResultsFile): string {
  const f = (results as ResultsFile & { fleet?: FleetSection }).fleet;
  if (!f) return '';
  const host = (r: number) => f.nodes[r]?.host ?? '?';
  const lost = new Set(f.lost.map((l) => l.rank));
  // A bar is red for a node slow at that metric, or lost or failed there; one blamed for its links shows in the heatmap.
  const slowAt = (metric: string) => new Set(f.suspects.filter((s) => s.via === 'node' && s.metric === metric).flatMap((s) => s.ranks));
  const lostOrFailed = new Set(f.suspects.filter((s) => s.via === 'lost').flatMap((s) => s.ranks));
  const slowMatmul = slowAt('matmul time');
  const slowCopy = slowAt('memcpy bandwidth');
  const suspectRanks = new Set(f.suspects.filter((s) => s.kind === 'node' || s.kind === 'lost').flatMap((s) => s.ranks));
  const verdict = f.suspects.length
    ? `<p><b class="error">${f.suspects.length} suspect${f.suspects.length === 1 ? '' : 's'}</b>${f.exclude ? ` — exclude: <code>${escapeHtml(f.exclude)}</code>` : ''}</p><ol class="fleet-suspects">${f.suspects.map((s) => `<li>${escapeHtml(s.kind)} <span class="muted">(via ${escapeHtml(s.via)})</span>: ${escapeHtml(s.evidence)}</li>`).join('')}</ol>`
    : '<p><b>No suspect.</b></p>';
  const first = f.nodes.find((n) => n.medianMs !== null);
  const matmul = barPanel(first ? `Matmul per node: ${first.backend} ${first.dtype} ${first.size}³, ms per call` : '', 'ms', 'matmul', f.nodes.map((n) => ({
    node: n,
    value: n.medianMs,
    ...(n.medianMs === null ? { note: { text: n.error ?? f.lost.find((l) => l.rank === n.rank)?.reason ?? 'not measured', error: true } } : {}),
    suspect: slowMatmul.has(n.rank) || (lostOrFailed.has(n.rank) && (lost.has(n.rank) || n.error !== undefined)),
    title: `${num(n.medianMs ?? NaN)} ms, ${n.samplesMs.length} samples`,
  })), new Set(f.nodes.filter((n) => n.medianMs !== null).map((n) => `${n.backend} ${n.device} ${n.dtype} ${n.size}`)).size);
  const copyOf = f.nodes.find((n) => n.memcpy?.bandwidthGBps != null)?.memcpy;
  const memcpy = barPanel(copyOf ? `Device copy per node: ${copyOf.backend} memcpy of ${size(copyOf.bytes)}, GB/s` : '', 'GB/s', 'memcpy', f.nodes.map((n) => {
    const c = n.memcpy;
    const note = !c ? { text: lost.has(n.rank) ? 'lost' : 'not run', error: lost.has(n.rank) } : c.bandwidthGBps === null ? { text: c.error ?? c.unavailable ?? 'not measured', error: c.unavailable === undefined } : undefined;
    return {
      node: n,
      value: c?.bandwidthGBps ?? null,
      ...(note ? { note } : {}),
      suspect: slowCopy.has(n.rank) || (lostOrFailed.has(n.rank) && (lost.has(n.rank) || c?.error !== undefined)),
      title: c ? `${num(c.bandwidthGBps ?? NaN)} GB/s, ${num(c.medianMs ?? NaN)} ms per copy, ${c.samplesMs.length} samples` : '',
    };
  }), new Set(f.nodes.flatMap((n) => (n.memcpy?.bandwidthGBps != null ? [`${n.memcpy.backend} ${n.memcpy.device} ${n.memcpy.bytes}`] : []))).size);
  const bars = matmul || memcpy ? `<div class="fleet-panels">${matmul}${memcpy}</div>` : '';
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
  return `<h2>Fleet: ${f.worldSize} ranks</h2>\n${verdict}\n${bars}\n${nodeTable(f, suspectRanks)}\n${heatmap}\n${allreduceSection(f)}`;
}
