/**
 * The collectives as one table: for each kind, its algorithms, its nccl-tests bus factor
 * and how one call runs on a rank's buffers. The workload, the rank-side case runner and
 * the tests all go through `runCollective`.
 */
import type { Transport } from './transport.js';
import { elementBytes, type CollectiveDtype } from './dtypes.js';
import type { ReduceOp } from './ops.js';
import { allReduceBusFactor, ringAllReduce } from './algorithms/ring-allreduce.js';
import { recursiveDoublingAllReduce } from './algorithms/recursive-doubling.js';
import { oneShotAllReduce } from './algorithms/one-shot.js';
import { treeAllReduce } from './algorithms/tree.js';
import { linearAllReduce } from './algorithms/linear.js';
import { halvingDoublingAllReduce } from './algorithms/halving-doubling.js';
import { allGatherBusFactor, ringAllGatherCollective } from './algorithms/allgather.js';
import { reduceScatterBusFactor, ringReduceScatterCollective } from './algorithms/reducescatter.js';
import { broadcastBusFactor, chainBroadcast } from './algorithms/broadcast.js';

/** Collective workloads. */
export const COLLECTIVES = ['allreduce', 'allgather', 'reducescatter', 'broadcast'] as const;
export type CollectiveKind = (typeof COLLECTIVES)[number];

/** Algorithm names per collective; `auto` picks by message size. */
export const ALGORITHMS: Record<CollectiveKind, readonly string[]> = {
  allreduce: ['auto', 'ring', 'halving-doubling', 'recursive-doubling', 'tree', 'linear', 'one-shot'],
  allgather: ['auto', 'ring'],
  reducescatter: ['auto', 'ring'],
  broadcast: ['auto', 'chain'],
};

/**
 * Below this many bytes `auto` all-reduce takes a latency algorithm, from here the ring
 * (bandwidth), where ranks have cores to themselves. The latency algorithm there is
 * recursive doubling: the fewest rounds (log2 n), one message per rank per round.
 */
export const AUTO_RING_MIN_BYTES = 64 * 1024;

/**
 * The same threshold where ranks share cores (`cpuBound`: more ranks than cores on a
 * host). There every message costs a syscall and a wake-up on the CPU that is the
 * bottleneck, and a ring's 2(n−1) dependent steps cost more than its bandwidth saves until
 * the buffer is large. Below it: under AUTO_LINEAR_MAX_BYTES, up to LINEAR_MAX_RANKS
 * ranks, the linear all-reduce (two rounds, the fewest messages; 1 KiB on 4 processes:
 * linear/tree median 0.82); otherwise the binomial tree (2·log2 n rounds). 4 processes on
 * 2 cores, steady state: tree 0.26 ms against the ring's 0.99–2.06 ms at 64 KiB, 2.0
 * against 2.4–2.7 ms at 1 MiB; the ring leads from 2 MiB (8 processes: level there).
 * Every measurement behind these thresholds: docs/collectives.md, "Algorithms and bus bandwidth".
 */
export const AUTO_RING_MIN_BYTES_SHARED = 2 * 1024 * 1024;

/** Most ranks for which `auto` takes the linear all-reduce when ranks share cores (measured up to 8). */
export const LINEAR_MAX_RANKS = 8;

/** Below this many bytes, ranks that share cores take the linear all-reduce rather than the tree. */
export const AUTO_LINEAR_MAX_BYTES = 64 * 1024;

/** nccl-tests' bus factor: busbw = algbw · factor(n). */
export const BUS_FACTOR: Record<CollectiveKind, (n: number) => number> = {
  allreduce: allReduceBusFactor,
  allgather: allGatherBusFactor,
  reducescatter: reduceScatterBusFactor,
  broadcast: broadcastBusFactor,
};

/** One collective call's shape. `count` is the total elements of S (nccl-tests' size). */
export interface CollectiveCall {
  kind: CollectiveKind;
  dtype: CollectiveDtype;
  op: ReduceOp;
  algorithm: string;
  /** Elements of S: the all-reduce buffer, the gathered output, the reduce-scatter input, the broadcast buffer. */
  count: number;
  inPlace: boolean;
  /** Broadcast root. @default 0 */
  root?: number;
  /** Pipelining slice in bytes. */
  chunkBytes?: number;
  /** The ranks share cores (a host runs more ranks than it has cores): `auto` then favours fewer messages over fewer rounds. */
  cpuBound?: boolean;
}

/**
 * The concrete algorithm `auto` stands for at this size; `ranks` matters only to a small
 * all-reduce whose ranks share cores (unknown: the binomial tree). One-shot (one round,
 * n−1 messages per rank) is there to be asked for by name.
 */
