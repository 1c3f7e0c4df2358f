/**
 * CSV, one row per case (RFC 4180: comma separated, CRLF line ends, fields with a
 * comma, quote or line break quoted). Columns are fixed so spreadsheets and pandas
 * scripts keep working as the contract grows; an empty field means "not applicable".
 */
import type { CaseResult, ResultsFile } from '../../harness/results/schema.js';
import { deviceName } from '../charts.js';
import { caseStats, paramString } from '../cases.js';
import type { Formatter } from './formatter.js';

/** Column names, in order. */
export const CSV_COLUMNS = [
  'id', 'workload', 'backend', 'device', 'device_name', 'dtype',
  'm', 'n', 'k', 'batch',
  'bytes', 'count', 'op', 'algorithm', 'ranks', 'nodes',
  'timer', 'status', 'check_passed', 'max_rel_error', 'samples',
  'median_ms', 'mean_ms', 'min_ms', 'max_ms', 'p10_ms', 'p90_ms', 'stddev_ms', 'cv',
  'tflops', 'pct_of_peak', 'peak_tflops', 'algbw_gbps', 'busbw_gbps', 'bandwidth_gbps', 'read_write_gbps',
  'avg_watts', 'energy_j', 'tflops_per_watt', 'reason',
] as const;

type Cell = string | number | boolean | null | undefined;

function row(results: ResultsFile, c: CaseResult): Cell[] {
  const st = caseStats(c);
  const m = c.metrics;
  const p = (k: string) => paramString(c, k);
  const values: Record<(typeof CSV_COLUMNS)[number], Cell> = {
    id: c.id, workload: c.workload, backend: c.backend, device: c.device, device_name: deviceName(results, c), dtype: p('dtype'),
    m: p('m'), n: p('n'), k: p('k'), batch: p('batch'),
    bytes: p('bytes'), count: p('count'), op: p('op'), algorithm: p('algorithm'), ranks: p('ranks'), nodes: p('nodes'),
    timer: c.timer, status: c.status, check_passed: c.check?.passed, max_rel_error: c.check?.maxRelError,
    samples: c.samplesMs.length,
    median_ms: st?.medianMs, mean_ms: st?.meanMs, min_ms: st?.minMs, max_ms: st?.maxMs,
    p10_ms: st?.p10Ms, p90_ms: st?.p90Ms, stddev_ms: st?.stddevMs, cv: st?.cv,
    tflops: m.tflops, pct_of_peak: m.pctOfPeak, peak_tflops: m.peakTflops,
    algbw_gbps: m.algbwGBps, busbw_gbps: m.busbwGBps, bandwidth_gbps: m.bandwidthGBps, read_write_gbps: m.readWriteGBps,
    avg_watts: m.avgWatts, energy_j: m.energyJ, tflops_per_watt: m.tflopsPerWatt, reason: c.reason,
  };
  return CSV_COLUMNS.map((col) => values[col]);
}

/** One CSV field, quoted when it must be. */
export function csvField(v: Cell): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const csv: Formatter = {
  extension: 'csv',
  description: 'one row per case, fixed columns (RFC 4180)',
  render(results) {
    const lines = [CSV_COLUMNS.join(','), ...results.cases.map((c) => row(results, c).map(csvField).join(','))];
    return `${lines.join('\r\n')}\r\n`;
  },
};
