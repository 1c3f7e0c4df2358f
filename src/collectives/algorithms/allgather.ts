/**
 * Ring all-gather: rank r contributes block r of the output; n−1 pipelined steps pass
 * every block around the ring.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · (n−1)/n, with S the full gathered size.
 * Buffers: input count/n, output count (S); in place, the input is block r of the output (NCCL's).
 * Check: every rank's output is the concatenation of all ranks' inputs, bit for bit.
 */
import type { Transport } from '../transport.js';
import { elementBytes, type CollectiveDtype } from '../dtypes.js';
import { blockCount, blockInWholeOut, decodeInto, moved, type CollectiveModule } from '../module.js';
import { RingPass, ringAllGather, segmentOf } from './ring-steps.js';

/** nccl-tests' all-gather bus factor. */
export const allGatherBusFactor = (n: number): number => (n - 1) / n;

/**
 * Gathers into `out` (n equal blocks); block r must already hold this rank's input
 * (in-place), or is copied from `input` first (out-of-place).
 */
export async function ringAllGatherCollective(t: Transport, out: Uint8Array, dtype: CollectiveDtype, input?: Uint8Array, chunkBytes?: number): Promise<void> {
  const count = out.byteLength / elementBytes(dtype);
  if (input) {
    const [a] = segmentOf(count, t.size, t.rank);
    out.set(input, a * elementBytes(dtype));
  }
  if (t.size === 1) return;
  const p = new RingPass(t, out, count, dtype, chunkBytes);
  await ringAllGather(p, t.rank, false);
  await p.drain();
}

export const allgather: CollectiveModule = {
  kind: 'allgather',
  algorithms: ['auto', 'ring'],
  busFactor: allGatherBusFactor,
  reduces: false,
  rooted: false,
  blocks: true,
  sameOnEveryRank: true,
  resolve: () => 'ring',
  inputCount: (c, ranks) => blockCount(c, ranks),
  outputCount: (c) => c.count,
  allocate: blockInWholeOut,
  hasInput: () => true,
  run: (t, c, b) => ringAllGatherCollective(t, b.output, c.dtype, c.inPlace ? undefined : b.input, c.chunkBytes),
  checked: (_c, _n, _r, b) => b.output,
  reference: (c, ranks, _rank, input) =>
    moved(c.count, (ref) => {
      for (let r = 0; r < ranks; r++) decodeInto(c.dtype, input(r), ref, segmentOf(c.count, ranks, r)[0]);
    }),
};
