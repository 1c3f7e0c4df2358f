/**
 * Bencher Metric Format: `{ "<benchmark>": { "<measure>": { value, lower_value?,
 * upper_value? } } }`. Each measured case is one benchmark with Bencher's built-in
 * `latency` measure (nanoseconds; median with p10/p90 bounds) plus its throughput
 * measure (`tflops` or `busbw-gbps`, custom measures Bencher creates on first use).
 */
import type { ResultsFile } from '../../harness/results/schema.js';
import { caseOk, caseStats, headline } from '../cases.js';
import type { Formatter } from './formatter.js';

/** One Bencher metric. */
export interface BmfMetric {
  value: number;
  lower_value?: number;
  upper_value?: number;
}
/** A whole BMF document: benchmark name → measure slug → metric. */
export type Bmf = Record<string, Record<string, BmfMetric>>;

/** Measure slugs used for the headline metrics. */
export const BMF_MEASURES = { tflops: 'tflops', busbwGBps: 'busbw-gbps', algbwGBps: 'algbw-gbps', bandwidthGBps: 'bandwidth-gbps' } as const;

/** The BMF document for a results file. */
export function bmfDocument(results: ResultsFile): Bmf {
  const doc: Bmf = {};
  for (const c of results.cases) {
    if (!caseOk(c)) continue;
    const measures: Record<string, BmfMetric> = {};
    const st = caseStats(c);
    if (st) {
      measures.latency = { value: st.medianMs * 1e6, lower_value: st.p10Ms * 1e6, upper_value: st.p90Ms * 1e6 };
    }
    const h = headline(c);
    if (h) measures[BMF_MEASURES[h.key]] = { value: h.value, lower_value: h.lower, upper_value: h.upper };
    const alg = c.metrics.algbwGBps;
    if (typeof alg === 'number' && h?.key === 'busbwGBps' && h.value > 0) {
      // algbw and busbw differ by a constant factor, so the same relative bounds apply.
      measures[BMF_MEASURES.algbwGBps] = { value: alg, lower_value: (alg * h.lower) / h.value, upper_value: (alg * h.upper) / h.value };
    }
    if (Object.keys(measures).length > 0) doc[c.id] = measures;
  }
  return doc;
}

export const bmf: Formatter = {
  extension: 'bmf.json',
  description: 'Bencher Metric Format JSON (latency, tflops, busbw-gbps)',
  render(results) {
    return `${JSON.stringify(bmfDocument(results), null, 2)}\n`;
  },
};
