/**
 * The peercopy workload: copy bandwidth between every ordered pair of local GPUs, as
 * nvbandwidth's device_to_device_memcpy_read_ce (the destination's context pulls from its
 * peer) and device_to_device_memcpy_write_ce (the source's context pushes), one case per
 * pair; the run's summary is nvbandwidth's matrix (row: the GPU whose context copies,
 * column: its peer).
 */
import { z } from 'zod';
import type { CaseResult, Check, Metrics, Summary } from '../../harness/results/schema.js';
import type { CliOverrides, ExpandContext, Workload } from '../../harness/workload.js';
import { checkBytes, randomBytes } from './bytes.js';

export const PEERCOPY_TESTCASES = {
  device_to_device_memcpy_read_ce: 'read',
  device_to_device_memcpy_write_ce: 'write',
} as const;
export type PeerCopyTestcase = keyof typeof PEERCOPY_TESTCASES;
const NAMES = Object.keys(PEERCOPY_TESTCASES) as PeerCopyTestcase[];

export interface PeerCopyParams {
  bytes: number;
  testcase: PeerCopyTestcase;
  /** `read`: the copy runs in dst's context; `write`: in src's. */
  mode: 'read' | 'write';
  /** Ordinals of the GPUs the data leaves and reaches. */
  src: number;
  dst: number;
}

export interface PeerCopyData {
  src: Uint8Array;
  seed: number;
}

const bytes = z.number().int().min(4).max(2 ** 34).refine((b) => b % 4 === 0, 'bytes must be a multiple of 4');

/** A peercopy entry of a suite file. */
export const PeerCopyEntry = z.strictObject({
  workload: z.literal('peercopy'),
  backends: z.array(z.string().min(1)).min(1).optional(),
  /** Bytes per copy. @default [67108864] (64 MiB) */
  sizes: z.array(bytes).min(1).default([64 * 2 ** 20]),
  /** @default both */
  testcases: z.array(z.enum(NAMES as [PeerCopyTestcase, ...PeerCopyTestcase[]])).min(1).optional(),
});
export type PeerCopyEntry = z.infer<typeof PeerCopyEntry>;

/** The GPU whose context runs the copy: nvbandwidth's matrix row. */
export const initiatorOf = (p: PeerCopyParams): number => (p.mode === 'read' ? p.dst : p.src);
const peerOf = (p: PeerCopyParams): number => (p.mode === 'read' ? p.src : p.dst);

export const peerCopyWorkload: Workload<PeerCopyParams, PeerCopyData> = {
  id: 'peercopy',
  entrySchema: PeerCopyEntry as unknown as z.ZodObject,
  expand(raw, o: CliOverrides, ctx?: ExpandContext) {
    const e = raw as PeerCopyEntry;
    // Fewer than two GPUs (or none visible): the pair 0/1 is planned, and skipped saying why.
    const gpus = Math.max(2, ctx?.devices?.length ?? 0);
    const out: PeerCopyParams[] = [];
    for (const testcase of e.testcases ?? NAMES)
      for (const b of o.sizes ?? e.sizes)
        for (let row = 0; row < gpus; row++)
          for (let col = 0; col < gpus; col++) {
            if (row === col) continue;
            const mode = PEERCOPY_TESTCASES[testcase];
            out.push({ bytes: b, testcase, mode, src: mode === 'read' ? col : row, dst: mode === 'read' ? row : col });
          }
    return out;
  },
  caseId: (backend, p) => `peercopy/${backend}/${p.testcase}/${initiatorOf(p)}-${peerOf(p)}/${p.bytes}B`,
  describe: (p) => ({ bytes: p.bytes, testcase: p.testcase, mode: p.mode, src: p.src, dst: p.dst }),
  makeData: (p, seed) => ({ src: randomBytes(p.bytes, seed), seed }),
  check: (_p, data, out): Check => checkBytes(data.src, out, 1, data.seed),
  metrics: (p, medianMs): Metrics => ({ bandwidthGBps: p.bytes / (medianMs / 1e3) / 1e9 }),
  summarize(cases: CaseResult[]): Summary[] {
    const groups = new Map<string, CaseResult[]>();
    for (const c of cases) {
      const key = `${c.backend}|${String(c.params.testcase)}|${String(c.params.bytes)}`;
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    // A matrix of nothing but skipped pairs (no GPU, one GPU) says nothing the cases do not.
    return [...groups.entries()].filter(([, cs]) => cs.some((c) => c.status !== 'skipped')).map(([key, cs]) => {
      const [backend, testcase, size] = key.split('|') as [string, string, string];
      const read = testcase === 'device_to_device_memcpy_read_ce';
      const n = 1 + Math.max(...cs.flatMap((c) => [Number(c.params.src), Number(c.params.dst)]));
      const matrix: (number | null)[][] = Array.from({ length: n }, () => Array<number | null>(n).fill(null));
      for (const c of cs) {
        const row = read ? Number(c.params.dst) : Number(c.params.src);
        const col = read ? Number(c.params.src) : Number(c.params.dst);
        matrix[row]![col] = c.status === 'ok' ? (c.metrics.bandwidthGBps ?? null) : null;
      }
      return {
        title: `${testcase} on ${backend}, ${size} B: memcpy CE GPU(row) ${read ? '<-' : '->'} GPU(column) bandwidth (GB/s), N/A where not measured`,
        columns: ['', ...Array.from({ length: n }, (_, i) => String(i))],
        rows: matrix.map((r, i) => [String(i), ...r]),
        data: { testcase, backend, bytes: Number(size), rowIs: read ? 'destination (its context reads from the column)' : 'source (its context writes to the column)', matrixGBps: matrix },
      };
    });
  },
};
