/**
 * All-reduce for a rank whose buffer lives in a GPU storage buffer and whose links are a
 * host transport (in-process between local adapters): a slice to send is copied to a
 * mappable buffer and read into host memory; a slice that arrives is written into a
 * staging storage buffer and reduced (or copied) into place by the WGSL kernel on this
 * rank's GPU (`GpuRank`, gpu-rank.ts).
 *
 * Algorithms: `ring` (reduce-scatter then all-gather, one segment per step), `one-shot`
 * (every rank sends its whole buffer to every other and reduces in rank order, so every
 * rank computes the same bits) and `recursive-doubling` (log2 p whole-buffer swaps with
 * partner r XOR 2^k, ranks beyond the power of two p folded in first and sent the result
 * last, as the CPU version). Bus factor 2(n−1)/n as every all-reduce.
 */
import type { Transport } from '../transport.js';
import type { ReduceOp } from '../ops.js';
import { segmentOf } from '../algorithms/ring-steps.js';
import type { GpuRank, Range } from './gpu-rank.js';

/** Algorithms this rank implements. */
export const GPU_ALLREDUCE_ALGORITHMS = ['ring', 'one-shot', 'recursive-doubling'] as const;
export type GpuAllReduceAlgorithm = (typeof GPU_ALLREDUCE_ALGORITHMS)[number];

/** One all-reduce call on this rank: the output buffer ends as the reduction over all ranks. */
export async function gpuAllReduce(t: Transport, g: GpuRank, op: ReduceOp, algorithm: GpuAllReduceAlgorithm): Promise<void> {
  g.startCall();
  const { rank: r, size: n } = t;
  const buf = g.output;
  if (n === 1) return; // avg divides by 1: nothing to do
  const fin = (a: number, b: number) => g.dev.reducer.finalize(g.dtype, op, buf, b - a, n, a);
  if (algorithm === 'one-shot') {
    const all: [number, number] = [0, g.count];
    const mine = await g.read(buf, all);
    const peers = Array.from({ length: n }, (_, p) => p).filter((p) => p !== r);
    const [, got] = await Promise.all([Promise.all(peers.map((p) => t.send(p, mine))), Promise.all(peers.map((p) => t.recv(p)))]);
    const parts = new Array<Uint8Array>(n);
    parts[r] = mine;
    peers.forEach((p, i) => (parts[p] = got[i]!));
    // Rank order 0..n−1 on every rank: identical rounding everywhere.
    if (r !== 0) g.land(buf, all, parts[0]!, 'copy');
    for (let p = 1; p < n; p++) g.land(buf, all, parts[p]!, op);
    fin(0, g.count);
    return;
  }
  if (algorithm === 'recursive-doubling') return recursiveDoubling(t, g, op);
  const right = (r + 1) % n;
  const left = (r - 1 + n) % n;
  const seg = (i: number) => segmentOf(g.count, n, i);
  const exchange = async (send: [number, number]) => {
    const out = await g.read(buf, send);
    const [, got] = await Promise.all([t.send(right, out), t.recv(left)]);
    return got;
  };
  // Reduce-scatter: step s sends segment r−s and reduces segment r−s−1 from the left;
  // rank r ends holding segment r+1 reduced over every rank.
  for (let s = 0; s < n - 1; s++) g.land(buf, seg(r - s - 1), await exchange(seg(r - s)), op);
  fin(...seg(r + 1));
  // All-gather: step s forwards segment r+1−s and stores segment r−s.
  for (let s = 0; s < n - 1; s++) g.land(buf, seg(r - s), await exchange(seg(r + 1 - s)), 'copy');
}

/**
 * Recursive doubling on GPU buffers, step for step as `recursiveDoublingAllReduce` on the
 * CPU: every landing is mine ⊕ what arrived, so partners combine the same two operands
 * in the same order (IEEE ⊕ is commutative) and every rank ends with the same bits.
 */
async function recursiveDoubling(t: Transport, g: GpuRank, op: ReduceOp): Promise<void> {
  const { rank: r, size: n } = t;
  const buf = g.output;
  const all: Range = [0, g.count];
  let p = 1;
  while (p * 2 <= n) p *= 2;
  const extra = n - p;
  if (r >= p) {
    // Beyond the power of two: hand the data to rank r−p, take the result back.
    await t.send(r - p, await g.read(buf, all));
    g.land(buf, all, await t.recv(r - p), 'copy');
    return;
  }
  if (r < extra) g.land(buf, all, await t.recv(r + p), op);
  for (let mask = 1; mask < p; mask <<= 1) {
    const partner = r ^ mask;
    const mine = await g.read(buf, all);
    const [, got] = await Promise.all([t.send(partner, mine), t.recv(partner)]);
    g.land(buf, all, got, op);
  }
  g.dev.reducer.finalize(g.dtype, op, buf, g.count, n, 0);
  if (r < extra) await t.send(r + p, await g.read(buf, all));
}
