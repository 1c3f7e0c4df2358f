/**
 * What a collective is to the rest of gpubench: one module object per collective (its
 * algorithms, nccl-tests bus factor, buffer shapes, how one call runs on a rank and what
 * every rank must hold afterwards), kept in the registry in collective.ts. The workload,
 * the reference check and the rank-side runner read only these objects, so a new
 * collective is one file plus its line in the registry, not an edit of every switch.
 */
import type { Transport } from './transport.js';
import { allocate, elementBytes, isBigDtype, readElement, type CollectiveDtype, type ElementArray } from './dtypes.js';
import { referenceReduce, referenceReduceBig, type ReduceOp } from './ops.js';
import type { CollectiveKind } from './collective.js';
import { DEFAULT_CHUNK_BYTES } from './algorithms/ring-steps.js';

/** One collective call's shape. `count` is the total elements of S (nccl-tests' size). */
export interface CollectiveCall {
  kind: CollectiveKind;
  dtype: CollectiveDtype;
  op: ReduceOp;
  algorithm: string;
  /** Elements of S, as each collective's module defines S (see its `busFactor`). */
  count: number;
  inPlace: boolean;
  /** Root of a rooted collective (broadcast, reduce, gather, scatter). @default 0 */
  root?: number;
  /** Pipelining slice in bytes. */
  chunkBytes?: number;
  /** The ranks share cores (a host runs more ranks than it has cores): `auto` then favours fewer messages over fewer rounds. */
  cpuBound?: boolean;
}

/** A rank's buffers: `input` is never written by out-of-place calls. */
export interface RankBuffers {
  input: Uint8Array;
  output: Uint8Array;
  /** Working space some algorithms need besides the caller's buffers. */
  scratch?: Uint8Array;
}

/** What one rank's checked bytes must hold: float64 values, and each one's rounding scale (0: exact). */
export interface Expected {
  ref: Float64Array;
  scale: Float64Array;
}

/** One collective. */
export interface CollectiveModule {
  readonly kind: CollectiveKind;
  /** Algorithm names; `auto` first, resolved by `resolve`. */
  readonly algorithms: readonly string[];
  /** nccl-tests' bus factor: busbw = algbw · busFactor(n), algbw = S / t. */
  readonly busFactor: (n: number) => number;
  /** Takes a reduction op (anything else runs, and is named, without one). */
  readonly reduces: boolean;
  /** Has a root rank (nccl-tests -r). */
  readonly rooted: boolean;
  /** S splits into n equal per-rank blocks, so sizes round to whole blocks. */
  readonly blocks: boolean;
  /** Why in-place cases are skipped, where NCCL has no in-place form of the collective. */
  readonly noInPlace?: string;
  /** Every rank's expected output is the same (one reference serves every rank). */
  readonly sameOnEveryRank?: boolean;
  /** The concrete algorithm `auto` stands for (`ranks`: Infinity where unknown). */
  resolve(c: CollectiveCall, ranks: number): string;
  /** Elements of a rank's input buffer (the same on every rank, so every rank can rebuild every input from the seed). */
  inputCount(c: CollectiveCall, ranks: number): number;
  /** Elements of a rank's output buffer. */
  outputCount(c: CollectiveCall, ranks: number): number;
  /** A rank's buffers; in place, the output aliases the input where NCCL defines it. */
  allocate(c: CollectiveCall, ranks: number, rank: number): RankBuffers;
  /** Whether `rank`'s input carries data (a broadcast's or scatter's non-roots: no; their input is poisoned). */
  hasInput(c: CollectiveCall, rank: number): boolean;
  /** Runs one call with the resolved `algorithm` on this rank. */
  run(t: Transport, c: CollectiveCall, b: RankBuffers, algorithm: string): Promise<void>;
  /** The bytes of `rank`'s buffers that NCCL defines after the call (most: the output). */
  checked(c: CollectiveCall, ranks: number, rank: number, b: RankBuffers): Uint8Array;
  /** What those bytes must hold, from every rank's input (`input(r)`). */
  reference(c: CollectiveCall, ranks: number, rank: number, input: (r: number) => ElementArray): Expected;
}

/** Elements of one per-rank block of S; throws where S does not split into whole blocks. */
export function blockCount(c: CollectiveCall, ranks: number): number {
  if (c.count % ranks !== 0) throw new RangeError(`${c.kind}: ${c.count} elements do not split into ${ranks} equal blocks`);
  return c.count / ranks;
}

/** Buffers of `inputCount` and `outputCount` elements; in place the output is the input. */
export function plainBuffers(m: CollectiveModule, c: CollectiveCall, ranks: number): RankBuffers {
  const es = elementBytes(c.dtype);
  const input = new Uint8Array(m.inputCount(c, ranks) * es);
  return { input, output: c.inPlace ? input : new Uint8Array(m.outputCount(c, ranks) * es) };
}

/**
 * NCCL's in-place gathers: the output has n blocks and the input is block `rank` of it
 * (`sendbuff == recvbuff + rank·sendcount`).
 */
export function inputInsideOutput(c: CollectiveCall, ranks: number, rank: number): RankBuffers {
  const es = elementBytes(c.dtype);
  const output = new Uint8Array(c.count * es);
  const n = blockCount(c, ranks) * es;
  return { input: output.subarray(rank * n, (rank + 1) * n), output };
}

