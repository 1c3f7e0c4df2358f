/**
 * The collective workloads (every kind in the registry, collective.ts: `allreduce`,
 * `allgather`, `reducescatter`, `broadcast`, `reduce`, `alltoall`, `gather`, `scatter`,
 * `sendrecv`): a sweep of message sizes as nccl-tests runs it (`minBytes`…`maxBytes`, ×`stepFactor`),
 * over dtypes, ops, algorithms and in-place/out-of-place. Metrics as nccl-tests defines
 * them: algbw = S / t (GB = 1e9 bytes), busbw = algbw × the collective's bus factor,
 * t the slowest rank's time. The cases run on every rank under the control plane.
 */
import { z } from 'zod';
import type { Check, Metrics } from '../harness/results/schema.js';
import type { CliOverrides, ExpandContext, Workload } from '../harness/workload.js';
import { UsageError } from '../harness/errors.js';
import { COLLECTIVE_DTYPES, elementBytes, type CollectiveDtype } from './dtypes.js';
import { REDUCE_OPS, type ReduceOp } from './ops.js';
import { ALGORITHMS, collectiveModule, type CollectiveCall, type CollectiveKind } from './collective.js';
import { hostsFor, ranksFor } from './world.js';
import { DEFAULT_CHUNK_BYTES } from './algorithms/ring-steps.js';

/** One collective case. */
export interface CollectiveParams {
  kind: CollectiveKind;
  /** S in bytes, rounded down to whole elements (and to whole per-rank blocks). */
  bytes: number;
  count: number;
  dtype: CollectiveDtype;
  op: ReduceOp;
  algorithm: string;
  inPlace: boolean;
  ranks: number;
  /** Distinct hosts the ranks run on (0: not known yet). */
  nodes: number;
  chunkBytes: number;
  /** Rooted collectives only (broadcast, reduce, gather, scatter): the root rank (nccl-tests -r). */
  root?: number;
}

/** Data is made on each rank from the seed; the coordinator holds only the seed. */
export interface CollectiveData {
  seed: number;
  /**
   * Each rank's check, left here by a backend whose ranks all run in this process
   * (`webgpu-local`) during its checked call; `check()` merges them.
   */
  rankChecks?: Check[];
}

/** One check for a case from every rank's: wrong and checked summed, the worst error. */
export function mergeChecks(checks: Check[]): Check {
  const first = checks[0]!;
  const rels = checks.map((c) => c.maxRelError);
  return {
    passed: checks.every((c) => c.passed),
    maxRelError: rels.some((x) => x === null) ? null : Math.max(...(rels as number[])),
    tolerance: first.tolerance,
    wrong: checks.reduce((s, c) => s + c.wrong, 0),
    checked: checks.reduce((s, c) => s + (c.checked ?? 0), 0),
    ...(first.seed !== undefined ? { seed: first.seed } : {}),
  };
}

const Bytes = z.number().int().min(1).max(2 ** 40);

function entrySchema(kind: CollectiveKind) {
  const m = collectiveModule(kind);
  return z.strictObject({
    workload: z.literal(kind),
    /** Backends to run; omitted = every available one with this collective (`ws`). */
    backends: z.array(z.string().min(1)).min(1).optional(),
    /** Smallest S in bytes (nccl-tests -b). @default 8 */
    minBytes: Bytes.default(8),
    /** Largest S in bytes (nccl-tests -e). @default 67108864 */
    maxBytes: Bytes.default(64 * 1024 * 1024),
    /** Multiply S by this between sizes (nccl-tests -f). @default 2 */
    stepFactor: z.number().min(1.01).max(2 ** 40).default(2),
    /** Add this many bytes to S between sizes instead of multiplying (nccl-tests -i); not with stepFactor set. */
    stepBytes: Bytes.optional(),
    /** @default [f32] */
    dtypes: z.array(z.enum(COLLECTIVE_DTYPES)).min(1).default(['f32']),
    /** Reduction ops (used by all-reduce, reduce-scatter and reduce; ignored by the rest). @default [sum] */
    ops: z.array(z.enum(REDUCE_OPS)).min(1).default(['sum']),
    /** @default [auto] */
    algorithms: z.array(z.enum(ALGORITHMS[kind] as [string, ...string[]])).min(1).default(['auto']),
    /** In-place (output aliases input, as NCCL's in-place; all-to-all and send/receive have none: skipped) and/or out-of-place. @default [false] */
    inPlace: z.array(z.boolean()).min(1).default([false]),
    /** Pipelining slice: the largest message an algorithm sends at once. @default 2097152 */
    chunkBytes: z.number().int().min(64).max(1 << 30).default(DEFAULT_CHUNK_BYTES),
    // Only a rooted collective has a root: on another the field is an unknown key.
    ...(m.rooted
      ? {
          /** The root rank (nccl-tests -r); a backend whose ranks do not include it skips its cases. @default 0 */
          root: z.number().int().min(0).default(0),
        }
      : {}),
  }).refine((e) => e.minBytes <= e.maxBytes, { message: 'minBytes must not exceed maxBytes', path: ['minBytes'] });
}

