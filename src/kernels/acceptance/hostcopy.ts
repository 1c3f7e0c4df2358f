/**
 * The hostcopy workload: host<->device copy bandwidth as nvbandwidth's testcases name and
 * measure it (pinned host memory; the copy engine or an SM copy kernel; one direction, or
 * the measured direction while a copy of twice the size runs the other way). The headline
 * is nvbandwidth's: bytes copied on the measured stream / median time. WebGPU has its own
 * two testcases: upload with `writeBuffer` and download with `mapAsync`.
 */
import { z } from 'zod';
import type { Check, Metrics } from '../../harness/results/schema.js';
import type { CliOverrides, ExpandContext, Workload } from '../../harness/workload.js';
import { checkBytes, randomBytes } from './bytes.js';

/** How one testcase copies. */
export interface HostCopyKind {
  direction: 'h2d' | 'd2h';
  /** `ce`: cuMemcpy*Async (copy engine); `sm`: a copy kernel; `queue`: WebGPU's queue/map. */
  engine: 'ce' | 'sm' | 'queue';
  bidirectional: boolean;
}

/** nvbandwidth's host testcases (its names), then WebGPU's. */
export const HOSTCOPY_TESTCASES = {
  host_to_device_memcpy_ce: { direction: 'h2d', engine: 'ce', bidirectional: false },
  device_to_host_memcpy_ce: { direction: 'd2h', engine: 'ce', bidirectional: false },
  host_to_device_bidirectional_memcpy_ce: { direction: 'h2d', engine: 'ce', bidirectional: true },
  device_to_host_bidirectional_memcpy_ce: { direction: 'd2h', engine: 'ce', bidirectional: true },
  host_to_device_memcpy_sm: { direction: 'h2d', engine: 'sm', bidirectional: false },
  device_to_host_memcpy_sm: { direction: 'd2h', engine: 'sm', bidirectional: false },
  host_to_device_bidirectional_memcpy_sm: { direction: 'h2d', engine: 'sm', bidirectional: true },
  device_to_host_bidirectional_memcpy_sm: { direction: 'd2h', engine: 'sm', bidirectional: true },
  host_to_device_writebuffer: { direction: 'h2d', engine: 'queue', bidirectional: false },
  device_to_host_mapasync: { direction: 'd2h', engine: 'queue', bidirectional: false },
} as const satisfies Record<string, HostCopyKind>;
export type HostCopyTestcase = keyof typeof HOSTCOPY_TESTCASES;
const TESTCASE_NAMES = Object.keys(HOSTCOPY_TESTCASES) as HostCopyTestcase[];

/** The testcases a backend runs when the suite names none. */
function defaultTestcases(backend: string): HostCopyTestcase[] {
  return TESTCASE_NAMES.filter((t) => (HOSTCOPY_TESTCASES[t].engine === 'queue') === (backend === 'webgpu'));
}

export interface HostCopyParams extends HostCopyKind {
  /** Bytes per copy on the measured stream (a multiple of 4). */
  bytes: number;
  testcase: HostCopyTestcase;
}

export interface HostCopyData {
  src: Uint8Array;
  seed: number;
}

const bytes = z.number().int().min(4).max(2 ** 34).refine((b) => b % 4 === 0, 'bytes must be a multiple of 4');

/** A hostcopy entry of a suite file. */
export const HostCopyEntry = z.strictObject({
  workload: z.literal('hostcopy'),
  backends: z.array(z.string().min(1)).min(1).optional(),
  /** Bytes per copy. @default [67108864] (64 MiB, nvbandwidth's --bufferSize default) */
  sizes: z.array(bytes).min(1).default([64 * 2 ** 20]),
  /** nvbandwidth testcase names (or WebGPU's). @default every one the backend has */
  testcases: z.array(z.enum(TESTCASE_NAMES as [HostCopyTestcase, ...HostCopyTestcase[]])).min(1).optional(),
});
export type HostCopyEntry = z.infer<typeof HostCopyEntry>;

export const hostCopyWorkload: Workload<HostCopyParams, HostCopyData> = {
  id: 'hostcopy',
  entrySchema: HostCopyEntry as unknown as z.ZodObject,
  expand(raw, o: CliOverrides, ctx?: ExpandContext) {
    const e = raw as HostCopyEntry;
    const tcs = e.testcases ?? defaultTestcases(ctx?.backend ?? '');
    return tcs.flatMap((testcase) => (o.sizes ?? e.sizes).map((b) => ({ bytes: b, testcase, ...HOSTCOPY_TESTCASES[testcase] })));
  },
  caseId: (backend, p) => `hostcopy/${backend}/${p.testcase}/${p.bytes}B`,
  describe: (p) => ({ bytes: p.bytes, testcase: p.testcase, direction: p.direction, engine: p.engine, bidirectional: p.bidirectional }),
  makeData: (p, seed) => ({ src: randomBytes(p.bytes, seed), seed }),
  check(p, data, out): Check {
    // Bidirectional: the measured destination, then the interfering one (the source twice).
    return checkBytes(data.src, out, p.bidirectional ? 3 : 1, data.seed);
  },
  metrics(p, medianMs): Metrics {
    return { bandwidthGBps: p.bytes / (medianMs / 1e3) / 1e9 };
  },
};
