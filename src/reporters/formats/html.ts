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
import { buildCharts, deviceName } from '../charts.js';
import { caseDtype, caseOk, caseStats, headline, isCollective, paramString, sig, sizeLabel } from '../cases.js';
import type { FormatOptions, Formatter } from './formatter.js';

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
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
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
        if (ds.ceiling || !chart.isDatasetVisible(i)) return;
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
        data: s.points.map(function (p) { return { x: p.x, y: p.y, lo: p.lo, hi: p.hi, caseId: p.caseId, size: p.size, medianMs: p.medianMs }; })
      };
    });
    spec.ceilings.forEach(function (c, i) {
      datasets.push({
        label: c.label, showLine: true, borderColor: '#444', backgroundColor: '#444', borderDash: [6, 4], borderWidth: 1.5,
        pointRadius: 0, pointStyle: 'line', data: [{ x: xmin, y: c.y }, { x: xmax, y: c.y }], ceiling: true
      });
    });
    var pow2 = [];
    for (var e = Math.floor(Math.log2(xmin)); e <= Math.ceil(Math.log2(xmax)); e++) pow2.push(Math.pow(2, e));
    var step = Math.max(1, Math.ceil(pow2.length / 10));
    new Chart(canvas, {
      type: 'scatter',
      data: { datasets: datasets },
      plugins: [spreadBars],
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: {
          title: { display: true, text: spec.title },
          legend: { position: 'bottom', labels: { usePointStyle: true, boxWidth: 24, boxHeight: 8 } },
          tooltip: { callbacks: { label: function (ctx) {
            var p = ctx.raw;
            if (ctx.dataset.ceiling) return ctx.dataset.label;
            return p.caseId + ': ' + fmtNum(p.y) + ' (p10–p90 ' + fmtNum(p.lo) + '–' + fmtNum(p.hi) + '), median ' + fmtNum(p.medianMs) + ' ms';
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

function caseRow(results: ResultsFile, c: CaseResult): string {
  const st = caseStats(c);
  const h = headline(c);
  const check = c.check ? (c.check.passed ? `ok (${sig(c.check.maxRelError ?? undefined, 2)})` : `FAILED (${sig(c.check.maxRelError ?? undefined, 2)})`) : '';
  const extra = isCollective(c) ? `${paramString(c, 'algorithm') ?? ''}${paramString(c, 'ranks') ? `, ${paramString(c, 'ranks')} ranks` : ''}` : '';
  return `<tr class="${caseOk(c) ? c.status : 'failed'}">${[
    td(c.id), td(c.backend), td(deviceName(results, c)), td(caseDtype(c)), td(sizeLabel(c)), td(extra),
    td(sig(st?.medianMs), 'num'), td(st ? `${sig(st.p10Ms)}–${sig(st.p90Ms)}` : '', 'num'), td(st ? `${sig(st.cv * 100, 2)}%` : '', 'num'),
    td(h ? `${sig(h.value)} ${h.unit}` : '', 'num'),
    td(c.metrics.pctOfPeak !== undefined ? `${sig(c.metrics.pctOfPeak, 3)}%` : '', 'num'),
    td(String(c.samplesMs.length), 'num'), td(c.timer ?? ''), td(check), td(c.status + (c.reason ? `: ${c.reason}` : '')),
  ].join('')}</tr>`;
}

function environmentSection(results: ResultsFile): string {
  const env = results.environment;
  const run = results.run;
  const rows: [string, string][] = [
    ['run', `${run.id} (${run.status})`],
    ['started / finished', `${run.startedAt} / ${run.finishedAt ?? '—'}`],
    ['gpubench', run.version],
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
  if (env.nodes.length) rows.push(['nodes', env.nodes.map((n) => JSON.stringify(n)).join('\n')]);
  return `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

/** Renders the whole page. */
export function renderHtml(results: ResultsFile, options: FormatOptions = {}): string {
  const charts = buildCharts(results, options.linkGBps !== undefined ? { linkGBps: options.linkGBps } : {});
  const title = options.title ?? 'gpubench report';
  const counts = { ok: 0, failed: 0, skipped: 0 };
  for (const c of results.cases) counts[caseOk(c) ? 'ok' : c.status === 'skipped' ? 'skipped' : 'failed']++;
  const failures = results.cases.filter((c) => !caseOk(c));
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
<style>${CSS}${FLEET_CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)} <span class="badge ${escapeHtml(results.run.status)}">${escapeHtml(results.run.status)}</span></h1>
<div class="muted">${escapeHtml(results.environment.hostname)} · ${escapeHtml([...new Set(results.devices.map((d) => d.name))].join(', ') || 'no devices')} · run ${escapeHtml(results.run.id)} · ${escapeHtml(results.run.startedAt)}</div>
<div>${results.cases.length} cases: <b>${counts.ok}</b> ok, <b class="${counts.failed ? 'error' : ''}">${counts.failed}</b> failed, ${counts.skipped} skipped</div>
</header>
<main>
${fleetSection(results)}
${charts.length ? `<h2>Charts</h2>\n<div class="charts">\n${figures}\n</div>` : 'fleet' in results ? '' : '<p class="muted">No measured cases to plot.</p>'}
${failures.length ? `<h2>Failed and skipped</h2><ul>${failures.map((c) => `<li><code>${escapeHtml(c.id)}</code>: ${escapeHtml(c.status)}${c.check && !c.check.passed ? ' (wrong result)' : ''}${c.reason ? ` — ${escapeHtml(c.reason)}` : ''}</li>`).join('')}</ul>` : ''}
<h2>Cases</h2>
<div style="overflow-x:auto"><table>
<thead><tr><th>case</th><th>backend</th><th>device</th><th>dtype</th><th>size</th><th>algorithm</th><th>median ms</th><th>p10–p90 ms</th><th>cv</th><th>throughput</th><th>% peak</th><th>n</th><th>timer</th><th>check (rel. error)</th><th>status</th></tr></thead>
<tbody>
${results.cases.map((c) => caseRow(results, c)).join('\n')}
</tbody></table></div>
<h2>Environment</h2>
${environmentSection(results)}
</main>
<script type="application/json" id="gpubench-charts">${scriptJson(charts)}</script>
<script>${chartJsBundle()}</script>
<script>${CLIENT}</script>
</body>
</html>
`;
}

export const html: Formatter = {
  extension: 'html',
  description: 'self-contained HTML page with charts (works offline)',
  render: renderHtml,
};
