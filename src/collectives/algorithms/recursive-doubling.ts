/**
 * Recursive-doubling all-reduce: log2(p) steps in which partners r and r XOR 2^k swap
 * their whole buffers and reduce, the latency optimum for small messages. Ranks beyond
 * the largest power of two p first fold their data into rank r−p and get the result
 * back at the end (2 extra steps), so any rank count works.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 2(n−1)/n, as for every all-reduce.
 * Check: every rank ends with the element-wise reduction of all ranks' inputs.
 */
import type { Transport } from '../transport.js';
import { aligned, view, type CollectiveDtype } from '../dtypes.js';
import { finalize, reduceInto, type ReduceOp } from '../ops.js';

export { allReduceBusFactor } from './ring-allreduce.js';

/** Reduces `buf` across all ranks, in place. */
export async function recursiveDoublingAllReduce(t: Transport, buf: Uint8Array, dtype: CollectiveDtype, op: ReduceOp): Promise<void> {
  const { rank: r, size: n } = t;
  let p = 1;
  while (p * 2 <= n) p *= 2;
  const extra = n - p;
  const mine = view(dtype, buf);
  const take = async (peer: number) => {
    const got = aligned(dtype, await t.recv(peer));
    if (got.byteLength !== buf.byteLength) throw new Error(`recursive doubling: ${got.byteLength} bytes from rank ${peer}, expected ${buf.byteLength}`);
    return view(dtype, got);
  };
  if (r >= p) {
    await t.send(r - p, buf);
    await t.recvInto(r - p, buf);
    return;
  }
  if (r < extra) reduceInto(dtype, op, mine, await take(r + p));
  for (let mask = 1; mask < p; mask <<= 1) {
    const partner = r ^ mask;
    const [, got] = await Promise.all([t.send(partner, buf), take(partner)]);
    reduceInto(dtype, op, mine, got);
  }
  finalize(dtype, op, mine, n);
  if (r < extra) await t.send(r + p, buf);
}
