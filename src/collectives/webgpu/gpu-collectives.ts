/**
 * All-gather (ring), reduce-scatter (ring) and broadcast (chain) for ranks whose buffers
 * live on their GPUs (`GpuRank`), over a host transport: the same steps as the CPU
 * algorithms (algorithms/allgather.ts, reducescatter.ts, broadcast.ts) with one segment
 * per ring step, in- and out-of-place as `runCollective` defines them. A slice that
 * arrives only to be copied (gathers, broadcast) is forwarded from host memory as it
 * came — it is bit for bit what landed — so only reduced slices are read back from the
 * GPU before they go on.
 */
import type { Transport } from '../transport.js';
import type { ReduceOp } from '../ops.js';
import { slicesOf, segmentOf, DEFAULT_CHUNK_BYTES } from '../algorithms/ring-steps.js';
import type { GpuRank, Range } from './gpu-rank.js';

/**
 * Ring all-gather: rank r's input is block r of every output; at step s rank r stores
 * block r−s−1 from the left and forwards it (but the last).
 */
export async function gpuAllGather(t: Transport, g: GpuRank): Promise<void> {
  const { rank: r, size: n } = t;
  const block = (i: number): Range => segmentOf(g.count, n, i);
  const [a] = block(r);
  // Out of place the input is copied into block r; in place it already is block r.
  if (!g.inPlace) g.copy(g.output, a, g.input, g.inputOffset, g.inputCount);
  if (n === 1) return;
  const right = (r + 1) % n;
  const left = (r - 1 + n) % n;
  let out = await g.read(g.input, g.inputRange);
  for (let s = 0; s < n - 1; s++) {
    const [, got] = await Promise.all([t.send(right, out), t.recv(left)]);
    g.land(g.output, block(r - s - 1), got, 'copy');
    out = got;
  }
}

/**
 * Ring reduce-scatter: at step s rank r sends segment r−s−1 (its input at first, then
 * what it reduced) and reduces segment r−s−2 from the left as input ⊕ arrived, the CPU
 * ring's order; after n−1 steps it holds segment r reduced over every rank. Out of place
 * the work happens on a scratch copy of the input and segment r is copied out.
 */
export async function gpuReduceScatter(t: Transport, g: GpuRank, op: ReduceOp): Promise<void> {
  const { rank: r, size: n } = t;
  const seg = (i: number): Range => segmentOf(g.count, n, i);
  const work = g.scratch ?? g.input;
  if (g.scratch) g.copy(g.scratch, 0, g.input, 0, g.inputCount);
  if (n > 1) {
    const right = (r + 1) % n;
    const left = (r - 1 + n) % n;
    let out = await g.read(work, seg(r - 1));
    for (let s = 0; s < n - 1; s++) {
      const [, got] = await Promise.all([t.send(right, out), t.recv(left)]);
      const k = seg(r - s - 2);
      g.land(work, k, got, op);
      if (s < n - 2) out = await g.read(work, k);
    }
  }
  const [a, b] = seg(r);
  g.dev.reducer.finalize(g.dtype, op, work, b - a, n, a);
  if (g.scratch) g.copy(g.output, 0, g.scratch, a, b - a);
}

/**
 * Chain broadcast from `root`: the root reads its buffer slice by slice (`chunkBytes`)
 * and sends each to the next rank; every other rank lands each slice and passes it on
 * at once (the last only lands), so the slices pipeline down the chain.
 */
export async function gpuBroadcast(t: Transport, g: GpuRank, root: number, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<void> {
  const { rank: r, size: n } = t;
  // Out of place the root's output is a copy of its input; the others' input is never read.
  if (!g.inPlace && r === root) g.copy(g.output, 0, g.input, 0, g.count);
  if (n === 1) return;
  const pos = (r - root + n) % n;
  const next = (r + 1) % n;
  const prev = (r - 1 + n) % n;
  const sends: Promise<void>[] = [];
  for (const s of slicesOf([0, g.count], Math.max(1, Math.floor(chunkBytes / g.es)))) {
    const bytes = pos === 0 ? await g.read(g.output, s) : await t.recv(prev);
    if (pos > 0) g.land(g.output, s, bytes, 'copy');
    if (pos < n - 1) sends.push(t.send(next, bytes));
  }
  await Promise.all(sends);
}
