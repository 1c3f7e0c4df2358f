/**
 * Absolute floors: `gpubench run --min [CASES:]METRIC=VALUE` and the floors of an
 * acceptance profile (acceptance.ts). A case the floor applies to must measure at least
 * VALUE, or the run exits 1 naming the case, the metric, its value and the floor — as
 * nccl-tests' NCCL_TESTS_MIN_BW and superbench's rules turn a benchmark into a node check.
 *
 *     --min busbw=40                       every case with a busbw
 *     --min allreduce:busbw=40             the allreduce cases
 *     --min 'matmul/*\/bf16/*:tflops=600'  a case-id glob (harness/case-pattern.ts)
 *
 * A floor that no case measured fails too: a check that did not run is not a pass.
 */
import { parseCasePattern, type CasePattern } from './case-pattern.js';
import { UsageError } from './errors.js';
import type { CaseResult, FloorCheck, FloorOutcome, ResultsFile } from './results/schema.js';

/** Metric names a floor may use: short forms and the results' own field names. */
export const FLOOR_METRICS: Record<string, { key: string; unit: string }> = {
  tflops: { key: 'tflops', unit: 'TFLOP/s' },
  pctOfPeak: { key: 'pctOfPeak', unit: '% of peak' },
  busbw: { key: 'busbwGBps', unit: 'GB/s' },
  busbwGBps: { key: 'busbwGBps', unit: 'GB/s' },
  algbw: { key: 'algbwGBps', unit: 'GB/s' },
  algbwGBps: { key: 'algbwGBps', unit: 'GB/s' },
  bandwidth: { key: 'bandwidthGBps', unit: 'GB/s' },
  bandwidthGBps: { key: 'bandwidthGBps', unit: 'GB/s' },
  readWriteGBps: { key: 'readWriteGBps', unit: 'GB/s' },
  tflopsPerWatt: { key: 'tflopsPerWatt', unit: 'TFLOP/s per W' },
};

/** A floor ready to judge. */
export interface Floor {
  pattern: CasePattern;
  /** A metrics field name (FLOOR_METRICS' `key`). */
  metric: string;
  min: number;
  /** Where it came from, for messages and the results. */
  from: string;
  basis?: string;
  source?: string;
  /** Cases on another device than this (a catalog entry matcher) fail the floor. */
  device?: { id: string; matches: (deviceName: string) => boolean };
}

/** The metrics field for a metric name, or undefined. */
export function floorMetric(name: string): { key: string; unit: string } | undefined {
  return Object.hasOwn(FLOOR_METRICS, name) ? FLOOR_METRICS[name] : undefined;
}

/**
 * Parses one `--min` value.
 * @throws UsageError naming `--min`, the text and what is allowed
 */
export function parseFloor(text: string, field = '--min'): Floor {
  const usage = `write [CASES:]METRIC=VALUE, e.g. busbw=40, allreduce:busbw=40 or 'matmul/*/bf16/*:tflops=600'`;
  const eq = text.lastIndexOf('=');
  if (eq < 0) throw new UsageError(`'${text}' has no '=': ${usage}`, field);
  const left = text.slice(0, eq);
  const valueText = text.slice(eq + 1).trim();
  const colon = left.lastIndexOf(':');
  const patternText = colon < 0 ? '' : left.slice(0, colon);
  const metricText = (colon < 0 ? left : left.slice(colon + 1)).trim();
  const metric = floorMetric(metricText);
  if (!metric) throw new UsageError(`'${text}': unknown metric '${metricText}'; allowed: ${Object.keys(FLOOR_METRICS).join(', ')}`, field);
  const min = Number(valueText);
  if (valueText === '' || !Number.isFinite(min) || min < 0) throw new UsageError(`'${text}': '${valueText}' is not a non-negative number (${metric.unit})`, field);
  const pattern = parseCasePattern(patternText);
  if (!pattern || (colon >= 0 && patternText.trim() === '')) throw new UsageError(`'${text}': '${patternText}' is not a workload name or a case-id glob; ${usage}`, field);
  return { pattern, metric: metric.key, min, from: `${field} ${text}` };
}

/** A failed floor, in words, for the console. */
export function floorMessage(o: FloorOutcome, cases: readonly CaseResult[]): string[] {
  if (o.passed) return [];
  const unit = Object.values(FLOOR_METRICS).find((m) => m.key === o.metric)?.unit ?? '';
  // A floor from a % of peak is a computed figure: 692.58, not 692.5799999999999.
  const min = Number(o.min.toPrecision(6));
  if (o.below.length === 0) return [`gpubench: floor ${o.metric} >= ${min} ${unit} (${o.from}) not met: ${o.reason ?? 'no case measured it'}`];
  return o.below.map((id) => {
    const v = cases.find((c) => c.id === id)?.metrics[o.metric];
    return `gpubench: below floor: ${id} ${o.metric} ${typeof v === 'number' ? v.toPrecision(4) : '?'} < ${min} ${unit} (${o.from}${o.basis ? `; ${o.basis}` : ''})`;
  });
}

/**
 * Judges every floor against a run's cases, records the outcome in the results
 * (`run.floors`, and `floors` on each judged case) and returns the outcomes.
 */
export function applyFloors(results: ResultsFile, floors: readonly Floor[]): FloorOutcome[] {
  const outcomes: FloorOutcome[] = [];
  for (const f of floors) {
    let judged = 0;
    const below: string[] = [];
    const otherDevices = new Set<string>();
    for (const c of results.cases) {
      if (c.status !== 'ok' || !f.pattern.matches(c)) continue;
      const value = c.metrics[f.metric];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      if (f.device && !f.device.matches(c.device)) {
        otherDevices.add(c.device);
        continue;
      }
      judged++;
      const check: FloorCheck = { metric: f.metric, min: f.min, value, passed: value >= f.min, from: f.from };
      (c.floors ??= []).push(check);
      if (!check.passed) below.push(c.id);
    }
    const reason = judged > 0
      ? undefined
      : otherDevices.size > 0
        ? `the cases ran on ${[...otherDevices].join(', ')}, not on a ${f.device!.id}`
        : `no ok case${f.pattern.text ? ` matching ${f.pattern.text}` : ''} measured ${f.metric}`;
    outcomes.push({
      from: f.from,
      cases: f.pattern.text,
      metric: f.metric,
      min: f.min,
      ...(f.basis ? { basis: f.basis } : {}),
      ...(f.source ? { source: f.source } : {}),
      judged,
      below,
      passed: judged > 0 && below.length === 0,
      ...(reason ? { reason } : {}),
    });
  }
  results.run.floors = outcomes;
  return outcomes;
}
