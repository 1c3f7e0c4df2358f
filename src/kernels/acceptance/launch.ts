/**
 * The launch workload: the cost of launching an empty kernel, as the field measures it.
 * `device`: many back-to-back launches between CUDA events (the GPU's launch throughput,
 * µs per launch); `host-submit`: the host time of those launch calls alone (the CPU cost
 * of cuLaunchKernel); `host-roundtrip`: launch then wait for it, one at a time (the
 * latency a synchronous caller sees).
 */
import { z } from 'zod';
import type { Check, Metrics } from '../../harness/results/schema.js';
import type { Workload } from '../../harness/workload.js';

export const LAUNCH_CLOCKS = ['device', 'host-submit', 'host-roundtrip'] as const;
export type LaunchClock = (typeof LAUNCH_CLOCKS)[number];

export interface LaunchParams {
  clock: LaunchClock;
}

/** The value the checked launch must store: proof that the module loaded and the kernel ran. */
export interface LaunchData {
  value: number;
  seed: number;
}

export const LaunchEntry = z.strictObject({
  workload: z.literal('launch'),
  backends: z.array(z.string().min(1)).min(1).optional(),
  /** @default all three */
  clocks: z.array(z.enum(LAUNCH_CLOCKS)).min(1).default([...LAUNCH_CLOCKS]),
});
export type LaunchEntry = z.infer<typeof LaunchEntry>;

export const launchWorkload: Workload<LaunchParams, LaunchData> = {
  id: 'launch',
  entrySchema: LaunchEntry as unknown as z.ZodObject,
  expand: (raw) => (raw as LaunchEntry).clocks.map((clock) => ({ clock })),
  caseId: (backend, p) => `launch/${backend}/${p.clock}`,
  describe: (p) => ({ clock: p.clock }),
  // Never 0: the flag starts at 0, so a launch that stores nothing cannot pass.
  makeData: (_p, seed) => ({ value: (seed % 0x7ffffffe) + 1, seed }),
  check(_p, data, out): Check {
    const ok = out.length === 1 && out[0] === data.value;
    return { passed: ok, maxRelError: ok ? 0 : null, tolerance: 0, wrong: ok ? 0 : 1, checked: 1, seed: data.seed };
  },
  metrics: (_p, medianMs): Metrics => ({ usPerLaunch: medianMs * 1e3, launchesPerSecond: 1e3 / medianMs }),
};
