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

/**
 * One telemetry block for several GPUs sampled over the same timed region (the ranks of
 * a single-process NCCL case): watts and energy summed (the GPUs' board power together),
 * clocks averaged, the hottest temperature, every throttle reason; `gpus` says how many.
 */
export function combineTelemetry(parts: Telemetry[]): Telemetry | undefined {
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  const mean = (xs: (number | undefined)[]) => {
    const v = xs.filter((x): x is number => x !== undefined);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  const temps = parts.map((p) => p.maxTemperatureC).filter((x): x is number => x !== undefined);
  return {
    source: 'nvml',
    samples: Math.min(...parts.map((p) => p.samples)),
    hz: Math.min(...parts.map((p) => p.hz)),
    seconds: Math.max(...parts.map((p) => p.seconds)),
    avgWatts: parts.reduce((a, p) => a + p.avgWatts, 0),
    // Peaks of different GPUs need not coincide: the sum bounds the combined peak from above.
    maxWatts: parts.reduce((a, p) => a + p.maxWatts, 0),
    energyJ: parts.reduce((a, p) => a + p.energyJ, 0),
    energySource: parts.every((p) => p.energySource === 'nvml-energy-counter') ? 'nvml-energy-counter' : 'integrated-power',
    avgSmClockMHz: mean(parts.map((p) => p.avgSmClockMHz)),
    avgMemClockMHz: mean(parts.map((p) => p.avgMemClockMHz)),
    maxTemperatureC: temps.length ? Math.max(...temps) : undefined,
    throttleReasons: [...new Set(parts.flatMap((p) => p.throttleReasons))],
    gpus: parts.length,
  };
}
