/**
 * A self-contained HTML report: Chart.js (its UMD build, read from node_modules at
 * render time) is inlined into the page, so the file works offline and can be
 * attached to a CI run as is. Charts come from `charts.ts`; the page also carries a
 * table of every case with medians and spread, failures, and the environment.
 */
import { FLEET_CSS, fleetSection } from './fleet-html.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CaseResult, ResultsFile } from '../../harness/results/schema.js';
import { buildCharts, collectiveFits, deviceName } from '../charts.js';
import { algorithmLabel, caseOk, caseStats, formatBytes, headline, isCollective, paramString, sig, sizeLabel } from '../cases.js';
import { HISTORY_CLIENT, HISTORY_CSS, historySection } from '../history/html.js';
import type { FormatOptions, Formatter } from './formatter.js';
import { topologySummary } from '../../harness/topology/summary.js';
import type { HostTopology } from '../../harness/topology/schema.js';

let chartJsSource: string | undefined;

/** Chart.js's UMD bundle. The package's exports map hides it, so resolve the package and go to its dist folder. */
export function chartJsBundle(): string {
  if (chartJsSource === undefined) {
    const require = createRequire(import.meta.url);
    const main = require.resolve('chart.js'); // …/chart.js/dist/chart.cjs
    // `</script` cannot appear in the bundle, but guard anyway: it would end the element early.
    chartJsSource = readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8').replace(/<\/script/gi, '<\\/script');
  }
  return chartJsSource;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const CSS = `
:root { color-scheme: light; --fg:#1d2430; --muted:#5c6675; --line:#d9dee6; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; color: var(--fg); margin: 0; background: #f6f8fa; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 16px 24px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
main { padding: 0 24px 32px; max-width: 1400px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; vertical-align: middle; }
.badge.complete, .badge.ok { background: var(--ok); } .badge.partial, .badge.skipped { background: var(--warn); } .badge.failed { background: var(--bad); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px; }
figure .plot { position: relative; height: 320px; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 6px; }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
/* Text wraps so the case table fits a 1280 px window: ids after each '/', sizes after '×', ranges after '–'; numbers stay whole. */
td.id { min-width: 13em; font-family: ui-monospace, monospace; font-size: 12px; }
td.text { overflow-wrap: anywhere; min-width: 7em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.num.range { white-space: normal; }
td.nw { white-space: nowrap; }
.table-wrap { overflow-x: auto; }
h3 { font-size: 14px; margin: 16px 0 6px; }
th { background: #eef1f5; }
tr.failed td { background: #ffebe9; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; background: #fff; border: 1px solid var(--line); padding: 12px; border-radius: 6px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
.error { color: var(--bad); font-weight: 600; }
`;

/** Runs in the page: turns the embedded chart specs into Chart.js charts. */
const CLIENT = `
(function () {
  var specs = JSON.parse(document.getElementById('gpubench-charts').textContent);
  var palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];
  function fmtBytes(b) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (Math.round(b * 10) / 10) + ' ' + u[i];
  }
  function fmtNum(v) { return Number(v.toPrecision(4)).toString(); }
  if (typeof Chart === 'undefined') {
    console.error('gpubench report: Chart.js did not load');
    document.body.dataset.charts = 'error';
    return;
  }
  // p10–p90 of each point as a vertical bar: the spread a median hides.
  var spreadBars = {
    id: 'gpubenchSpread',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx, y = chart.scales.y;
      chart.data.datasets.forEach(function (ds, i) {
        if (ds.ceiling || ds.fit || !chart.isDatasetVisible(i)) return;
        var meta = chart.getDatasetMeta(i);
        ctx.save();
        ctx.strokeStyle = ds.borderColor;
        ctx.globalAlpha = 0.6;
        ctx.lineWidth = 1.5;
        meta.data.forEach(function (el, j) {
          var p = ds.data[j];
          if (!(p.hi > p.lo)) return;
          var top = y.getPixelForValue(p.hi), bottom = y.getPixelForValue(p.lo);
          if (bottom - top < 3) return;
          ctx.beginPath();
          ctx.moveTo(el.x, top); ctx.lineTo(el.x, bottom);
          ctx.moveTo(el.x - 3, top); ctx.lineTo(el.x + 3, top);
          ctx.moveTo(el.x - 3, bottom); ctx.lineTo(el.x + 3, bottom);
          ctx.stroke();
        });
        ctx.restore();
      });
    }
  };
  // Collectives: the algorithm that ran, written where it changes along a series (what \`auto\` chose).
  var ranLabels = {
    id: 'gpubenchRan',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      chart.data.datasets.forEach(function (ds, i) {
        if (ds.ceiling || ds.fit || !chart.isDatasetVisible(i)) return;
        var meta = chart.getDatasetMeta(i), prev = null;
        ctx.save();
        ctx.fillStyle = ds.borderColor; ctx.font = '10px system-ui, sans-serif'; ctx.textAlign = 'center';
        meta.data.forEach(function (el, j) {
          var ran = ds.data[j].ran;
          if (ran && ran !== prev) ctx.fillText(ran, el.x, el.y - 8);
          prev = ran;
        });
        ctx.restore();
      });
    }
  };
  var made = 0;
  specs.forEach(function (spec) {
    var canvas = document.getElementById('chart-' + spec.id);
    if (!canvas) return;
    var xs = [];
    spec.series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p.x); }); });
    var xmin = Math.min.apply(null, xs), xmax = Math.max.apply(null, xs);
    var datasets = spec.series.map(function (s, i) {
      var color = palette[i % palette.length];
      return {
        label: s.label, showLine: true, borderColor: color, backgroundColor: color, pointRadius: 3, borderWidth: 2, pointStyle: 'circle',
        data: s.points.map(function (p) { return { x: p.x, y: p.y, lo: p.lo, hi: p.hi, caseId: p.caseId, size: p.size, medianMs: p.medianMs, ran: p.ran }; })
      };
    });
    spec.ceilings.forEach(function (c, i) {
      datasets.push({
        label: c.label, showLine: true, borderColor: '#444', backgroundColor: '#444', borderDash: [6, 4], borderWidth: 1.5,
        pointRadius: 0, pointStyle: 'line', data: [{ x: xmin, y: c.y }, { x: xmax, y: c.y }], ceiling: true
      });
    });
    (spec.fits || []).forEach(function (f, i) {
      var idx = spec.series.findIndex(function (s) { return s.label === f.series; });
      var color = idx >= 0 ? palette[idx % palette.length] : palette[(spec.series.length + i) % palette.length];
      datasets.push({
        label: f.label, showLine: true, borderColor: color, backgroundColor: color, borderDash: [2, 3], borderWidth: 1.5,
        pointRadius: 0, pointStyle: 'line', data: f.points, fit: true
      });
    });
    var pow2 = [];
    for (var e = Math.floor(Math.log2(xmin)); e <= Math.ceil(Math.log2(xmax)); e++) pow2.push(Math.pow(2, e));
    var step = Math.max(1, Math.ceil(pow2.length / 10));
    new Chart(canvas, {
      type: 'scatter',
      data: { datasets: datasets },
      plugins: [spreadBars, ranLabels],
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: {
          title: { display: true, text: spec.title },
          legend: { position: 'bottom', labels: { usePointStyle: true, boxWidth: 24, boxHeight: 8 } },
          tooltip: { callbacks: { label: function (ctx) {
            var p = ctx.raw;
            if (ctx.dataset.ceiling) return ctx.dataset.label;
            if (ctx.dataset.fit) return ctx.dataset.label + ': ' + fmtNum(p.y) + ' at ' + fmtBytes(p.x);
            return p.caseId + ': ' + fmtNum(p.y) + ' (p10–p90 ' + fmtNum(p.lo) + '–' + fmtNum(p.hi) + '), median ' + fmtNum(p.medianMs) + ' ms' + (p.ran ? ', ran ' + p.ran : '');
          } } }
        },
        scales: {
          x: {
            type: 'logarithmic', min: xmin / 1.15, max: xmax * 1.15, title: { display: true, text: spec.xLabel },
            afterBuildTicks: function (axis) { axis.ticks = pow2.filter(function (v, i) { return i % step === 0; }).map(function (v) { return { value: v }; }); },
            ticks: { callback: function (v) { return spec.xFormat === 'bytes' ? fmtBytes(v) : fmtNum(v); } }
          },
          y: { type: 'linear', beginAtZero: true, title: { display: true, text: spec.yLabel } }
        }
      }
    });
    made++;
  });
  document.body.dataset.charts = String(made);
})();
`;

function td(v: string, cls?: string): string {
  return `<td${cls ? ` class="${cls}"` : ''}>${escapeHtml(v)}</td>`;
}

/** A case id that may break after each `/` (ids are long; the table must fit a 1280 px window). */
function breakable(id: string): string {
  return escapeHtml(id).replace(/\//g, '/<wbr>');
}

/** Headings of the case table, in the order of `caseCells`. */
const CASE_HEAD = ['case', 'device', 'size', 'algorithm (asked)', 'median ms', 'p10–p90 ms', 'cv', 'throughput', '% peak', 'n', 'timer', 'check (rel. error)', 'status'];

/** The cells of a case's row, as HTML; '' for a cell with nothing to say. */
function caseCells(results: ResultsFile, c: CaseResult): string[] {
  const st = caseStats(c);
  const h = headline(c);
  const check = c.check ? (c.check.passed ? `ok (${sig(c.check.maxRelError ?? undefined, 2)})` : `FAILED (${sig(c.check.maxRelError ?? undefined, 2)})`) : '';
  const extra = isCollective(c) ? `${algorithmLabel(c)}${paramString(c, 'ranks') ? `, ${paramString(c, 'ranks')} ranks` : ''}` : '';
  return [
    breakable(c.id), escapeHtml(deviceName(results, c)), escapeHtml(sizeLabel(c)).replace(/×/g, '×<wbr>'), escapeHtml(extra),
    escapeHtml(sig(st?.medianMs)), st ? escapeHtml(`${sig(st.p10Ms)}–${sig(st.p90Ms)}`).replace(/–/g, '–<wbr>') : '', st ? escapeHtml(`${sig(st.cv * 100, 2)}%`) : '',
    h ? escapeHtml(`${sig(h.value)} ${h.unit}`) : '',
    c.metrics.pctOfPeak !== undefined ? escapeHtml(`${sig(c.metrics.pctOfPeak, 3)}%`) : '',
    String(c.samplesMs.length), escapeHtml(c.timer ?? ''), escapeHtml(check), escapeHtml(c.status + (c.reason ? `: ${c.reason}` : '')),
  ];
}

/** Classes of the case table's columns. */
const CASE_CLASSES = ['id', 'text', '', 'text', 'num', 'num range', 'num', 'num', 'num', 'num', 'nw', 'nw', 'text'];

/**
 * The table of every case. Columns empty in every row (the algorithm in a matmul run, %
 * of peak without a datasheet) are left out, so the rest fit a 1280 px window unwrapped.
 */
function caseTable(results: ResultsFile): string {
  const rows = results.cases.map((c) => ({ c, cells: caseCells(results, c) }));
  const keep = CASE_HEAD.map((_, i) => i === 0 || rows.some((r) => r.cells[i] !== ''));
  const pick = <T,>(xs: T[]) => xs.filter((_, i) => keep[i]);
  const head = pick(CASE_HEAD).map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const classes = pick(CASE_CLASSES);
  const body = rows.map(({ c, cells }) =>
    `<tr class="${caseOk(c) ? c.status : 'failed'}">${pick(cells).map((v, i) => `<td${classes[i] ? ` class="${classes[i]}"` : ''}>${v}</td>`).join('')}</tr>`).join('\n');
  return `<div class="table-wrap"><table class="cases">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table></div>`;
}

/** The alpha-beta fit of every collective algorithm that ran: t(S) = α + β·S. */
function fitsSection(results: ResultsFile): string {
  const fits = collectiveFits(results);
  if (fits.length === 0) return '';
  const rows = fits.map((f) => `<tr>${[
    td(f.workload), td(f.backend), td(f.algorithm), td(f.dtype), td(String(f.ranks), 'num'),
    td(`${formatBytes(f.minBytes)}–${formatBytes(f.maxBytes)}`), td(String(f.points), 'num'),
    td(sig(f.alphaUs, 3), 'num'), td(sig(f.betaNsPerByte, 3), 'num'),
    td(f.algbwGBps === null ? '' : sig(f.algbwGBps, 3), 'num'), td(f.busbwGBps === null ? '' : sig(f.busbwGBps, 3), 'num'),
    td(`${sig(f.maxRelResidual * 100, 2)}%`, 'num'),
  ].join('')}</tr>`).join('\n');
  return `<h2>Latency–bandwidth fits</h2>
<p class="muted">t(S) = α + β·S per algorithm that ran, weighted least squares on the per-size medians (weights 1/t²); the dotted curves on the charts are these fits. 1/β is the bandwidth a large message tends to.</p>
<div class="table-wrap"><table class="fits">
<thead><tr><th>collective</th><th>backend</th><th>algorithm</th><th>dtype</th><th>ranks</th><th>sizes</th><th>points</th><th>α µs</th><th>β ns/B</th><th>algbw 1/β GB/s</th><th>busbw GB/s</th><th>max residual</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>`;
}

/** A cell of the nodes table: numbers and strings as they are, memory in GiB, package maps as name@version. */
function nodeCell(key: string, v: unknown): string {
  if (v === undefined || v === null) return '';
  if (key === 'memoryBytes' && typeof v === 'number') return `${sig(v / 2 ** 30, 3)} GiB`;
  if (key === 'topology') return topologySummary(v as HostTopology);
  // A worker's probes at hello: { nccl: { available, reason, version, … } }.
  if (key === 'backends' && typeof v === 'object')
    return Object.entries(v as Record<string, { available?: boolean; reason?: string; version?: string }>)
      .map(([id, p]) => `${id}: ${p.available ? `yes${p.version ? ` (${p.version})` : ''}` : `no${p.reason ? ` (${p.reason})` : ''}`}`)
      .join('; ');
  if (typeof v === 'object' && !Array.isArray(v))
    return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}@${typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x)}`).join(', ');
  return Array.isArray(v) ? v.map(String).join(', ') : String(v);
}

/** Column order for the nodes table; other keys follow in the order first seen. */
const NODE_COLUMNS = ['rank', 'runId', 'hostname', 'localRank', 'launcher', 'pid', 'dataHost', 'dataPort', 'os', 'arch', 'cpu', 'cpuCount', 'memoryBytes', 'node', 'packages'];

/** `environment.nodes` (one per host or rank in multi-node runs, one per other file in merged reports) as a table. */
function nodesTable(nodes: Record<string, unknown>[]): string {
  const keys = new Set<string>();
  for (const n of nodes) for (const k of Object.keys(n)) if (k !== 'nodes') keys.add(k);
  const cols = [...NODE_COLUMNS.filter((k) => keys.has(k)), ...[...keys].filter((k) => !NODE_COLUMNS.includes(k))];
  // Packages are usually the same everywhere: show them once, or per node where they differ.
  const pk = nodes.map((n) => JSON.stringify(n.packages ?? null));
  const samePackages = new Set(pk).size === 1;
  const shown = cols.filter((k) => k !== 'packages' || !samePackages);
  const head = shown.map((k) => `<th>${escapeHtml(k === 'memoryBytes' ? 'memory' : k)}</th>`).join('');
  const rows = nodes.map((n) => `<tr>${shown.map((k) => td(nodeCell(k, n[k]), k === 'packages' || k === 'cpu' || k === 'os' ? 'text' : typeof n[k] === 'number' ? 'num' : '')).join('')}</tr>`).join('\n');
  const note = samePackages && keys.has('packages') ? `<p class="muted">Packages on every node: ${escapeHtml(nodeCell('packages', nodes[0]!.packages))}</p>` : '';
  return `<h3>Nodes (${nodes.length})</h3>\n<div class="table-wrap"><table class="nodes"><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table></div>${note}`;
}

function environmentSection(results: ResultsFile): string {
  const env = results.environment;
  const run = results.run;
  const rows: [string, string][] = [
    ['run', `${run.id} (${run.status})`],
    ['started / finished', `${run.startedAt} / ${run.finishedAt ?? '—'}`],
    ['gpubench', run.version],
    ...(run.commit ? [['commit', run.commit] as [string, string]] : []),
    ['command', run.argv.join(' ')],
    ['host', `${env.hostname} · ${env.os} ${env.arch}`],
    ['cpu', `${env.cpu}${env.cpuCount ? ` × ${env.cpuCount}` : ''}`],
    ['memory', `${sig(env.memoryBytes / 2 ** 30, 3)} GiB`],
    ['node', env.node],
    ['packages', Object.entries(env.packages).map(([k, v]) => `${k}@${v}`).join(', ') || '—'],
    ...results.devices.map((d): [string, string] => [
      `device ${d.backend}:${d.id}`,
      [d.name, d.vendor, d.driver && `driver ${d.driver}`, d.memoryBytes && `${sig(d.memoryBytes / 2 ** 30, 3)} GiB`, d.software && 'software adapter'].filter(Boolean).join(' · '),
    ]),
  ];
  const dl = `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
  return env.nodes.length ? `${dl}\n${nodesTable(env.nodes)}` : dl;
}

