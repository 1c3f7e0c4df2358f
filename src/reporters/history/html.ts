/**
 * The History section of the HTML report: one small chart per series (a case on one
 * device and topology), the per-run median of its headline metric with the p10–p90 bar,
 * x = the runs in the order they started (date, commit where recorded), each level between
 * change points as a dashed step, and every change point as a red line with its size and
 * p-value. A table lists the change points; series without any are drawn after them.
 */
import { sig } from '../cases.js';
import { changeText, type History, type HistorySeries } from './history.js';

/** What the page script draws for one series. */
export interface HistoryChartSpec {
  id: string;
  title: string;
  yLabel: string;
  /** Tick labels: date, and the commit on a second line where recorded. */
  labels: string[][];
  /** Full run labels for tooltips. */
  runs: string[];
  runIds: string[];
  points: { y: number; lo: number; hi: number; medianMs: number; samples: number }[];
  /** Level of each point's segment (median of the segment's per-run values). */
  levels: number[];
  changes: { at: number; text: string }[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const medianOf = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** `10-09 03:00` and the commit's first 8 characters under it. */
function tick(run: History['runs'][number]): string[] {
  const d = new Date(run.startedAt);
  const when = Number.isNaN(d.getTime()) ? run.startedAt : d.toISOString().slice(5, 16).replace('T', ' ');
  return run.commit ? [when, run.commit.slice(0, 8)] : [when];
}

/** The chart of one series: the headline metric where every point has one, else the median time. */
export function historyChart(history: History, s: HistorySeries, i: number): HistoryChartSpec {
  const metric = s.unit !== undefined && s.points.every((p) => p.value !== undefined);
  const points = s.points.map((p) => metric
    ? { y: p.value!, lo: p.lo!, hi: p.hi!, medianMs: p.medianMs, samples: p.samples }
    : { y: p.medianMs, lo: p.p10Ms, hi: p.p90Ms, medianMs: p.medianMs, samples: p.samples });
  const bounds = [0, ...s.changes.map((c) => c.point), points.length];
  const levels: number[] = [];
  for (let b = 0; b + 1 < bounds.length; b++) {
    const level = medianOf(points.slice(bounds[b]!, bounds[b + 1]!).map((p) => p.y));
    for (let j = bounds[b]!; j < bounds[b + 1]!; j++) levels.push(level);
  }
  return {
    id: `history-${i}`,
    title: s.label,
    yLabel: metric ? s.unit! : 'median ms',
    labels: s.points.map((p) => tick(history.runs[p.run]!)),
    runs: s.points.map((p) => history.runs[p.run]!.label),
    runIds: s.points.map((p) => history.runs[p.run]!.id),
    points,
    levels,
    changes: s.changes.map((c) => ({ at: c.point, text: `${changeText(c.ratio).replace(/ time \(.*\)$/, '')}` })),
  };
}

/** Runs in the page: draws every history chart (Chart.js is already loaded). */
export const HISTORY_CLIENT = `
(function () {
  var el = document.getElementById('gpubench-history');
  if (!el || typeof Chart === 'undefined') return;
  var specs = JSON.parse(el.textContent);
  function fmt(v) { return Number(v.toPrecision(4)).toString(); }
  var marks = {
    id: 'gpubenchHistory',
    afterDatasetsDraw: function (chart) {
      var spec = chart.config.options.gpubench, ctx = chart.ctx, x = chart.scales.x, y = chart.scales.y, meta = chart.getDatasetMeta(0);
      ctx.save();
      ctx.strokeStyle = '#1f77b4'; ctx.globalAlpha = 0.6; ctx.lineWidth = 1.5;
      meta.data.forEach(function (pt, j) {
        var p = spec.points[j];
        if (!(p.hi > p.lo)) return;
        var top = y.getPixelForValue(p.hi), bottom = y.getPixelForValue(p.lo);
        ctx.beginPath(); ctx.moveTo(pt.x, top); ctx.lineTo(pt.x, bottom);
        ctx.moveTo(pt.x - 3, top); ctx.lineTo(pt.x + 3, top); ctx.moveTo(pt.x - 3, bottom); ctx.lineTo(pt.x + 3, bottom);
        ctx.stroke();
      });
      ctx.globalAlpha = 1; ctx.strokeStyle = '#cf222e'; ctx.fillStyle = '#cf222e'; ctx.setLineDash([5, 3]); ctx.lineWidth = 1.5;
      ctx.font = '11px system-ui, sans-serif'; ctx.textAlign = 'left';
      spec.changes.forEach(function (c) {
        var px = (x.getPixelForValue(c.at - 1) + x.getPixelForValue(c.at)) / 2;
        ctx.beginPath(); ctx.moveTo(px, chart.chartArea.top); ctx.lineTo(px, chart.chartArea.bottom); ctx.stroke();
        ctx.fillText(c.text, Math.min(px + 4, chart.chartArea.right - ctx.measureText(c.text).width), chart.chartArea.bottom - 4);
      });
      ctx.restore();
    }
  };
  var made = 0;
  specs.forEach(function (spec) {
    var canvas = document.getElementById('chart-' + spec.id);
    if (!canvas) return;
    new Chart(canvas, {
      type: 'line',
      data: {
        labels: spec.labels,
        datasets: [
          { label: 'median (p10–p90 bar)', data: spec.points.map(function (p) { return p.y; }), borderColor: '#1f77b4', backgroundColor: '#1f77b4', pointRadius: 3, borderWidth: 1.5 },
          { label: 'level between change points', data: spec.levels, borderColor: '#555', borderDash: [6, 4], borderWidth: 1.2, pointRadius: 0, stepped: 'middle' }
        ]
      },
      plugins: [marks],
      options: {
        gpubench: spec, animation: false, responsive: true, maintainAspectRatio: false,
        plugins: {
          title: { display: true, text: spec.title, font: { size: 12 } },
          legend: { position: 'bottom', labels: { boxWidth: 18, boxHeight: 6, font: { size: 11 } } },
          tooltip: { callbacks: { title: function (items) { return spec.runs[items[0].dataIndex]; }, label: function (ctx) {
            if (ctx.datasetIndex !== 0) return 'level ' + fmt(ctx.raw);
            var p = spec.points[ctx.dataIndex];
            return fmt(p.y) + ' ' + spec.yLabel + ' (p10–p90 ' + fmt(p.lo) + '–' + fmt(p.hi) + '), median ' + fmt(p.medianMs) + ' ms, n=' + p.samples + ', run ' + spec.runIds[ctx.dataIndex];
          } } }
        },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 6, font: { size: 10 } } },
          y: { beginAtZero: false, grace: '8%', title: { display: true, text: spec.yLabel }, ticks: { callback: function (v) { return fmt(v); } } }
        }
      }
    });
    made++;
  });
  document.body.dataset.history = String(made);
})();
`;

/** CSS of the section. */
export const HISTORY_CSS = `
.history { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
.history figure .plot { height: 250px; }
table.changes { margin-bottom: 12px; }
.history figcaption.change { color: #cf222e; }
figure.changed { border-color: #cf222e; }
`;

/** The section's HTML and the chart specs its script draws. */
export function historySection(history: History): { html: string; specs: HistoryChartSpec[] } {
  const specs = history.series.map((s, i) => historyChart(history, s, i));
  const changes = history.series.flatMap((s) => s.changes.map((c) => ({ s, c })));
  const first = history.runs[0]!;
  const last = history.runs.at(-1)!;
  const m = history.method;
  const rows = changes.map(({ s, c }) =>
    `<tr class="${c.ratio > 1 ? 'failed' : 'ok'}"><td>${esc(s.label)}</td><td>${esc(c.runLabel)}<br><span class="muted">${esc(c.runId)}</span></td>` +
    `<td class="num">${sig(c.beforeMs)} → ${sig(c.afterMs)}</td><td class="num">${esc(changeText(c.ratio))}</td><td class="num">${sig(c.pValue, 2)}</td></tr>`).join('\n');
  const figures = specs.map((sp, i) => {
    const cs = history.series[i]!.changes;
    const caption = cs.map((c) => `${changeText(c.ratio)} from ${c.runLabel}, p = ${sig(c.pValue, 2)}`).join('; ');
    return `<figure class="${cs.length ? 'changed' : ''}"><div class="plot"><canvas id="chart-${sp.id}" role="img" aria-label="${esc(sp.title)}"></canvas></div>` +
      `${caption ? `<figcaption class="change">${esc(caption)}</figcaption>` : ''}</figure>`;
  }).join('\n');
  const html = `<h2>History</h2>
<p>${history.runs.length} runs from ${esc(first.label)} to ${esc(last.label)}; ${history.series.length} series (a case on one device and topology) seen in two runs or more.
Change points by E-Divisive with means on the per-run medians, permutation test (${m.permutations} shuffles, α = ${m.alpha}, at least ${m.minSegment} runs per level):
<b class="${changes.length ? 'error' : ''}">${changes.length}</b> found.</p>
${changes.length ? `<table class="changes"><thead><tr><th>series</th><th>from run</th><th>median ms before → after</th><th>change</th><th>p</th></tr></thead><tbody>\n${rows}\n</tbody></table>` : ''}
<div class="history">
${figures}
</div>`;
  return { html, specs };
}
