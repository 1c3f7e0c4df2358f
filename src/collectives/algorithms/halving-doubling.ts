/**
 * Halving-doubling all-reduce (Rabenseifner's): a reduce-scatter by recursive halving,
 * then an all-gather by recursive doubling. Each rank sends and receives 2(p−1)/p of the
 * buffer, as the ring does, but in 2·log2 p steps instead of 2(p−1): partners r and
 * r XOR 2^k swap halves of the range they still hold, each keeps one half and reduces the
 * partner's copy of it into its own. Each step is sliced and pipelined (a slice is
 * reduced while the next is on the wire). Ranks beyond the largest power of two p first
 * fold their buffer into rank r−p and get the result back at the end, so any rank count
 * works. Open MPI's `coll tuned` has it as algorithm 6 ("rabenseifner"); the step count
 * is what makes it worth having where the ring's 2(n−1) latencies add up (many ranks).
 *
 * Bus bandwidth (nccl-tests): busbw = algbw · 2(n−1)/n, as for every all-reduce.
 * Check: every rank ends with the element-wise op over all inputs; each element's final
 * value is computed on the one rank that owns it after the halving and copied to the
 * others, so every rank ends with the same bits.
 */
import type { Transport } from '../transport.js';
import { aligned, elementBytes, view, type CollectiveDtype } from '../dtypes.js';
import { finalize, reduceFrom, type ReduceOp } from '../ops.js';
import { DEFAULT_CHUNK_BYTES, slicesOf } from './ring-steps.js';

export { allReduceBusFactor } from './ring-allreduce.js';

/**
 * Reduces `buf` across all ranks: in place, or out of place from `input` into `buf`
 * (the input is read where it lies and never written).
 */
export async function halvingDoublingAllReduce(
  t: Transport,
  buf: Uint8Array,
  dtype: CollectiveDtype,
  op: ReduceOp,
  chunkBytes = DEFAULT_CHUNK_BYTES,
  input?: Uint8Array,
): Promise<void> {
  const { rank: r, size: n } = t;
  const es = elementBytes(dtype);
  if (input && input.byteLength !== buf.byteLength) throw new RangeError(`halving-doubling all-reduce: ${input.byteLength}-byte input for a ${buf.byteLength}-byte output`);
  const count = buf.byteLength / es;
  const chunk = Math.max(1, Math.floor(chunkBytes / es));
  const bytes = (from: Uint8Array, [a, b]: [number, number]) => from.subarray(a * es, b * es);
  /** Sends every slice of `range` from `from` to `peer`; resolves when all are out. */
  const sendRange = (peer: number, from: Uint8Array, range: [number, number]) =>
    Promise.all(slicesOf(range, chunk).map((s) => t.send(peer, bytes(from, s))));
  /** Receives every slice of `range` from `peer` straight into `buf` (all posted at once). */
  const receiveRange = (peer: number, range: [number, number]) => Promise.all(slicesOf(range, chunk).map((s) => t.recvInto(peer, bytes(buf, s))));
  /** Receives the peer's copy of range `keep`, slice by slice, and reduces it: buf = source ⊕ got. */
  async function reduceRange(peer: number, keep: [number, number]): Promise<void> {
    for (const s of slicesOf(keep, chunk)) {
      const got = aligned(dtype, await t.recv(peer));
      const want = (s[1] - s[0]) * es;
      if (got.byteLength !== want) throw new Error(`halving-doubling: expected a ${want}-byte slice from rank ${peer}, got ${got.byteLength}`);
      reduceFrom(dtype, op, view(dtype, bytes(buf, s)), view(dtype, bytes(source, s)), view(dtype, got));
    }
  }
  let p = 1;
  while (p * 2 <= n) p *= 2;
  const extra = n - p;

  const all: [number, number] = [0, count];
  if (n === 1) {
    if (input) buf.set(input);
    return finalize(dtype, op, view(dtype, buf), 1);
  }
  if (r >= p) {
    // Folded rank: its data goes to r−p, the result comes back, both slice by slice.
    await sendRange(r - p, input ?? buf, all);
    await receiveRange(r - p, all);
    return;
  }
  /** Where this rank's own values are read from until the first reduction writes `buf`. */
  let source = input ?? buf;
  if (r < extra) {
    await reduceRange(r + p, all);
    source = buf;
  }

  // Recursive halving: at distance `mask`, the rank with that bit clear keeps the lower half.
  let range = all;
  /** Per halving step: the range held before it, and the half given away (the partner's). */
  const held: { whole: [number, number]; theirs: [number, number] }[] = [];
  for (let mask = 1; mask < p; mask <<= 1) {
    const partner = r ^ mask;
    const mid = range[0] + Math.floor((range[1] - range[0]) / 2);
    const lower: [number, number] = [range[0], mid];
    const upper: [number, number] = [mid, range[1]];
    const [keep, give] = r & mask ? [upper, lower] : [lower, upper];
    // Both directions at once: the partner reduces what this rank sends while this one
    // reduces what arrives. Awaiting the sends before the next step keeps every region
    // this rank sent untouched until it is out (the all-gather writes there later).
    await Promise.all([sendRange(partner, source, give), reduceRange(partner, keep)]);
    source = buf;
    held.push({ whole: range, theirs: give });
    range = keep;
  }
  finalize(dtype, op, view(dtype, bytes(buf, range)), n);

  // Recursive doubling, the halving in reverse: swap held ranges, receive straight into place.
  for (let mask = p >> 1; mask >= 1; mask >>= 1) {
    const partner = r ^ mask;
    const { whole, theirs } = held.pop()!;
    await Promise.all([sendRange(partner, buf, range), receiveRange(partner, theirs)]);
    range = whole;
  }
  if (r < extra) await sendRange(r + p, buf, all);
}
