/**
 * Ring reduce-scatter: the input has n blocks; after n−1 pipelined steps rank r holds
 * block r reduced over all ranks.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · (n−1)/n, with S the full input size.
 * Buffers: input count (S), output count/n; in place, the output is block r of the input
 * (NCCL's); out of place, a scratch copy of the input is reduced, so the input is never written.
 * Check: every rank's block equals the element-wise reduction of that block over ranks.
 */
import type { Transport } from '../transport.js';
import { elementBytes, view, type CollectiveDtype } from '../dtypes.js';
import { finalize, type ReduceOp } from '../ops.js';
import { RingPass, ringReduceScatter, segmentOf } from './ring-steps.js';
import { blockCount, reducedRange, wholeInBlockOut, type CollectiveModule } from '../module.js';

/** nccl-tests' reduce-scatter bus factor. */
export const reduceScatterBusFactor = (n: number): number => (n - 1) / n;

/**
 * Reduce-scatters `work` (n blocks, modified: it is the scratch space) so that block r
 * holds the result; with `out`, block r is then copied there.
 */
export async function ringReduceScatterCollective(t: Transport, work: Uint8Array, dtype: CollectiveDtype, op: ReduceOp, out?: Uint8Array, chunkBytes?: number): Promise<void> {
  const es = elementBytes(dtype);
  const count = work.byteLength / es;
  const [a, b] = segmentOf(count, t.size, t.rank);
  if (t.size === 1) finalize(dtype, op, view(dtype, work), 1);
  else {
    const p = new RingPass(t, work, count, dtype, chunkBytes);
    // shift −1: the segment left final on rank r is r itself.
    await ringReduceScatter(p, op, -1, false);
    await p.drain();
  }
  if (out) out.set(work.subarray(a * es, b * es));
}

export const reducescatter: CollectiveModule = {
  kind: 'reducescatter',
  algorithms: ['auto', 'ring'],
  busFactor: reduceScatterBusFactor,
  reduces: true,
  rooted: false,
  blocks: true,
  resolve: () => 'ring',
  inputCount: (c) => c.count,
  outputCount: (c, ranks) => blockCount(c, ranks),
  allocate(c, ranks, rank) {
    const b = wholeInBlockOut(c, ranks, rank);
    // Out of place the ring reduces in a working copy, never in the caller's input.
    return c.inPlace ? b : { ...b, scratch: new Uint8Array(b.input.byteLength) };
  },
  hasInput: () => true,
  run(t, c, b) {
    if (c.inPlace) return ringReduceScatterCollective(t, b.input, c.dtype, c.op, undefined, c.chunkBytes);
    b.scratch!.set(b.input);
    return ringReduceScatterCollective(t, b.scratch!, c.dtype, c.op, b.output, c.chunkBytes);
  },
  checked: (_c, _n, _r, b) => b.output,
  reference: (c, ranks, rank, input) => reducedRange(c, ranks, input, segmentOf(c.count, ranks, rank)),
};
