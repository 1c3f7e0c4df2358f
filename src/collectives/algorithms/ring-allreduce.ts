/**
 * Ring all-reduce = reduce-scatter then all-gather, chunked and pipelined: each rank
 * sends and receives 2(n−1)/n of the buffer, the bandwidth optimum, in 2(n−1) steps.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 2(n−1)/n. Check: every rank ends with the
 * element-wise reduction of all ranks' inputs.
 */
import type { Transport } from '../transport.js';
import type { CollectiveDtype } from '../dtypes.js';
import { finalize, type ReduceOp } from '../ops.js';
import { elementBytes, view } from '../dtypes.js';
import { RingPass, ringAllGather, ringReduceScatter } from './ring-steps.js';

/** nccl-tests' all-reduce bus factor. */
export const allReduceBusFactor = (n: number): number => (2 * (n - 1)) / n;

/**
 * Reduces `buf` (count elements of dtype) across the ring: in place, or out of place
 * from `input` into `buf` (the input is read where it lies, never copied first).
 */
export async function ringAllReduce(t: Transport, buf: Uint8Array, dtype: CollectiveDtype, op: ReduceOp, chunkBytes?: number, input?: Uint8Array): Promise<void> {
  const count = buf.byteLength / elementBytes(dtype);
  if (input && input.byteLength !== buf.byteLength) throw new RangeError(`ring all-reduce: ${input.byteLength}-byte input for a ${buf.byteLength}-byte output`);
  if (t.size === 1) {
    if (input) buf.set(input);
    return finalize(dtype, op, view(dtype, buf), 1);
  }
  const p = new RingPass(t, buf, count, dtype, chunkBytes, input);
  await ringReduceScatter(p, op, 0, true);
  await ringAllGather(p, t.rank + 1, true);
  await p.drain();
}
