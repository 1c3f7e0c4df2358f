/**
 * The collectives' registry: one module object per collective (module.ts says what one
 * holds; each lives in its own file under algorithms/, with its nccl-tests bus factor
 * next to its algorithm), and the few functions the workload, the rank-side runner, the
 * reference check and the tests go through: `resolveAlgorithm`, `allocateBuffers`,
 * `runCollective`. A new collective is its file, its name in COLLECTIVES and its entry in
 * COLLECTIVE_MODULES (the type checker asks for both).
 */
import { COLLECTIVE_WORKLOADS } from '../harness/results/schema.js';
import type { Transport } from './transport.js';
import type { CollectiveCall, CollectiveModule, RankBuffers } from './module.js';
import { allreduce } from './algorithms/allreduce.js';
import { allgather } from './algorithms/allgather.js';
import { reducescatter } from './algorithms/reducescatter.js';
import { broadcast } from './algorithms/broadcast.js';
import { reduce } from './algorithms/reduce.js';
import { alltoall } from './algorithms/alltoall.js';
import { gather } from './algorithms/gather.js';
import { scatter } from './algorithms/scatter.js';
import { sendrecv } from './algorithms/sendrecv.js';

export type { CollectiveCall, CollectiveModule, RankBuffers } from './module.js';
export { AUTO_LINEAR_MAX_BYTES, AUTO_RING_MIN_BYTES, AUTO_RING_MIN_BYTES_SHARED, LINEAR_MAX_RANKS } from './algorithms/allreduce.js';

/** Collective workloads, in the order nccl-tests lists its tests. */
export const COLLECTIVES = COLLECTIVE_WORKLOADS;
export type CollectiveKind = (typeof COLLECTIVES)[number];

/** Every collective's module, by kind. */
export const COLLECTIVE_MODULES: Readonly<Record<CollectiveKind, CollectiveModule>> = { allreduce, allgather, reducescatter, broadcast, reduce, alltoall, gather, scatter, sendrecv };

/** The module of a kind (throws for a name that is not a collective). */
export function collectiveModule(kind: string): CollectiveModule {
  const m = (COLLECTIVE_MODULES as Record<string, CollectiveModule | undefined>)[kind];
  if (!m) throw new Error(`"${kind}" is not a collective; known: ${COLLECTIVES.join(', ')}`);
  return m;
}

const byKind = <T>(f: (m: CollectiveModule) => T) => Object.fromEntries(COLLECTIVES.map((k) => [k, f(COLLECTIVE_MODULES[k])])) as Record<CollectiveKind, T>;

/** Algorithm names per collective; `auto` picks by message size. */
export const ALGORITHMS: Record<CollectiveKind, readonly string[]> = byKind((m) => m.algorithms);

/** nccl-tests' bus factor: busbw = algbw · factor(n). */
export const BUS_FACTOR: Record<CollectiveKind, (n: number) => number> = byKind((m) => m.busFactor);

/**
 * The concrete algorithm `auto` stands for at this size; `ranks` matters only to a small
 * all-reduce whose ranks share cores (unknown: the binomial tree).
 */
export function resolveAlgorithm(c: Pick<CollectiveCall, 'kind' | 'algorithm' | 'count' | 'dtype' | 'cpuBound'>, ranks = Infinity): string {
  if (c.algorithm !== 'auto') return c.algorithm;
  return collectiveModule(c.kind).resolve(c as CollectiveCall, ranks);
}

/** Elements of this rank's input buffer for the call. */
export function inputCount(c: CollectiveCall, ranks: number): number {
  return collectiveModule(c.kind).inputCount(c, ranks);
}

/** Elements of this rank's output buffer. */
export function outputCount(c: CollectiveCall, ranks: number): number {
  return collectiveModule(c.kind).outputCount(c, ranks);
}

/** Allocates the buffers of one rank (in-place calls alias output to input where NCCL does). */
export function allocateBuffers(c: CollectiveCall, ranks: number, rank: number): RankBuffers {
  return collectiveModule(c.kind).allocate(c, ranks, rank);
}

/** Runs one call of the collective on this rank. */
export async function runCollective(t: Transport, c: CollectiveCall, b: RankBuffers): Promise<void> {
  const m = collectiveModule(c.kind);
  const algorithm = resolveAlgorithm(c, t.size);
  if (algorithm === 'auto' || !m.algorithms.includes(algorithm)) throw new Error(`${c.kind}: unknown algorithm "${c.algorithm}"; allowed: ${m.algorithms.join(', ')}`);
  return m.run(t, c, b, algorithm);
}
