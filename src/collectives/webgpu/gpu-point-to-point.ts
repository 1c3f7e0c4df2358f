/**
 * All-to-all (pairwise), gather and scatter (linear) and send/receive (ring shift) for
 * ranks whose buffers live on their GPUs (`GpuRank`), over a host transport: the steps of
 * the CPU modules (algorithms/alltoall.ts, gather.ts, scatter.ts, sendrecv.ts), which
 * nccl-tests builds from ncclSend/ncclRecv. A block to send is read back from the GPU in
 * one copy and handed to the transport in `chunkBytes` slices; each slice that arrives is
 * written into the receiver's buffer by the WGSL copy (element-wise, so f16 blocks may
 * start inside a 4-byte word). A rank's own block moves on its GPU, never through the host.
 * In- and out-of-place as the modules define them (gpu-rank.ts holds the aliasing).
 */
import type { Transport } from '../transport.js';
import { DEFAULT_CHUNK_BYTES, segmentOf } from '../algorithms/ring-steps.js';
import type { GpuRank, Range } from './gpu-rank.js';

/** Sends elements `range` of `buf` to `peer`, one GPU read, then slice by slice. */
async function sendRange(t: Transport, g: GpuRank, peer: number, buf: GPUBuffer, range: Range, chunkBytes: number): Promise<void> {
  const bytes = await g.read(buf, range);
  await Promise.all(g.slices(range, chunkBytes).map(([a, b]) => t.send(peer, bytes.subarray((a - range[0]) * g.es, (b - range[0]) * g.es))));
}

/** Receives elements `range` of `buf` from `peer`, slice by slice as `sendRange` sent them, each copied into place on the GPU. */
async function recvRange(t: Transport, g: GpuRank, peer: number, buf: GPUBuffer, range: Range, chunkBytes: number): Promise<void> {
  for (const s of g.slices(range, chunkBytes)) g.land(buf, s, await t.recv(peer), 'copy');
}

/**
 * Pairwise all-to-all: block j of rank r's input becomes block r of rank j's output. At
 * step k rank r sends its block r+k to rank r+k and receives block r−k's data from rank
 * r−k; its own block is a GPU copy. Out of place only (NCCL has no in-place all-to-all).
 */
export async function gpuAllToAll(t: Transport, g: GpuRank, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<void> {
  const { rank: r, size: n } = t;
  const block = (j: number): Range => segmentOf(g.count, n, j);
  const [a, b] = block(r);
  g.copy(g.output, a, g.input, a, b - a);
  for (let k = 1; k < n; k++) {
    const to = (r + k) % n;
    const from = (r - k + n) % n;
    await Promise.all([sendRange(t, g, to, g.input, block(to), chunkBytes), recvRange(t, g, from, g.output, block(from), chunkBytes)]);
  }
}

/**
 * Linear gather: every non-root sends its input to the root, which lands block j from
 * rank j (its own block: a GPU copy out of place; in place it is there already). A
 * non-root only reads its input.
 */
export async function gpuGather(t: Transport, g: GpuRank, root: number, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<void> {
  const { rank: r, size: n } = t;
  if (r !== root) return sendRange(t, g, root, g.input, g.inputRange, chunkBytes);
  const block = (j: number): Range => segmentOf(g.count, n, j);
  if (!g.inPlace) g.copy(g.output, block(r)[0], g.input, g.inputOffset, g.inputCount);
  for (let j = 0; j < n; j++) if (j !== r) await recvRange(t, g, j, g.output, block(j), chunkBytes);
}

/**
 * Linear scatter: the root sends block j of its input to rank j (its own block: a GPU
 * copy out of place; in place its output is that block); every other rank lands its block.
 */
export async function gpuScatter(t: Transport, g: GpuRank, root: number, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<void> {
  const { rank: r, size: n } = t;
  if (r !== root) return recvRange(t, g, root, g.output, g.outputRange, chunkBytes);
  const block = (j: number): Range => segmentOf(g.count, n, j);
  if (!g.inPlace) g.copy(g.output, 0, g.input, block(r)[0], g.outputCount);
  // One block after another: a rank has one read-back buffer, so its GPU reads do not overlap.
  for (let j = 0; j < n; j++) if (j !== r) await sendRange(t, g, j, g.input, block(j), chunkBytes);
}

/**
 * Ring shift: rank r sends its input to r+1 and lands r−1's into its output, both at once;
 * on one rank a GPU copy (NCCL's send to self). Out of place only.
 */
export async function gpuSendRecv(t: Transport, g: GpuRank, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<void> {
  const { rank: r, size: n } = t;
  const all: Range = [0, g.count];
  if (n === 1) return g.copy(g.output, 0, g.input, 0, g.count);
  await Promise.all([sendRange(t, g, (r + 1) % n, g.input, all, chunkBytes), recvRange(t, g, (r - 1 + n) % n, g.output, all, chunkBytes)]);
}