type Entry = z.infer<ReturnType<typeof entrySchema>>;

/** Sizes from min to max, ×factor, always including max (as nccl-tests does with -f). */
export function sweepSizes(min: number, max: number, factor: number, stepBytes?: number): number[] {
  const out: number[] = [];
  if (stepBytes !== undefined) {
    // nccl-tests -i: min, min + step, …, then max if the steps miss it.
    if ((max - min) / stepBytes >= MAX_SIZES) throw new UsageError(`${stepBytes}-byte steps from ${min} to ${max} make more than ${MAX_SIZES} sizes`, '--step-bytes');
    for (let s = min; s <= max; s += stepBytes) out.push(s);
  } else for (let s = min; s <= max; s = Math.max(s + 1, Math.floor(s * factor))) out.push(s);
  if (out[out.length - 1] !== max) out.push(max);
  return out;
}

/** The most sizes one sweep may have (a linear step that small is a typo, not a plan). */
export const MAX_SIZES = 10_000;

const pickList = <T extends string>(given: unknown, allowed: readonly T[], option: string): T[] | undefined => {
  if (given === undefined) return undefined;
  const list = given as string[];
  for (const v of list) if (!allowed.includes(v as T)) throw new UsageError(`"${v}" is not one of ${allowed.join(', ')}`, option);
  return list as T[];
};

/** Why a case cannot run on its `ranks` ranks because of its root, or undefined. */
export function rootSupport(p: Pick<CollectiveParams, 'root' | 'ranks'>): string | undefined {
  return p.root !== undefined && p.root >= p.ranks ? `root ${p.root} is not one of the ${p.ranks} ranks (0..${p.ranks - 1})` : undefined;
}

/**
 * Why a case cannot run at all, or undefined: a root outside the ranks, or in place where
 * NCCL has no in-place form of the collective (all-to-all, send/receive).
 */
export function collectiveSupport(p: Pick<CollectiveParams, 'kind' | 'root' | 'ranks' | 'inPlace'>): string | undefined {
  const noInPlace = collectiveModule(p.kind).noInPlace;
  return rootSupport(p) ?? (p.inPlace && noInPlace ? noInPlace : undefined);
}

/** `r4h2`: 4 ranks on 2 hosts (`h?` while the hosts are not known yet), the last part of a collective case id. */
export function topologyTag(p: Pick<CollectiveParams, 'ranks' | 'nodes'>): string {
  return `r${p.ranks}h${p.nodes > 0 ? p.nodes : '?'}`;
}

/** The call a case makes on every rank. */
export function callOf(p: CollectiveParams): CollectiveCall {
  return { kind: p.kind, dtype: p.dtype, op: p.op, algorithm: p.algorithm, count: p.count, inPlace: p.inPlace, chunkBytes: p.chunkBytes, ...(p.root !== undefined ? { root: p.root } : {}) };
}

