/**
 * All-reduce: every rank ends with the element-wise op over every rank's buffer. Six
 * algorithms, one file each (ring, halving-doubling, recursive doubling, binomial tree,
 * linear, one-shot); `auto` picks by size and by whether ranks share cores.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 2(n−1)/n; S = the buffer (count · size).
 * Buffers: input and output of S each; in place, output = input.
 */
import type { CollectiveModule } from '../module.js';
import { plainBuffers, reducedRange } from '../module.js';
import { elementBytes } from '../dtypes.js';
import { allReduceBusFactor, ringAllReduce } from './ring-allreduce.js';
import { recursiveDoublingAllReduce } from './recursive-doubling.js';
import { oneShotAllReduce } from './one-shot.js';
import { treeAllReduce } from './tree.js';
import { linearAllReduce } from './linear.js';
import { halvingDoublingAllReduce } from './halving-doubling.js';

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

export const allreduce: CollectiveModule = {
  kind: 'allreduce',
  algorithms: ['auto', 'ring', 'halving-doubling', 'recursive-doubling', 'tree', 'linear', 'one-shot'],
  busFactor: allReduceBusFactor,
  reduces: true,
  rooted: false,
  blocks: false,
  sameOnEveryRank: true,
  /**
   * `ranks` matters only to a small all-reduce whose ranks share cores (unknown: the
   * binomial tree). One-shot (one round, n−1 messages per rank) is there to be asked for by name.
   */
  resolve(c, ranks) {
    const bytes = c.count * elementBytes(c.dtype);
    if (!c.cpuBound) return bytes >= AUTO_RING_MIN_BYTES ? 'ring' : 'recursive-doubling';
    if (bytes >= AUTO_RING_MIN_BYTES_SHARED) return 'ring';
    return bytes < AUTO_LINEAR_MAX_BYTES && ranks <= LINEAR_MAX_RANKS ? 'linear' : 'tree';
  },
  inputCount: (c) => c.count,
  outputCount: (c) => c.count,
  allocate(c, ranks) {
    return plainBuffers(this, c, ranks);
  },
  hasInput: () => true,
  async run(t, c, b, algorithm) {
    if (algorithm === 'ring') return ringAllReduce(t, b.output, c.dtype, c.op, c.chunkBytes, c.inPlace ? undefined : b.input);
    if (algorithm === 'halving-doubling') return halvingDoublingAllReduce(t, b.output, c.dtype, c.op, c.chunkBytes, c.inPlace ? undefined : b.input);
    if (!c.inPlace) b.output.set(b.input);
    if (algorithm === 'recursive-doubling') return recursiveDoublingAllReduce(t, b.output, c.dtype, c.op);
    if (algorithm === 'one-shot') return oneShotAllReduce(t, b.output, c.dtype, c.op);
    if (algorithm === 'tree') return treeAllReduce(t, b.output, c.dtype, c.op);
    return linearAllReduce(t, b.output, c.dtype, c.op);
  },
  checked: (_c, _n, _r, b) => b.output,
  reference: (c, ranks, _rank, input) => reducedRange(c, ranks, input, [0, c.count]),
};