export function resolveAlgorithm(c: Pick<CollectiveCall, 'kind' | 'algorithm' | 'count' | 'dtype' | 'cpuBound'>, ranks = Infinity): string {
  if (c.algorithm !== 'auto') return c.algorithm;
  if (c.kind === 'allreduce') {
    const bytes = c.count * elementBytes(c.dtype);
    if (!c.cpuBound) return bytes >= AUTO_RING_MIN_BYTES ? 'ring' : 'recursive-doubling';
    if (bytes >= AUTO_RING_MIN_BYTES_SHARED) return 'ring';
    return bytes < AUTO_LINEAR_MAX_BYTES && ranks <= LINEAR_MAX_RANKS ? 'linear' : 'tree';
  }
  return c.kind === 'broadcast' ? 'chain' : 'ring';
}

/** Elements of this rank's input buffer for the call. */
export function inputCount(c: CollectiveCall, ranks: number): number {
  return c.kind === 'allgather' ? c.count / ranks : c.count;
}

/** Elements of this rank's output buffer. */
export function outputCount(c: CollectiveCall, ranks: number): number {
  return c.kind === 'reducescatter' ? c.count / ranks : c.count;
}

/** A rank's buffers: `input` is never written by out-of-place calls. */
export interface RankBuffers {
  input: Uint8Array;
  output: Uint8Array;
  /** Working copy for out-of-place reduce-scatter. */
  scratch?: Uint8Array;
}

/** Allocates the buffers of one rank (in-place calls alias output to input where NCCL does). */
export function allocateBuffers(c: CollectiveCall, ranks: number, rank: number): RankBuffers {
  const es = elementBytes(c.dtype);
  const input = new Uint8Array(inputCount(c, ranks) * es);
  if (!c.inPlace) {
    const output = new Uint8Array(outputCount(c, ranks) * es);
    return c.kind === 'reducescatter' ? { input, output, scratch: new Uint8Array(input.byteLength) } : { input, output };
  }
  if (c.kind === 'reducescatter') {
    const n = outputCount(c, ranks) * es;
    return { input, output: input.subarray(rank * n, (rank + 1) * n) };
  }
  if (c.kind === 'allgather') {
    // In-place all-gather: the input is block r of the output, as in NCCL.
    const output = new Uint8Array(c.count * es);
    const n = input.byteLength;
    return { input: output.subarray(rank * n, (rank + 1) * n), output };
  }
  return { input, output: input };
}

/** Runs one call of the collective on this rank. */
export async function runCollective(t: Transport, c: CollectiveCall, b: RankBuffers): Promise<void> {
  const algorithm = resolveAlgorithm(c, t.size);
  switch (c.kind) {
    case 'allreduce': {
      if (algorithm === 'ring') return ringAllReduce(t, b.output, c.dtype, c.op, c.chunkBytes, c.inPlace ? undefined : b.input);
      if (algorithm === 'halving-doubling') return halvingDoublingAllReduce(t, b.output, c.dtype, c.op, c.chunkBytes, c.inPlace ? undefined : b.input);
      if (!c.inPlace) b.output.set(b.input);
      if (algorithm === 'recursive-doubling') return recursiveDoublingAllReduce(t, b.output, c.dtype, c.op);
      if (algorithm === 'one-shot') return oneShotAllReduce(t, b.output, c.dtype, c.op);
      if (algorithm === 'tree') return treeAllReduce(t, b.output, c.dtype, c.op);
      if (algorithm === 'linear') return linearAllReduce(t, b.output, c.dtype, c.op);
      break;
    }
    case 'allgather':
      if (algorithm === 'ring') return ringAllGatherCollective(t, b.output, c.dtype, c.inPlace ? undefined : b.input, c.chunkBytes);
      break;
    case 'reducescatter':
      if (algorithm === 'ring') {
        if (c.inPlace) return ringReduceScatterCollective(t, b.input, c.dtype, c.op, undefined, c.chunkBytes);
        b.scratch!.set(b.input);
        return ringReduceScatterCollective(t, b.scratch!, c.dtype, c.op, b.output, c.chunkBytes);
      }
      break;
    case 'broadcast':
      if (algorithm === 'chain') {
        const root = c.root ?? 0;
        if (!c.inPlace && t.rank === root) b.output.set(b.input);
        return chainBroadcast(t, b.output, root, c.chunkBytes);
      }
      break;
  }
  throw new Error(`${c.kind}: unknown algorithm "${c.algorithm}"; allowed: ${ALGORITHMS[c.kind].join(', ')}`);
}
