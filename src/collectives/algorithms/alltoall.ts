/**
 * All-to-all (nccl-tests' alltoall: an ncclSend and an ncclRecv per peer in one group):
 * the input and output have n blocks; block j of rank r's input becomes block r of rank
 * j's output. Pairwise exchange: at step k = 1…n−1 rank r sends its block r+k to rank r+k
 * and receives block r−k's data from rank r−k (mod n), both at once and sliced, so every
 * rank sends and receives one block per step and no rank is a hot spot; its own block is
 * a local copy.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · (n−1)/n; S = the full send buffer
 * (count · n · size in nccl-tests' per-peer count; here `count` is all of it).
 * Buffers: input and output of S each. NCCL has no in-place all-to-all (nccl-tests does
 * not report errors for its in-place column), so in-place cases are skipped.
 */
import { elementBytes } from '../dtypes.js';
import { blockCount, decodeInto, moved, plainBuffers, recvSlices, sendSlices, type CollectiveModule } from '../module.js';

/** nccl-tests' all-to-all bus factor. */
export const allToAllBusFactor = (n: number): number => (n - 1) / n;

export const alltoall: CollectiveModule = {
  kind: 'alltoall',
  algorithms: ['auto', 'pairwise'],
  busFactor: allToAllBusFactor,
  reduces: false,
  rooted: false,
  blocks: true,
  noInPlace: 'NCCL has no in-place all-to-all (nccl-tests reports no errors for it): only out-of-place cases run',
  resolve: () => 'pairwise',
  inputCount: (c) => c.count,
  outputCount: (c) => c.count,
  allocate(c, ranks) {
    if (c.inPlace) throw new Error(this.noInPlace);
    blockCount(c, ranks);
    return plainBuffers(this, c, ranks);
  },
  hasInput: () => true,
  async run(t, c, b) {
    const { rank: r, size: n } = t;
    const bytes = blockCount(c, n) * elementBytes(c.dtype);
    const block = (buf: Uint8Array, j: number) => buf.subarray(j * bytes, (j + 1) * bytes);
    block(b.output, r).set(block(b.input, r));
    for (let k = 1; k < n; k++) {
      const to = (r + k) % n;
      const from = (r - k + n) % n;
      await Promise.all([sendSlices(t, to, block(b.input, to), c.dtype, c.chunkBytes), recvSlices(t, from, block(b.output, from), c.dtype, c.chunkBytes)]);
    }
  },
  checked: (_c, _n, _r, b) => b.output,
  // Block j of rank r's output is block r of rank j's input.
  reference: (c, ranks, rank, input) =>
    moved(c.count, (ref) => {
      const m = blockCount(c, ranks);
      for (let j = 0; j < ranks; j++) decodeInto(c.dtype, input(j), ref, j * m, rank * m, m);
    }),
};
