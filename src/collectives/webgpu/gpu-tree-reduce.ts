/**
 * Reduce (ncclReduce) for ranks whose buffers live on their GPUs (`GpuRank`), over a host
 * transport: the binomial tree of the CPU algorithm (algorithms/reduce.ts, `binomialTree`)
 * step for step, pipelined by `chunkBytes` slices. A rank lands each child's slice into its
 * accumulator with the WGSL reduction the all-reduce uses, as accumulator ⊕ arrived — the
 * CPU's operand order, so + , min, max and prod give the CPU's bits — and reads the slice
 * back to send it to its parent; the root divides avg once at the end.
 *
 * Accumulators: the root's output (out of place it starts as a GPU copy of the input; in
 * place it is the input); a non-root's scratch buffer, so its input (NCCL's `const
 * sendbuff`, what is checked there) is never written. A leaf sends its input as it is.
 */
import type { Transport } from '../transport.js';
import type { ReduceOp } from '../ops.js';
import { binomialTree } from '../algorithms/reduce.js';
import { DEFAULT_CHUNK_BYTES } from '../algorithms/ring-steps.js';
import type { GpuRank } from './gpu-rank.js';

/** One reduce call on this rank: the root's output ends as the reduction over all ranks. */
export async function gpuReduce(t: Transport, g: GpuRank, op: ReduceOp, root: number, chunkBytes = DEFAULT_CHUNK_BYTES): Promise<void> {
  const { rank: r, size: n } = t;
  const { parent, children } = binomialTree(r, n, root);
  const all: [number, number] = [0, g.count];
  let acc: GPUBuffer;
  if (parent < 0) {
    if (!g.inPlace) g.copy(g.output, 0, g.input, 0, g.count);
    acc = g.output;
  } else if (children.length > 0) {
    g.copy(g.scratch!, 0, g.input, 0, g.count);
    acc = g.scratch!;
  } else acc = g.input; // a leaf only reads
  const sends: Promise<void>[] = [];
  for (const s of g.slices(all, chunkBytes)) {
    for (const child of children) {
      const got = await t.recv(child);
      if (got.byteLength !== (s[1] - s[0]) * g.es) throw new Error(`reduce: a ${got.byteLength}-byte slice from rank ${child}, expected ${(s[1] - s[0]) * g.es}`);
      g.land(acc, s, got, op);
    }
    if (parent >= 0) sends.push(t.send(parent, await g.read(acc, s)));
  }
  await Promise.all(sends);
  if (parent < 0) g.dev.reducer.finalize(g.dtype, op, acc, g.count, n, 0);
}
