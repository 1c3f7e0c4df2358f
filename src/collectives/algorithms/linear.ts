/**
 * Linear all-reduce (Open MPI's "basic linear": a linear reduce, then a linear bcast):
 * every rank sends its buffer to rank 0, rank 0 reduces them in rank order and sends the
 * result back to every rank. Two rounds whatever n is, and 2(n−1) messages in all, as the
 * binomial tree; but rank 0 carries every message, so it is for few ranks and tiny
 * buffers: where ranks share cores, the binomial tree's four rounds for four ranks are
 * four wake-ups in a row, and here two.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 2(n−1)/n, as for every all-reduce.
 * Check: every rank ends with rank 0's result, the element-wise op over all inputs,
 * reduced in rank order (the same bits on every run).
 */
import type { Transport } from '../transport.js';
import { aligned, view, type CollectiveDtype } from '../dtypes.js';
import { finalize, reduceInto, type ReduceOp } from '../ops.js';

export { allReduceBusFactor } from './ring-allreduce.js';

/** Reduces `buf` across all ranks, in place. */
export async function linearAllReduce(t: Transport, buf: Uint8Array, dtype: CollectiveDtype, op: ReduceOp): Promise<void> {
  const { rank: r, size: n } = t;
  if (r !== 0) {
    await t.send(0, buf);
    await t.recvInto(0, buf);
    return;
  }
  const acc = view(dtype, buf);
  for (let p = 1; p < n; p++) {
    const got = aligned(dtype, await t.recv(p));
    if (got.byteLength !== buf.byteLength) throw new Error(`linear: ${got.byteLength} bytes from rank ${p}, expected ${buf.byteLength}`);
    reduceInto(dtype, op, acc, view(dtype, got));
  }
  finalize(dtype, op, acc, n);
  await Promise.all(Array.from({ length: n - 1 }, (_, i) => t.send(i + 1, buf)));
}
