/**
 * One-shot all-reduce: every rank sends its whole buffer to every other rank at once and
 * reduces what arrives, in rank order (so every rank computes the same bits). One round
 * of latency instead of log2(n) — the best for tiny messages, where waking a peer costs
 * far more than moving a few KiB n−1 times (NCCL's one-shot / LL idea).
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 2(n−1)/n, as for every all-reduce.
 * Check: every rank ends with the element-wise reduction of all ranks' inputs.
 */
import type { Transport } from '../transport.js';
import { aligned, copyBytes, view, type CollectiveDtype } from '../dtypes.js';
import { finalize, reduceInto, type ReduceOp } from '../ops.js';

export { allReduceBusFactor } from './ring-allreduce.js';

/** Reduces `buf` across all ranks, in place. */
export async function oneShotAllReduce(t: Transport, buf: Uint8Array, dtype: CollectiveDtype, op: ReduceOp): Promise<void> {
  const { rank: r, size: n } = t;
  if (n > 1) {
    const mine = copyBytes(buf);
    const peers = Array.from({ length: n }, (_, p) => p).filter((p) => p !== r);
    const [, got] = await Promise.all([Promise.all(peers.map((p) => t.send(p, mine))), Promise.all(peers.map((p) => t.recv(p)))]);
    // Reduce in rank order 0..n−1 on every rank: identical rounding everywhere.
    const parts = new Array<Uint8Array>(n);
    parts[r] = mine;
    peers.forEach((p, i) => {
      const g = got[i]!;
      if (g.byteLength !== buf.byteLength) throw new Error(`one-shot: ${g.byteLength} bytes from rank ${p}, expected ${buf.byteLength}`);
      parts[p] = aligned(dtype, g);
    });
    buf.set(parts[0]!);
    const acc = view(dtype, buf);
    for (let p = 1; p < n; p++) reduceInto(dtype, op, acc, view(dtype, parts[p]!));
  }
  finalize(dtype, op, view(dtype, buf), n);
}
