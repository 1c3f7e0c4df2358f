/**
 * The hostcopy workload: host<->device copy bandwidth as nvbandwidth's testcases name and
 * measure it (pinned host memory; the copy engine or an SM copy kernel; one direction, or
 * the measured direction while a copy of twice the size runs the other way). The headline
 * is nvbandwidth's: bytes copied on the measured stream / median time. WebGPU has its own
 * two testcases: upload with `writeBuffer` and download with `mapAsync`. One case per local
 * GPU, and nvbandwidth's table over them as the run's summary (CPU row, GPU columns).
 */
import { z } from 'zod';
import type { CaseResult, Check, Metrics, Summary } from '../../harness/results/schema.js';
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
  /** Index of the GPU among the backend's devices (its CUDA ordinal on `cuda`). */
  device: number;
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
    const gpus = Math.max(1, ctx?.devices?.length ?? 0);
    return tcs.flatMap((testcase) =>
      (o.sizes ?? e.sizes).flatMap((b) => Array.from({ length: gpus }, (_, device) => ({ bytes: b, testcase, device, ...HOSTCOPY_TESTCASES[testcase] }))),
    );
  },
  caseId: (backend, p) => `hostcopy/${backend}/${p.testcase}/${p.device}/${p.bytes}B`,
  describe: (p) => ({ bytes: p.bytes, testcase: p.testcase, device: p.device, direction: p.direction, engine: p.engine, bidirectional: p.bidirectional }),
  makeData: (p, seed) => ({ src: randomBytes(p.bytes, seed), seed }),
  check(p, data, out): Check {
    // Bidirectional: the measured destination, then the interfering one (the source twice).
    return checkBytes(data.src, out, p.bidirectional ? 3 : 1, data.seed);
  },
  metrics(p, medianMs): Metrics {
    return { bandwidthGBps: p.bytes / (medianMs / 1e3) / 1e9 };
  },
  /** nvbandwidth's host tables in one: a row per testcase, a column per GPU, GB/s (N/A: not measured). */
  summarize(cases: CaseResult[]): Summary[] {
    const groups = new Map<string, CaseResult[]>();
    for (const c of cases) {
      if (c.status === 'skipped') continue;
      const key = `${c.backend}|${String(c.params.bytes)}`;
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    return [...groups.entries()].map(([key, cs]) => {
      const [backend, size] = key.split('|') as [string, string];
      const gpus = 1 + Math.max(...cs.map((c) => Number(c.params.device ?? 0)));
      const testcases = [...new Set(cs.map((c) => String(c.params.testcase)))];
      const rows = testcases.map((t) => {
        const row: (number | null)[] = Array<number | null>(gpus).fill(null);
        for (const c of cs) if (c.params.testcase === t && c.status === 'ok') row[Number(c.params.device ?? 0)] = c.metrics.bandwidthGBps ?? null;
        return [t, ...row];
      });
      return {
        title: `hostcopy on ${backend}, ${size} B: CPU <-> GPU(column) bandwidth (GB/s), the measured direction of each testcase`,
        columns: ['testcase', ...Array.from({ length: gpus }, (_, i) => String(i))],
        rows,
        data: { backend, bytes: Number(size), gbps: Object.fromEntries(rows.map(([t, ...r]) => [String(t), r])) },
      };
    });
  },
};
