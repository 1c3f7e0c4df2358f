/**
 * Binomial-tree all-reduce: a reduce to rank 0 up a binomial tree (at round k, ranks with
 * bit k set send their partial to rank − 2^k and drop out), then a broadcast of the result
 * down the same tree. 2·⌈log2 n⌉ rounds, but only 2(n−1) messages in all, against
 * recursive doubling's n·log2 n: where ranks share cores every message costs a syscall and
 * a wake-up on a busy CPU, and the fewest messages win over the fewest rounds (MPI's
 * reduce + bcast; NCCL's tree for small messages).
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 2(n−1)/n, as for every all-reduce.
 * Check: every rank ends with rank 0's result, the element-wise op over all inputs.
 */
import type { Transport } from '../transport.js';
import { aligned, view, type CollectiveDtype } from '../dtypes.js';
import { finalize, reduceInto, type ReduceOp } from '../ops.js';

export { allReduceBusFactor } from './ring-allreduce.js';

/** Reduces `buf` across all ranks, in place. */
export async function treeAllReduce(t: Transport, buf: Uint8Array, dtype: CollectiveDtype, op: ReduceOp): Promise<void> {
  const { rank: r, size: n } = t;
  const mine = view(dtype, buf);
  // Up: children r + 2^k for each k below r's lowest set bit; then send to the parent.
  for (let mask = 1; mask < n; mask <<= 1) {
    if (r & mask) {
      await t.send(r - mask, buf);
      break;
    }
    if (r + mask < n) {
      const got = aligned(dtype, await t.recv(r + mask));
      if (got.byteLength !== buf.byteLength) throw new Error(`tree: ${got.byteLength} bytes from rank ${r + mask}, expected ${buf.byteLength}`);
      reduceInto(dtype, op, mine, view(dtype, got));
    }
  }
  if (r === 0) finalize(dtype, op, mine, n);
  // Down: the result from the parent, then on to the children, farthest first.
  if (r !== 0) await t.recvInto(r - (r & -r), buf);
  let top = 1;
  while (top < n) top <<= 1;
  const below = r === 0 ? top : r & -r;
  const sends: Promise<void>[] = [];
  for (let mask = below >> 1; mask >= 1; mask >>= 1) if (r + mask < n) sends.push(t.send(r + mask, buf));
  await Promise.all(sends);
}
