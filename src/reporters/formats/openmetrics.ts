/**
 * OpenMetrics 1.0 text exposition, written so the classic Prometheus text parser
 * (node_exporter's textfile collector, Pushgateway) reads it too: only gauges (time
 * quantiles as separate gauges, easier to query than a labelled summary), `# UNIT` only where the name carries the unit suffix, no timestamps
 * (the textfile collector rejects them), and the closing `# EOF`. Values are in base
 * units (seconds, bytes/s) except TFLOP/s, which the field quotes as is.
 */
import type { CaseResult, ResultsFile } from '../../harness/results/schema.js';
import { caseDtype, caseOk, caseStats, isCollective, paramString } from '../cases.js';
import { deviceName } from '../charts.js';
import type { Formatter } from './formatter.js';

type Labels = Record<string, string>;

interface Family {
  name: string;
  type: 'gauge';
  unit?: string;
  help: string;
  samples: { labels: Labels; value: number }[];
}

/** Escapes a label value as OpenMetrics requires: backslash, double quote, line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function caseLabels(results: ResultsFile, c: CaseResult, host: string): Labels {
  const labels: Labels = { case: c.id, workload: c.workload, backend: c.backend, device: deviceName(results, c), dtype: caseDtype(c), host };
  if (isCollective(c)) {
    labels.algorithm = paramString(c, 'algorithm') ?? 'default';
    labels.bytes = paramString(c, 'bytes') ?? '';
    labels.ranks = paramString(c, 'ranks') ?? '';
  }
  return labels;
}

/** Builds the metric families for a results file. */
function families(results: ResultsFile): Family[] {
  const host = results.environment.hostname;
  const f = (name: string, type: Family['type'], help: string, unit?: string): Family => ({ name, type, help, samples: [], ...(unit ? { unit } : {}) });
  const median = f('gpubench_case_median_seconds', 'gauge', 'Median per-iteration time of a case (device time where the timer allows)', 'seconds');
  const p10 = f('gpubench_case_p10_seconds', 'gauge', '10th percentile of the per-iteration time', 'seconds');
  const p90 = f('gpubench_case_p90_seconds', 'gauge', '90th percentile of the per-iteration time', 'seconds');
  const count = f('gpubench_case_samples', 'gauge', 'Timed samples behind the statistics');
  const tflops = f('gpubench_matmul_tflops', 'gauge', 'Matrix multiply throughput, 2*m*n*k*batch / median time / 1e12');
  const pct = f('gpubench_matmul_peak_ratio', 'gauge', 'Matmul throughput as a fraction of the datasheet peak for the GPU and dtype');
  const busbw = f('gpubench_collective_busbw_bytes_per_second', 'gauge', 'Collective bus bandwidth as nccl-tests defines it', 'bytes_per_second');
  const algbw = f('gpubench_collective_algbw_bytes_per_second', 'gauge', 'Collective algorithm bandwidth: message bytes / time', 'bytes_per_second');
  const watts = f('gpubench_case_power_watts', 'gauge', 'Average board power while the case ran', 'watts');
  const ok = f('gpubench_case_ok', 'gauge', '1 when the case ran and its correctness check passed, else 0');
  const run = f('gpubench_run_timestamp_seconds', 'gauge', 'When the run finished (Unix time), labelled with the run facts', 'seconds');

  const finished = Date.parse(results.run.finishedAt ?? results.run.startedAt);
  run.samples.push({
    labels: { run_id: results.run.id, version: results.run.version, status: results.run.status, host },
    value: Number.isFinite(finished) ? finished / 1000 : NaN,
  });
  for (const c of results.cases) {
    const labels = caseLabels(results, c, host);
    ok.samples.push({ labels, value: caseOk(c) ? 1 : 0 });
    if (c.status !== 'ok') continue;
    const st = caseStats(c);
    if (st) {
      median.samples.push({ labels, value: st.medianMs / 1e3 });
      p10.samples.push({ labels, value: st.p10Ms / 1e3 });
      p90.samples.push({ labels, value: st.p90Ms / 1e3 });
      count.samples.push({ labels, value: c.samplesMs.length });
    }
    const m = c.metrics;
    if (m.tflops !== undefined) tflops.samples.push({ labels, value: m.tflops });
    if (m.pctOfPeak !== undefined) pct.samples.push({ labels, value: m.pctOfPeak / 100 });
    if (m.busbwGBps !== undefined) busbw.samples.push({ labels, value: m.busbwGBps * 1e9 });
    if (m.algbwGBps !== undefined) algbw.samples.push({ labels, value: m.algbwGBps * 1e9 });
    if (m.avgWatts !== undefined) watts.samples.push({ labels, value: m.avgWatts });
  }
  return [run, ok, median, p10, p90, count, tflops, pct, busbw, algbw, watts].filter((fam) => fam.samples.length > 0);
}

export const openmetrics: Formatter = {
  extension: 'prom',
  description: 'OpenMetrics text for a node_exporter textfile collector or a Pushgateway',
  render(results) {
    const lines: string[] = [];
    for (const fam of families(results)) {
      lines.push(`# TYPE ${fam.name} ${fam.type}`);
      if (fam.unit) lines.push(`# UNIT ${fam.name} ${fam.unit}`);
      lines.push(`# HELP ${fam.name} ${fam.help}`);
      for (const s of fam.samples) lines.push(`${fam.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    }
    lines.push('# EOF');
    return `${lines.join('\n')}\n`;
  },
};