/** The workload definition of one collective. */
export function collectiveWorkload(kind: CollectiveKind): Workload<CollectiveParams, CollectiveData> {
  const schema = entrySchema(kind);
  const m = collectiveModule(kind);
  const reduces = m.reduces;
  return {
    id: kind,
    entrySchema: schema as unknown as z.ZodObject,

    expand(raw, o: CliOverrides, context?: ExpandContext): CollectiveParams[] {
      const e = raw as Entry;
      const ranks = ranksFor(context?.backend);
      const nodes = hostsFor(context?.backend);
      const minBytes = (o.minBytes as number | undefined) ?? e.minBytes;
      const maxBytes = (o.maxBytes as number | undefined) ?? e.maxBytes;
      const factor = (o.stepFactor as number | undefined) ?? e.stepFactor;
      // -i replaces the entry's factor; given with -f it is ambiguous (nccl-tests would quietly take -f).
      if (o.stepBytes !== undefined && o.stepFactor !== undefined) throw new UsageError('give -f (multiply) or -i (add), not both', '--step-bytes');
      const stepBytes = o.stepFactor !== undefined ? undefined : ((o.stepBytes as number | undefined) ?? e.stepBytes);
      if (minBytes > maxBytes) throw new UsageError(`${minBytes} is larger than the largest size ${maxBytes}`, o.minBytes !== undefined ? '--min-bytes' : '--max-bytes');
      const ops = reduces ? (pickList(o.op, REDUCE_OPS, '--op') ?? e.ops) : (['sum'] as ReduceOp[]);
      const algorithms = pickList(o.algorithm, ALGORITHMS[kind], '--algorithm') ?? e.algorithms;
      const inPlace = o.inPlace !== undefined ? (o.inPlace as boolean[]) : e.inPlace;
      const chunkBytes = (o.chunkBytes as number | undefined) ?? e.chunkBytes;
      // A root beyond a backend's ranks skips that backend's cases (rootSupport): one
      // suite runs on machines with different rank counts.
      const root = m.rooted ? ((o.root as number | undefined) ?? (e as Entry & { root: number }).root) : undefined;
      const out: CollectiveParams[] = [];
      for (const dtype of e.dtypes)
        for (const op of ops)
          for (const algorithm of algorithms)
            for (const ip of inPlace) {
              const seen = new Set<number>();
              for (const size of sweepSizes(minBytes, maxBytes, factor, stepBytes)) {
                // Whole elements; gathers, scatters and all-to-all need whole per-rank blocks.
                const unit = elementBytes(dtype) * (m.blocks ? ranks : 1);
                const bytes = Math.floor(size / unit) * unit;
                if (bytes === 0 || seen.has(bytes)) continue;
                seen.add(bytes);
                out.push({ kind, bytes, count: bytes / elementBytes(dtype), dtype, op, algorithm, inPlace: ip, ranks, nodes, chunkBytes, ...(root !== undefined ? { root } : {}) });
              }
            }
      return out;
    },

    caseId(backend, p) {
      const op = reduces ? `/${p.op}` : '';
      // The slice is named only when it is not the default, so ids (and baselines keyed by
      // them) stay as they were, while a sweep over slices keeps one case per slice.
      const chunk = p.chunkBytes !== DEFAULT_CHUNK_BYTES ? `/chunk${p.chunkBytes}` : '';
      const root = p.root ? `/root${p.root}` : '';
      // The topology is part of what was measured: 4 ranks on 1 host and 3 on 3 hosts are
      // different cases, and `compare` must never pair them.
      return `${kind}/${backend}/${p.dtype}${op}/${p.algorithm}/${p.bytes}${p.inPlace ? '/inplace' : ''}${chunk}${root}/${topologyTag(p)}`;
    },

    describe(p) {
      return { bytes: p.bytes, count: p.count, dtype: p.dtype, op: reduces ? p.op : undefined, algorithm: p.algorithm, ranks: p.ranks, ...(p.nodes > 0 ? { nodes: p.nodes } : {}), inPlace: p.inPlace, chunkBytes: p.chunkBytes, root: p.root };
    },

    makeData: (_p, seed) => ({ seed }),

    check(_p, data): Check {
      // In-process ranks checked themselves during the checked call; across processes
      // every rank checks itself under the control plane (rank-case.ts).
      if (data.rankChecks?.length) return mergeChecks(data.rankChecks);
      throw new Error(`${kind} is checked on every rank, not in the coordinating process`);
    },

    metrics(p, medianMs): Metrics {
      const algbwGBps = p.bytes / 1e9 / (medianMs / 1e3);
      return { algbwGBps, busbwGBps: algbwGBps * m.busFactor(p.ranks) };
    },
  };
}
