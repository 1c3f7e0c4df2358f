/**
 * github-action-benchmark's `customBiggerIsBetter` input: a JSON array of
 * `{ name, unit, value, range?, extra? }`. Only bigger-is-better metrics go here
 * (TFLOP/s, busbw), one entry per measured case, so the action's alert threshold
 * means "got slower". `range` is the action's free-text spread, written `± x` as its
 * own benchmark.js parser does.
 */
import { caseOk, caseStats, headline, sig } from '../cases.js';
import type { Formatter } from './formatter.js';

/** One entry of github-action-benchmark's custom tool format. */
export interface GabEntry {
  name: string;
  unit: string;
  value: number;
  range?: string;
  extra?: string;
}

/** The entries, for callers that want objects rather than text. */
export function gabEntries(results: Parameters<Formatter['render']>[0]): GabEntry[] {
  const out: GabEntry[] = [];
  for (const c of results.cases) {
    if (!caseOk(c)) continue;
    const h = headline(c);
    if (!h) continue;
    const st = caseStats(c);
    const half = (h.upper - h.lower) / 2;
    const extra = [
      `device: ${c.device}`,
      st ? `median ${sig(st.medianMs)} ms, p10–p90 ${sig(st.p10Ms)}–${sig(st.p90Ms)} ms, n=${c.samplesMs.length}` : undefined,
      c.metrics.pctOfPeak !== undefined ? `${sig(c.metrics.pctOfPeak, 3)}% of peak` : undefined,
      c.timer ? `timer: ${c.timer}` : undefined,
    ].filter((s): s is string => s !== undefined);
    out.push({
      name: c.id,
      unit: h.unit,
      value: h.value,
      ...(half > 0 ? { range: `± ${sig(half)}` } : {}),
      extra: extra.join('\n'),
    });
  }
  return out;
}

export const gab: Formatter = {
  extension: 'gab.json',
  description: "github-action-benchmark 'customBiggerIsBetter' JSON",
  render(results) {
    return `${JSON.stringify(gabEntries(results), null, 2)}\n`;
  },
};