/** Gathers' buffers: a block in, all of S out; in place the input is block `rank` of the output. */
export function blockInWholeOut(c: CollectiveCall, ranks: number, rank: number): RankBuffers {
  if (c.inPlace) return inputInsideOutput(c, ranks, rank);
  const es = elementBytes(c.dtype);
  return { input: new Uint8Array(blockCount(c, ranks) * es), output: new Uint8Array(c.count * es) };
}

/** Scatters' buffers: all of S in, a block out; in place the output is block `rank` of the input (NCCL's). */
export function wholeInBlockOut(c: CollectiveCall, ranks: number, rank: number): RankBuffers {
  const es = elementBytes(c.dtype);
  const input = new Uint8Array(c.count * es);
  const n = blockCount(c, ranks) * es;
  return { input, output: c.inPlace ? input.subarray(rank * n, (rank + 1) * n) : new Uint8Array(n) };
}

/**
 * The exact values behind a reference of i64 or u64 elements, which float64 rounds beyond
 * 2^53: kept beside the `ref` array they belong to (decodeInto and reducedRange fill it),
 * so every collective's `reference` stays as it is and `checkOutput` finds them.
 */
const EXACT = new WeakMap<Float64Array, BigInt64Array | BigUint64Array>();

/** The exact 64-bit integer values of a reference, where its dtype is i64 or u64. */
export function exactOf(ref: Float64Array): BigInt64Array | BigUint64Array | undefined {
  return EXACT.get(ref);
}

function exactFor(dtype: 'i64' | 'u64', ref: Float64Array): BigInt64Array | BigUint64Array {
  let e = EXACT.get(ref);
  if (!e) EXACT.set(ref, (e = allocate(dtype, ref.length) as BigInt64Array | BigUint64Array));
  return e;
}

/** `a` decoded to float64, written into `out` from element `at` (64-bit integers also exactly, see exactOf). */
export function decodeInto(dtype: CollectiveDtype, a: ElementArray, out: Float64Array, at = 0, from = 0, length = a.length - from): void {
  for (let i = 0; i < length; i++) out[at + i] = readElement(dtype, a, from + i);
  if (isBigDtype(dtype)) {
    const e = exactFor(dtype, out);
    const b = a as BigInt64Array;
    for (let i = 0; i < length; i++) e[at + i] = b[from + i]!;
  }
}

/** A data move's reference: the values decoded, every scale 0 (bits must match exactly). */
export function moved(length: number, fill: (ref: Float64Array) => void): Expected {
  const ref = new Float64Array(length);
  fill(ref);
  return { ref, scale: new Float64Array(length) };
}

/**
 * A reduction's reference over elements [a, b) of every rank's input: the float64 (exact
 * int32) op over the ranks' values, and each element's scale Σ|xᵢ| (|ref| for prod).
 */
export function reducedRange(c: CollectiveCall, ranks: number, input: (r: number) => ElementArray, [a, b]: [number, number]): Expected {
  const inputs = Array.from({ length: ranks }, (_, r) => input(r));
  const ref = new Float64Array(b - a);
  const scale = new Float64Array(b - a);
  const vals = new Array<number>(ranks);
  if (isBigDtype(c.dtype)) {
    const e = exactFor(c.dtype, ref);
    const big = new Array<bigint>(ranks);
    for (let i = a; i < b; i++) {
      let s = 0;
      for (let r = 0; r < ranks; r++) {
        big[r] = (inputs[r] as BigInt64Array)[i]!;
        s += Math.abs(Number(big[r]));
      }
      e[i - a] = referenceReduceBig(c.dtype, c.op, big);
      ref[i - a] = Number(e[i - a]);
      scale[i - a] = c.op === 'prod' ? Math.abs(ref[i - a]!) : s;
    }
    return { ref, scale };
  }
  for (let i = a; i < b; i++) {
    let s = 0;
    for (let r = 0; r < ranks; r++) {
      vals[r] = readElement(c.dtype, inputs[r]!, i);
      s += Math.abs(vals[r]!);
    }
    const v = referenceReduce(c.dtype, c.op, vals);
    ref[i - a] = v;
    scale[i - a] = c.op === 'prod' ? Math.abs(v) : s;
  }
  return { ref, scale };
}

/** Byte ranges of at most `chunkBytes` (whole elements, at least one) covering `bytes`. */
export function byteSlices(bytes: Uint8Array, dtype: CollectiveDtype, chunkBytes = DEFAULT_CHUNK_BYTES): Uint8Array[] {
  const es = elementBytes(dtype);
  const step = Math.max(1, Math.floor(chunkBytes / es)) * es;
  const out: Uint8Array[] = [];
  for (let a = 0; a < bytes.byteLength; a += step) out.push(bytes.subarray(a, Math.min(bytes.byteLength, a + step)));
  return out;
}

/** Sends `bytes` to `peer` slice by slice; resolves when every slice is handed off. */
export async function sendSlices(t: Transport, peer: number, bytes: Uint8Array, dtype: CollectiveDtype, chunkBytes?: number): Promise<void> {
  await Promise.all(byteSlices(bytes, dtype, chunkBytes).map((s) => t.send(peer, s)));
}

/** Receives `bytes` from `peer` slice by slice (as `sendSlices` sent them), straight into place. */
export async function recvSlices(t: Transport, peer: number, bytes: Uint8Array, dtype: CollectiveDtype, chunkBytes?: number): Promise<void> {
  await Promise.all(byteSlices(bytes, dtype, chunkBytes).map((s) => t.recvInto(peer, s)));
}
