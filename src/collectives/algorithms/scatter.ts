/**
 * Scatter (nccl-tests' scatter: the root ncclSends block j to rank j, every rank ncclRecvs
 * its block from the root, in one group; ncclScatter from NCCL 2.28): rank j ends with
 * block j of the root's input. Linear: the root sends every peer its block at once, sliced;
 * each rank receives straight into its output.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · (n−1)/n; S = the full send buffer at the root
 * (count · size, n blocks).
 * Buffers: input count (S), output count/n on every rank; only the root's input is data.
 * In place, the output is block r of the input (NCCL's `recvbuff == sendbuff + rank·recvcount`),
 * so the root's own block stays where it is.
 */
import { blockCount, decodeInto, moved, recvSlices, sendSlices, wholeInBlockOut, type CollectiveModule } from '../module.js';

/** nccl-tests' scatter bus factor. */
export const scatterBusFactor = (n: number): number => (n - 1) / n;

export const scatter: CollectiveModule = {
  kind: 'scatter',
  algorithms: ['auto', 'linear'],
  busFactor: scatterBusFactor,
  reduces: false,
  rooted: true,
  blocks: true,
  resolve: () => 'linear',
  inputCount: (c) => c.count,
  outputCount: (c, ranks) => blockCount(c, ranks),
  allocate: wholeInBlockOut,
  hasInput: (c, rank) => rank === (c.root ?? 0),
  async run(t, c, b) {
    const { rank: r, size: n } = t;
    const root = c.root ?? 0;
    if (r !== root) return recvSlices(t, root, b.output, c.dtype, c.chunkBytes);
    const bytes = b.output.byteLength;
    const block = (j: number) => b.input.subarray(j * bytes, (j + 1) * bytes);
    if (!c.inPlace) b.output.set(block(r));
    const peers = Array.from({ length: n }, (_, j) => j).filter((j) => j !== r);
    await Promise.all(peers.map((j) => sendSlices(t, j, block(j), c.dtype, c.chunkBytes)));
  },
  checked: (_c, _n, _r, b) => b.output,
  reference: (c, ranks, rank, input) =>
    moved(blockCount(c, ranks), (ref) => decodeInto(c.dtype, input(c.root ?? 0), ref, 0, rank * blockCount(c, ranks), blockCount(c, ranks))),
};
