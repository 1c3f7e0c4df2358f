/**
 * Gather (nccl-tests' gather: every rank ncclSends its block to the root, the root
 * ncclRecvs block j from rank j, all in one group): the root ends with every rank's input,
 * block j from rank j. Linear: every non-root sends its block to the root, sliced; the
 * root receives every peer's slices at once, straight into place.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · (n−1)/n; S = the gathered size at the root
 * (count · size, n blocks).
 * Buffers: input count/n, output count (S) on every rank; in place, the input is block r of
 * the output (NCCL's `sendbuff == recvbuff + rank·sendcount`). Only the root's output is
 * defined (NCCL ignores `recvbuff` elsewhere); a non-root's input (`const sendbuff`) must be
 * unchanged, and that is what is checked there.
 */
import { blockCount, blockInWholeOut, decodeInto, moved, recvSlices, sendSlices, type CollectiveModule } from '../module.js';

/** nccl-tests' gather bus factor. */
export const gatherBusFactor = (n: number): number => (n - 1) / n;

export const gather: CollectiveModule = {
  kind: 'gather',
  algorithms: ['auto', 'linear'],
  busFactor: gatherBusFactor,
  reduces: false,
  rooted: true,
  blocks: true,
  resolve: () => 'linear',
  inputCount: (c, ranks) => blockCount(c, ranks),
  outputCount: (c) => c.count,
  allocate: blockInWholeOut,
  hasInput: () => true,
  async run(t, c, b) {
    const { rank: r, size: n } = t;
    const root = c.root ?? 0;
    if (r !== root) return sendSlices(t, root, b.input, c.dtype, c.chunkBytes);
    const bytes = b.input.byteLength;
    const block = (j: number) => b.output.subarray(j * bytes, (j + 1) * bytes);
    if (!c.inPlace) block(r).set(b.input);
    const peers = Array.from({ length: n }, (_, j) => j).filter((j) => j !== r);
    await Promise.all(peers.map((j) => recvSlices(t, j, block(j), c.dtype, c.chunkBytes)));
  },
  // The root: its output. Elsewhere NCCL defines no output; the input must be as it was.
  checked: (c, _n, rank, b) => (rank === (c.root ?? 0) ? b.output : b.input),
  reference: (c, ranks, rank, input) =>
    rank === (c.root ?? 0)
      ? moved(c.count, (ref) => {
          const m = blockCount(c, ranks);
          for (let j = 0; j < ranks; j++) decodeInto(c.dtype, input(j), ref, j * m);
        })
      : moved(blockCount(c, ranks), (ref) => decodeInto(c.dtype, input(rank), ref)),
};
