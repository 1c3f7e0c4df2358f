/**
 * NVML telemetry around a case's timed region: a native sampler (50 Hz) runs while
 * `time()` runs, so its readings cover exactly the measured GEMMs or copies.
 */
import type { Telemetry } from '../../harness/results/schema.js';
import type { NativeSampler, NativeTelemetry } from './addon.js';
import type { CudaStack } from './context.js';

/** NVML's clocks-event (throttle) reason bits, named as nvml.h names them. */
export const THROTTLE_REASONS: [number, string][] = [
  [0x1, 'gpu-idle'],
  [0x2, 'applications-clocks-setting'],
  [0x4, 'sw-power-cap'],
  [0x8, 'hw-slowdown'],
  [0x10, 'sync-boost'],
  [0x20, 'sw-thermal-slowdown'],
  [0x40, 'hw-thermal-slowdown'],
  [0x80, 'hw-power-brake-slowdown'],
  [0x100, 'display-clock-setting'],
];

/** Names of the bits set in an NVML throttle-reason mask. */
export function throttleNames(mask: number): string[] {
  const out = THROTTLE_REASONS.filter(([bit]) => (mask & bit) !== 0).map(([, n]) => n);
  const known = THROTTLE_REASONS.reduce((m, [bit]) => m | bit, 0);
  if ((mask & ~known) !== 0) out.push(`other(0x${(mask & ~known).toString(16)})`);
  return out;
}

/** The results file's telemetry block from the sampler's summary; undefined with no samples. */
export function toTelemetry(t: NativeTelemetry): Telemetry | undefined {
  if (t.samples === 0 || t.avgWatts === undefined) return undefined;
  return {
    source: 'nvml',
    samples: t.samples,
    hz: t.hz,
    seconds: t.activeSeconds,
    avgWatts: t.avgWatts,
    maxWatts: t.maxWatts ?? t.avgWatts,
    energyJ: t.energyJ ?? t.avgWatts * t.activeSeconds,
    energySource: t.energySource ?? 'integrated-power',
    avgSmClockMHz: t.avgSmClockMHz,
    avgMemClockMHz: t.avgMemClockMHz,
    maxTemperatureC: t.maxTemperatureC,
    throttleReasons: throttleNames(t.throttleMask ?? 0),
  };
}

/** A sampler for the device, or undefined (with no NVML, or a GPU NVML cannot see). */
export function openSampler(s: CudaStack, uuid: string, hz = 50): NativeSampler | undefined {
  if (!s.nvml.ok) return undefined;
  try {
    return new s.addon.Sampler(uuid, hz);
  } catch {
    return undefined;
  }
}

/** Awaits `fn` with the sampler resumed around it. */
export async function sampled<T>(sampler: NativeSampler | undefined, fn: () => Promise<T>): Promise<T> {
  sampler?.resume();
  try {
    return await fn();
  } finally {
    sampler?.pause();
  }
}
