/**
 * The two halves of every ring algorithm, streamed slice by slice: a slice is forwarded
 * to the right neighbour the moment it has been reduced (or received), so reduction and
 * transfer overlap across the whole ring (NCCL's chunked pipelining).
 */
import type { Transport } from '../transport.js';
import { aligned, elementBytes, view, type CollectiveDtype } from '../dtypes.js';
import { finalize, reduceFrom, type ReduceOp } from '../ops.js';

/**
 * Default pipelining slice: big enough that per-message costs (a wake-up, a promise, a
 * syscall) vanish against the copy, small enough that a slice is still in the core's L2
 * when it is reduced and forwarded. On 4 processes over loopback (2-core Xeon, 2 MiB L2 a
 * core), 16 MiB all-reduce: in a bare loop over zero pages 1 MiB 44 ms, 2 MiB 31 ms,
 * 4 MiB 34 ms; with real data, slices of 256 KiB to 4 MiB compared as cases of one run in
 * varied order are level within the noise (31–34 ms each).
 */
export const DEFAULT_CHUNK_BYTES = 2 * 1024 * 1024;

/** Most sends in flight at once before the algorithm waits for the oldest (backpressure). */
const SEND_WINDOW = 16;

const mod = (a: number, n: number) => ((a % n) + n) % n;

/** Element ranges [start, end) of segment i when `count` elements split into n parts. */
export function segmentOf(count: number, n: number, i: number): [number, number] {
  const s = mod(i, n);
  return [Math.floor((s * count) / n), Math.floor(((s + 1) * count) / n)];
}

/** Ranges of at most `chunk` elements covering [a, b); empty when a = b. */
export function slicesOf([a, b]: [number, number], chunk: number): [number, number][] {
  const out: [number, number][] = [];
  for (let x = a; x < b; x += chunk) out.push([x, Math.min(b, x + chunk)]);
  return out;
}

/** State of one ring pass over a byte buffer. */
export class RingPass {
  readonly n: number;
  readonly r: number;
  readonly right: number;
  readonly left: number;
  readonly es: number;
  readonly chunk: number;
  private readonly window: Promise<void>[] = [];
  /** Latest send of each slice, by its first element: a slice must not be overwritten before it is out. */
  private readonly lastSend = new Map<number, Promise<void>>();

  /**
   * @param input where this rank's contribution comes from when it is not `buf` already
   *   (out of place): the reduce-scatter sends and reduces from it, so `buf` never needs a
   *   copy of it.
   */
  constructor(
    readonly t: Transport,
    readonly buf: Uint8Array,
    readonly count: number,
    readonly dtype: CollectiveDtype,
    chunkBytes = DEFAULT_CHUNK_BYTES,
    readonly input?: Uint8Array,
  ) {
    this.n = t.size;
    this.r = t.rank;
    this.right = mod(this.r + 1, this.n);
    this.left = mod(this.r - 1, this.n);
    this.es = elementBytes(dtype);
    this.chunk = Math.max(1, Math.floor(chunkBytes / this.es));
  }

  bytes([a, b]: [number, number]): Uint8Array {
    return this.buf.subarray(a * this.es, b * this.es);
  }

  slices(segment: number): [number, number][] {
    return slicesOf(segmentOf(this.count, this.n, segment), this.chunk);
  }

  /** This rank's own contribution to slice s: from `input` when there is one. */
  inputBytes([a, b]: [number, number]): Uint8Array {
    return (this.input ?? this.buf).subarray(a * this.es, b * this.es);
  }

  async send(s: [number, number], bytes = this.bytes(s)): Promise<void> {
    this.lastSend.set(s[0], (await this.windowed(bytes)).sent);
  }

  /** Sends to the right once fewer than SEND_WINDOW sends are in flight (boxed: awaiting would flatten it). */
  private async windowed(bytes: Uint8Array): Promise<{ sent: Promise<void> }> {
    if (this.window.length >= SEND_WINDOW) await this.window.shift();
    const sent = this.t.send(this.right, bytes);
    this.window.push(sent);
    return { sent };
  }

  async recv(s: [number, number], kept = false): Promise<Uint8Array> {
    const got = await (kept ? this.t.recvKept(this.left) : this.t.recv(this.left));
    const want = (s[1] - s[0]) * this.es;
    if (got.byteLength !== want) throw new Error(`ring: expected a ${want}-byte slice from rank ${this.left}, got ${got.byteLength}`);
    return aligned(this.dtype, got);
  }

  /** Sends bytes from `recvKept` on to the right, and hands them back once they are out. */
  async forwardKept(bytes: Uint8Array): Promise<void> {
    const { sent } = await this.windowed(bytes);
    sent.then(
      () => this.t.release(this.left, bytes),
      () => undefined, // the failure surfaces where the window is awaited
    );
  }

  /** Waits until the last send of slice s has left, so its memory may be overwritten. */
  async released(s: [number, number]): Promise<void> {
    await this.lastSend.get(s[0]);
  }

  async drain(): Promise<void> {
    await Promise.all(this.window.splice(0));
  }
}

/**
 * Ring reduce-scatter: n−1 steps; at step s rank r sends segment r−s+shift and reduces
 * segment r−s−1+shift arriving from the left. Afterwards rank r holds segment
 * r+1+shift fully reduced (finalized for avg). With `forwardFinal` the final slices are
 * sent on at once (the first all-gather step of an all-reduce).
 */
export async function ringReduceScatter(p: RingPass, op: ReduceOp, shift: number, forwardFinal: boolean): Promise<void> {
  const { n, r, dtype } = p;
  for (const s of p.slices(r + shift)) await p.send(s, p.inputBytes(s));
  for (let step = 0; step < n - 1; step++) {
    const last = step === n - 2;
    for (const s of p.slices(r - step - 1 + shift)) {
      const mine = view(dtype, p.inputBytes(s));
      if (!last) {
        // A partial sum is only passed on (the all-gather overwrites this segment later):
        // reduce it into the bytes that arrived and send those, leaving `buf` untouched.
        const got = await p.recv(s, true);
        const partial = view(dtype, got);
        reduceFrom(dtype, op, partial, mine, partial);
        await p.forwardKept(got);
        continue;
      }
      const got = await p.recv(s);
      const dst = view(dtype, p.bytes(s));
      // Each final segment is reduced once, here: out of place, dst = input ⊕ what arrived.
      reduceFrom(dtype, op, dst, mine, view(dtype, got));
      finalize(dtype, op, dst, n);
      if (forwardFinal) await p.send(s);
    }
  }
}

/**
 * Ring all-gather: rank r holds segment `owned`; n−1 steps receive segments owned−1−s
 * from the left and forward all but the last. `ownedSent` when the owned segment
 * already went out (all-reduce's reduce-scatter forwarded it).
 */
export async function ringAllGather(p: RingPass, owned: number, ownedSent: boolean): Promise<void> {
  const { n } = p;
  if (!ownedSent) for (const s of p.slices(owned)) await p.send(s);
  // Every receive of the pass is posted up front, in arrival order, each once its slice's
  // own last send has left: a transport that can then reads each slice straight into place.
  const landing: { s: [number, number]; forward: boolean; got: Promise<Uint8Array> }[] = [];
  for (let step = 0; step < n - 1; step++)
    for (const s of p.slices(owned - 1 - step)) {
      await p.released(s);
      const got = p.t.recvInto(p.left, p.bytes(s));
      got.catch(() => undefined); // awaited below, in order; a failure surfaces there
      landing.push({ s, forward: step < n - 2, got });
    }
  for (const { s, forward, got } of landing) {
    await got;
    if (forward) await p.send(s);
  }
}
