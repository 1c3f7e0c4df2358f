/**
 * All-reduce for a rank whose buffer lives in a GPU storage buffer and whose links are a
 * host transport (in-process between local adapters): a slice to send is copied to a
 * mappable buffer and read into host memory; a slice that arrives is written into a
 * staging storage buffer and reduced (or copied) into place by the WGSL kernel on this
 * rank's GPU. The queue orders every step, so a read-back sees the reductions before it.
 *
 * Algorithms: `ring` (reduce-scatter then all-gather, one segment per step) and
 * `one-shot` (every rank sends its whole buffer to every other and reduces in rank order,
 * so every rank computes the same bits). Bus factor 2(n−1)/n as every all-reduce.
 */
import type { Transport } from '../transport.js';
import { elementBytes, type CollectiveDtype } from '../dtypes.js';
import type { ReduceOp } from '../ops.js';
import { segmentOf } from '../algorithms/ring-steps.js';
import type { RankDevice } from './adapters.js';

/** Algorithms this rank implements. */
export const GPU_ALLREDUCE_ALGORITHMS = ['ring', 'one-shot'] as const;
export type GpuAllReduceAlgorithm = (typeof GPU_ALLREDUCE_ALGORITHMS)[number];

const up4 = (x: number) => Math.ceil(x / 4) * 4;

/** One rank's GPU buffers for one case. */
export class GpuRank {
  readonly es: number;
  /** Bytes of the buffer, rounded up to 4 (buffer sizes and copies go in 4-byte units). */
  readonly size: number;
  readonly input: GPUBuffer;
  /** The result; the input itself for in-place calls. */
  readonly output: GPUBuffer;
  private readonly staging: GPUBuffer;
  private readonly readback: GPUBuffer;

  constructor(
    readonly dev: RankDevice,
    readonly dtype: CollectiveDtype,
    readonly count: number,
    readonly inPlace: boolean,
  ) {
    this.es = elementBytes(dtype);
    this.size = Math.max(4, up4(count * this.es));
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const d = dev.device;
    this.input = d.createBuffer({ size: this.size, usage: storage });
    this.output = inPlace ? this.input : d.createBuffer({ size: this.size, usage: storage });
    this.staging = d.createBuffer({ size: this.size, usage: storage });
    this.readback = d.createBuffer({ size: this.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Writes host bytes (a whole buffer's worth) into `buf`. */
  upload(buf: GPUBuffer, bytes: Uint8Array): void {
    this.dev.device.queue.writeBuffer(buf, 0, padded(bytes));
  }

  /** Elements [a, b) of `buf`, copied into host memory. */
  async read(buf: GPUBuffer, [a, b]: [number, number]): Promise<Uint8Array> {
    const start = a * this.es;
    const end = b * this.es;
    if (end === start) return new Uint8Array(0);
    // Buffer copies move whole 4-byte words: copy the enclosing words, cut on the host.
    const lo = Math.floor(start / 4) * 4;
    const hi = up4(end);
    const enc = this.dev.device.createCommandEncoder();
    enc.copyBufferToBuffer(buf, lo, this.readback, 0, hi - lo);
    this.dev.device.queue.submit([enc.finish()]);
    await this.readback.mapAsync(GPUMapMode.READ, 0, hi - lo);
    const out = new Uint8Array(this.readback.getMappedRange(0, hi - lo)).slice(start - lo, end - lo);
    this.readback.unmap();
    return out;
  }

  /** Reduces (or copies) host bytes into elements [a, b) of `buf` on this GPU. */
  land(buf: GPUBuffer, [a, b]: [number, number], bytes: Uint8Array, op: ReduceOp | 'copy'): void {
    if (bytes.byteLength !== (b - a) * this.es) throw new Error(`expected ${(b - a) * this.es} bytes, got ${bytes.byteLength}`);
    if (b === a) return;
    this.dev.device.queue.writeBuffer(this.staging, 0, padded(bytes));
    if (op === 'copy') this.dev.reducer.copy(this.dtype, buf, this.staging, b - a, a);
    else this.dev.reducer.reduce(this.dtype, op, buf, this.staging, b - a, a);
  }

  /** Out-of-place calls start from a copy of the input, made on the GPU. */
  startCall(): void {
    if (this.inPlace) return;
    const enc = this.dev.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.input, 0, this.output, 0, this.size);
    this.dev.device.queue.submit([enc.finish()]);
  }

  /** Waits for everything queued on this rank's GPU. */
  settle(): Promise<void> {
    return this.dev.device.queue.onSubmittedWorkDone();
  }

  destroy(): void {
    for (const b of new Set([this.input, this.output, this.staging, this.readback])) b.destroy();
  }
}

/** Bytes padded to a whole number of 4-byte words (writeBuffer's unit). */
function padded(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength % 4 === 0) return bytes;
  const out = new Uint8Array(up4(bytes.byteLength));
  out.set(bytes);
  return out;
}

/** One all-reduce call on this rank: the output buffer ends as the reduction over all ranks. */
export async function gpuAllReduce(t: Transport, g: GpuRank, op: ReduceOp, algorithm: GpuAllReduceAlgorithm): Promise<void> {
  g.startCall();
  const { rank: r, size: n } = t;
  const buf = g.output;
  if (n === 1) return; // avg divides by 1: nothing to do
  const fin = (a: number, b: number) => g.dev.reducer.finalize(g.dtype, op, buf, b - a, n, a);
  if (algorithm === 'one-shot') {
    const all: [number, number] = [0, g.count];
    const mine = await g.read(buf, all);
    const peers = Array.from({ length: n }, (_, p) => p).filter((p) => p !== r);
    const [, got] = await Promise.all([Promise.all(peers.map((p) => t.send(p, mine))), Promise.all(peers.map((p) => t.recv(p)))]);
    const parts = new Array<Uint8Array>(n);
    parts[r] = mine;
    peers.forEach((p, i) => (parts[p] = got[i]!));
    // Rank order 0..n−1 on every rank: identical rounding everywhere.
    if (r !== 0) g.land(buf, all, parts[0]!, 'copy');
    for (let p = 1; p < n; p++) g.land(buf, all, parts[p]!, op);
    fin(0, g.count);
    return;
  }
  const right = (r + 1) % n;
  const left = (r - 1 + n) % n;
  const seg = (i: number) => segmentOf(g.count, n, i);
  const exchange = async (send: [number, number]) => {
    const out = await g.read(buf, send);
    const [, got] = await Promise.all([t.send(right, out), t.recv(left)]);
    return got;
  };
  // Reduce-scatter: step s sends segment r−s and reduces segment r−s−1 from the left;
  // rank r ends holding segment r+1 reduced over every rank.
  for (let s = 0; s < n - 1; s++) g.land(buf, seg(r - s - 1), await exchange(seg(r - s)), op);
  fin(...seg(r + 1));
  // All-gather: step s forwards segment r+1−s and stores segment r−s.
  for (let s = 0; s < n - 1; s++) g.land(buf, seg(r - s), await exchange(seg(r + 1 - s)), 'copy');
}
