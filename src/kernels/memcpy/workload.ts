/**
 * The memcpy workload: a device-to-device copy of `bytes`, the memory-bandwidth ceiling of a
 * roofline. The headline is nvbandwidth's figure, bytes copied / median time; the memory
 * traffic, bytes read plus bytes written (2·bytes / median time), is kept as readWriteGBps.
 */
import { z } from 'zod';
import type { Check, Metrics } from '../../harness/results/schema.js';
import type { CliOverrides, Workload } from '../../harness/workload.js';
import { sampleIndices, uniform } from '../../harness/random.js';

/** One copy case. */
export interface MemcpyParams {
  /** Bytes copied (a multiple of 4). */
  bytes: number;
}

/** The source data (random f32, so a wrong copy cannot pass by accident). */
export interface MemcpyData {
  src: Float32Array;
  seed: number;
}

const bytes = z.number().int().min(4).max(2 ** 34).refine((b) => b % 4 === 0, 'bytes must be a multiple of 4');

/** A memcpy entry of a suite file; `sizes` are bytes (`--sizes` overrides them). */
export const MemcpyEntry = z.strictObject({
  workload: z.literal('memcpy'),
  backends: z.array(z.string().min(1)).min(1).optional(),
  /** Bytes per copy. @default [268435456] (256 MiB) */
  sizes: z.array(bytes).min(1).default([256 * 2 ** 20]),
});
export type MemcpyEntry = z.infer<typeof MemcpyEntry>;

/** Elements compared exactly; every one for copies up to this many, a sample beyond. */
const FULL_CHECK = 1 << 24;

export const memcpyWorkload: Workload<MemcpyParams, MemcpyData> = {
  id: 'memcpy',
  entrySchema: MemcpyEntry as unknown as z.ZodObject,
  expand(raw, o: CliOverrides) {
    const e = raw as MemcpyEntry;
    return (o.sizes ?? e.sizes).map((b) => ({ bytes: b }));
  },
  caseId: (backend, p) => `memcpy/${backend}/${p.bytes}B`,
  describe: (p) => ({ bytes: p.bytes }),
  makeData: (p, seed) => ({ src: uniform(p.bytes / 4, seed), seed }),
  check(p, data, out): Check {
    const n = p.bytes / 4;
    if (out.length < n) return { passed: false, maxRelError: null, tolerance: 0, wrong: n, checked: 0, seed: data.seed };
    const idx = n <= FULL_CHECK ? undefined : sampleIndices(n, FULL_CHECK, data.seed);
    let wrong = 0;
    const count = idx ? idx.length : n;
    for (let j = 0; j < count; j++) {
      const i = idx ? idx[j]! : j;
      if (!Object.is(out[i], data.src[i])) wrong++;
    }
    return { passed: wrong === 0, maxRelError: wrong === 0 ? 0 : wrong / count, tolerance: 0, wrong, checked: count, seed: data.seed };
  },
  metrics(p, medianMs): Metrics {
    const copied = p.bytes / (medianMs / 1e3) / 1e9;
    return { bandwidthGBps: copied, readWriteGBps: 2 * copied };
  },
};
