/**
 * Send/receive (nccl-tests' sendrecv: an ncclSend to rank r+1 and an ncclRecv from rank
 * r−1 in one group): a ring shift, every rank ends with its left neighbour's buffer. Both
 * directions at once, sliced. On one rank the send and the receive are the same rank, a
 * copy, as NCCL does it.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 1; S = the buffer (count · size).
 * Buffers: input and output of S each. NCCL has no in-place send/receive (nccl-tests does
 * not report errors for its in-place column), so in-place cases are skipped.
 */
import { decodeInto, moved, plainBuffers, recvSlices, sendSlices, type CollectiveModule } from '../module.js';

/** nccl-tests' send/receive bus factor. */
export const sendRecvBusFactor = (_n: number): number => 1;

export const sendrecv: CollectiveModule = {
  kind: 'sendrecv',
  algorithms: ['auto', 'shift'],
  busFactor: sendRecvBusFactor,
  reduces: false,
  rooted: false,
  blocks: false,
  noInPlace: 'NCCL has no in-place send/receive (nccl-tests reports no errors for it): only out-of-place cases run',
  resolve: () => 'shift',
  inputCount: (c) => c.count,
  outputCount: (c) => c.count,
  allocate(c, ranks) {
    if (c.inPlace) throw new Error(this.noInPlace);
    return plainBuffers(this, c, ranks);
  },
  hasInput: () => true,
  async run(t, c, b) {
    const { rank: r, size: n } = t;
    if (n === 1) return b.output.set(b.input);
    await Promise.all([sendSlices(t, (r + 1) % n, b.input, c.dtype, c.chunkBytes), recvSlices(t, (r - 1 + n) % n, b.output, c.dtype, c.chunkBytes)]);
  },
  checked: (_c, _n, _r, b) => b.output,
  reference: (c, ranks, rank, input) => moved(c.count, (ref) => decodeInto(c.dtype, input((rank - 1 + ranks) % ranks), ref)),
};
