/**
 * Reduce (ncclReduce): the root ends with the element-wise op over every rank's buffer.
 * Binomial tree rooted at `root`, pipelined by slices: in ranks relative to the root
 * (v = r − root mod n), rank v receives from its children v + 2^k for each k below its
 * lowest set bit, reduces their partials into its own, and sends the result to its parent
 * v − (lowest bit of v). ⌈log2 n⌉ rounds, n−1 messages per slice; a slice moves up as soon
 * as its children's copies have arrived, while the next is on the wire.
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 1; S = the buffer (count · size).
 * Buffers: input and output of S on every rank; in place, output = input (NCCL's
 * `sendbuff == recvbuff`). Only the root's output is defined: NCCL ignores `recvbuff`
 * elsewhere. Inner ranks of the tree accumulate in a scratch buffer, never in the caller's,
 * so a non-root's input (NCCL's `const sendbuff`) is unchanged after the call: that is
 * what is checked there.
 */
import type { Transport } from '../transport.js';
import { aligned, elementBytes, view } from '../dtypes.js';
import { finalize, reduceFrom } from '../ops.js';
import { byteSlices, decodeInto, moved, reducedRange, type CollectiveCall, type CollectiveModule } from '../module.js';

/** nccl-tests' reduce bus factor. */
export const reduceBusFactor = (_n: number): number => 1;

/** Parent (−1 at the root) and children of `rank` in the binomial tree rooted at `root`, as ranks. */
export function binomialTree(rank: number, n: number, root: number): { parent: number; children: number[] } {
  const v = (rank - root + n) % n;
  const abs = (x: number) => (x + root) % n;
  const children: number[] = [];
  for (let mask = 1; mask < n; mask <<= 1) {
    if (v & mask) return { parent: abs(v - mask), children };
    if (v + mask < n) children.push(abs(v + mask));
  }
  return { parent: -1, children };
}

/**
 * Reduces every rank's `input` into `output` on the root. `output` is used on the root only
 * (it may be `input` there: in place); `scratch` (the input's size) on inner ranks.
 */
export async function treeReduce(t: Transport, c: CollectiveCall, input: Uint8Array, output: Uint8Array, scratch: Uint8Array): Promise<void> {
  const { rank, size: n } = t;
  const { dtype, op } = c;
  const root = c.root ?? 0;
  const { parent, children } = binomialTree(rank, n, root);
  const acc = parent < 0 ? output : scratch;
  const ins = byteSlices(input, dtype, c.chunkBytes);
  const accs = byteSlices(acc, dtype, c.chunkBytes);
  const sends: Promise<void>[] = [];
  for (let s = 0; s < ins.length; s++) {
    let from = ins[s]!;
    for (const child of children) {
      const got = aligned(dtype, await t.recv(child));
      if (got.byteLength !== from.byteLength) throw new Error(`reduce: a ${got.byteLength}-byte slice from rank ${child}, expected ${from.byteLength}`);
      reduceFrom(dtype, op, view(dtype, accs[s]!), view(dtype, from), view(dtype, got));
      from = accs[s]!;
    }
    if (parent >= 0) sends.push(t.send(parent, from));
    else {
      if (from !== accs[s]) accs[s]!.set(from);
      finalize(dtype, op, view(dtype, accs[s]!), n);
    }
  }
  await Promise.all(sends);
}

export const reduce: CollectiveModule = {
  kind: 'reduce',
  algorithms: ['auto', 'tree'],
  busFactor: reduceBusFactor,
  reduces: true,
  rooted: true,
  blocks: false,
  resolve: () => 'tree',
  inputCount: (c) => c.count,
  outputCount: (c) => c.count,
  allocate(c) {
    const bytes = c.count * elementBytes(c.dtype);
    const input = new Uint8Array(bytes);
    return { input, output: c.inPlace ? input : new Uint8Array(bytes), scratch: new Uint8Array(bytes) };
  },
  hasInput: () => true,
  run: (t, c, b) => treeReduce(t, c, b.input, b.output, b.scratch!),
  // The root: its output. Elsewhere NCCL defines no output; the input must be as it was.
  checked: (c, _n, rank, b) => (rank === (c.root ?? 0) ? b.output : b.input),
  reference: (c, ranks, rank, input) =>
    rank === (c.root ?? 0) ? reducedRange(c, ranks, input, [0, c.count]) : moved(c.count, (ref) => decodeInto(c.dtype, input(rank), ref)),
};
