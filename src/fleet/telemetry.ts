/**
 * Device telemetry as evidence in the fleet verdict: what a suspect node's GPU reported
 * over its timed calls (clocks, power, temperature, throttle reasons), next to the fleet's
 * medians, so "slow" comes with a likely why ("hw-slowdown", a low SM clock, 90 °C).
 */
import { median } from 'simple-statistics';
import type { Telemetry } from '../harness/results/schema.js';

/** A node's telemetry for one phase, or why there is none. */
export type NodeTelemetry = Telemetry | { none: string };

/** Throttle reasons that say the device held itself back (not merely idle or at an application setting). */
const SLOWING = /slowdown|power-cap|power-brake|thermal/;

const med = (xs: (number | undefined)[]) => {
  const v = xs.filter((x): x is number => x !== undefined);
  return v.length ? median(v) : undefined;
};

/**
 * One clause for a suspect's evidence: its telemetry against the fleet's (the other nodes
 * of the same phase), or why it has none.
 */
export function telemetryEvidence(phase: string, mine: NodeTelemetry | undefined, fleet: readonly (NodeTelemetry | undefined)[]): string | undefined {
  if (!mine) return undefined;
  if ('none' in mine) return `no telemetry (${phase}): ${mine.none}`;
  const all = fleet.filter((t): t is Telemetry => t !== undefined && !('none' in t));
  const vs = (x: number | undefined, pick: (t: Telemetry) => number | undefined, unit: string) => {
    if (x === undefined) return undefined;
    const m = med(all.map(pick));
    return `${x.toFixed(0)} ${unit}${m !== undefined && all.length > 1 ? ` (fleet median ${m.toFixed(0)})` : ''}`;
  };
  const parts = [
    vs(mine.avgSmClockMHz, (t) => t.avgSmClockMHz, 'MHz SM'),
    vs(mine.avgMemClockMHz, (t) => t.avgMemClockMHz, 'MHz mem'),
    vs(mine.avgWatts, (t) => t.avgWatts, 'W'),
    vs(mine.maxTemperatureC, (t) => t.maxTemperatureC, '°C max'),
  ].filter((x): x is string => x !== undefined);
  const slowing = mine.throttleReasons.filter((r) => SLOWING.test(r));
  const reasons = mine.throttleReasons.length ? `throttle reasons: ${mine.throttleReasons.join(', ')}${slowing.length ? ` (${slowing.join(', ')}: the GPU held its clocks down)` : ''}` : 'no throttle reason';
  return `telemetry (${phase}): ${[...parts, reasons].join(', ')}`;
}
