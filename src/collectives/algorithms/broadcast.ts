/**
 * Pipelined chain broadcast: the root streams slices to the next rank, which forwards
 * each slice as it lands; the last rank only receives. n−1 hops, one buffer per link.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 1; S = the buffer (count · size).
 * Buffers: input and output of S; in place, output = input. Only the root's input is data.
 * Check: every rank's buffer equals the root's input, bit for bit.
 */
import type { Transport } from '../transport.js';
import { DEFAULT_CHUNK_BYTES, slicesOf } from './ring-steps.js';
import { decodeInto, moved, plainBuffers, type CollectiveModule } from '../module.js';

/** nccl-tests' broadcast bus factor. */
export const broadcastBusFactor = (_n: number): number => 1;

/** Broadcasts `buf` from `root` to every rank, in place. */
export async function chainBroadcast(t: Transport, buf: Uint8Array, root: number, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<void> {
  const { rank: r, size: n } = t;
  if (n === 1) return;
  const pos = (r - root + n) % n;
  const next = (r + 1) % n;
  const prev = (r - 1 + n) % n;
  const sends: Promise<void>[] = [];
  for (const [a, b] of slicesOf([0, buf.byteLength], chunkBytes)) {
    if (pos > 0) await t.recvInto(prev, buf.subarray(a, b));
    if (pos < n - 1) sends.push(t.send(next, buf.subarray(a, b)));
  }
  await Promise.all(sends);
}

export const broadcast: CollectiveModule = {
  kind: 'broadcast',
  algorithms: ['auto', 'chain'],
  busFactor: broadcastBusFactor,
  reduces: false,
  rooted: true,
  blocks: false,
  sameOnEveryRank: true,
  resolve: () => 'chain',
  inputCount: (c) => c.count,
  outputCount: (c) => c.count,
  allocate(c, ranks) {
    return plainBuffers(this, c, ranks);
  },
  hasInput: (c, rank) => rank === (c.root ?? 0),
  run(t, c, b) {
    const root = c.root ?? 0;
    if (!c.inPlace && t.rank === root) b.output.set(b.input);
    return chainBroadcast(t, b.output, root, c.chunkBytes);
  },
  checked: (_c, _n, _r, b) => b.output,
  reference: (c, _ranks, _rank, input) => moved(c.count, (ref) => decodeInto(c.dtype, input(c.root ?? 0), ref)),
};