/** Renders the whole page. */
export function renderHtml(results: ResultsFile, options: FormatOptions = {}): string {
  const charts = buildCharts(results, options.linkGBps !== undefined ? { linkGBps: options.linkGBps } : {});
  const title = options.title ?? 'gpubench report';
  const counts = { ok: 0, failed: 0, skipped: 0 };
  for (const c of results.cases) counts[caseOk(c) ? 'ok' : c.status === 'skipped' ? 'skipped' : 'failed']++;
  const failures = results.cases.filter((c) => !caseOk(c));
  const history = options.history ? historySection(options.history) : undefined;
  const figures = charts.map((ch) =>
    `<figure><div class="plot"><canvas id="chart-${escapeHtml(ch.id)}" role="img" aria-label="${escapeHtml(ch.title)}"></canvas></div>` +
    `${ch.note ? `<figcaption>${escapeHtml(ch.note)}</figcaption>` : ''}</figure>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gpubench ${escapeHtml(results.run.version)}">
<title>${escapeHtml(title)} — ${escapeHtml(results.environment.hostname)}</title>
<style>${CSS}${FLEET_CSS}${HISTORY_CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)} <span class="badge ${escapeHtml(results.run.status)}">${escapeHtml(results.run.status)}</span></h1>
<div class="muted">${escapeHtml(results.environment.hostname)} · ${escapeHtml([...new Set(results.devices.map((d) => d.name))].join(', ') || 'no devices')} · run ${escapeHtml(results.run.id)} · ${escapeHtml(results.run.startedAt)}</div>
<div>${history ? `Newest of ${options.history!.runs.length} runs: ` : ''}${results.cases.length} cases: <b>${counts.ok}</b> ok, <b class="${counts.failed ? 'error' : ''}">${counts.failed}</b> failed, ${counts.skipped} skipped</div>
</header>
<main>
${history ? history.html : ''}
${fleetSection(results)}
${charts.length ? `<h2>${history ? 'Newest run' : 'Charts'}</h2>\n<div class="charts">\n${figures}\n</div>` : 'fleet' in results ? '' : '<p class="muted">No measured cases to plot.</p>'}
${failures.length ? `<h2>Failed and skipped</h2><ul>${failures.map((c) => `<li><code>${escapeHtml(c.id)}</code>: ${escapeHtml(c.status)}${c.check && !c.check.passed ? ' (wrong result)' : ''}${c.reason ? ` — ${escapeHtml(c.reason)}` : ''}</li>`).join('')}</ul>` : ''}
${results.cases.length ? `<h2>Cases</h2>\n${caseTable(results)}` : ''}
${fitsSection(results)}
<h2>Environment</h2>
${environmentSection(results)}
</main>
<script type="application/json" id="gpubench-charts">${scriptJson(charts)}</script>
${history ? `<script type="application/json" id="gpubench-history">${scriptJson(history.specs)}</script>\n` : ''}<script>${chartJsBundle()}</script>
<script>${CLIENT}</script>
${history ? `<script>${HISTORY_CLIENT}</script>\n` : ''}</body>
</html>
`;
}

export const html: Formatter = {
  extension: 'html',
  description: 'self-contained HTML page with charts (works offline)',
  render: renderHtml,
};
