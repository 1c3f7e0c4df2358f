/**
 * One local-adapter rank's GPU buffers for one collective case, and the moves every
 * GPU collective is made of: read elements of a buffer into host memory (to send), land
 * host bytes into a buffer (reduced or copied in WGSL on this GPU), copy between buffers
 * on the GPU. The queue orders every step, so a read-back sees the landings before it.
 *
 * The buffers follow `allocateBuffers` in collective.ts: input of `inputCount`, output
 * of `outputCount` elements, and NCCL's in-place aliasing — the all-gather input is
 * block r of the output, the reduce-scatter output is block r of the input, the others'
 * output is the input. An aliased buffer is one GPUBuffer with an element offset.
 */
import { inputCount, outputCount, type CollectiveCall } from '../collective.js';
import { elementBytes, type CollectiveDtype } from '../dtypes.js';
import type { ReduceOp } from '../ops.js';
import { segmentOf, slicesOf } from '../algorithms/ring-steps.js';
import { binomialTree } from '../algorithms/reduce.js';
import type { RankDevice } from './adapters.js';

const up4 = (x: number) => Math.ceil(x / 4) * 4;

/** An element range [start, end). */
export type Range = [number, number];

/** The shape of a call that decides a rank's buffers (the root: whether a reduce rank needs scratch). */
export type GpuCallShape = Pick<CollectiveCall, 'kind' | 'dtype' | 'count' | 'inPlace' | 'root'>;

/** One rank's GPU buffers for one case. */
export class GpuRank {
  readonly dtype: CollectiveDtype;
  /** Elements of S (the call's `count`). */
  readonly count: number;
  readonly inPlace: boolean;
  readonly es: number;
  /** Bytes of the largest buffer, rounded up to 4 (buffer sizes and copies go in 4-byte units). */
  readonly size: number;
  readonly input: GPUBuffer;
  /** Element where this rank's input starts in `input` (block r of the output for in-place all-gather). */
  readonly inputOffset: number;
  readonly inputCount: number;
  /** The result; the input itself for in-place calls. */
  readonly output: GPUBuffer;
  /** Element where the result starts in `output` (block r of the input for in-place reduce-scatter). */
  readonly outputOffset: number;
  readonly outputCount: number;
  /**
   * Working space the caller's buffers cannot be: out-of-place reduce-scatter's copy of the
   * input (the input is never written), a reduce's accumulator on inner ranks of its tree
   * (their input, NCCL's `const sendbuff`, must stay as it was; a leaf only reads its input).
   */
  readonly scratch: GPUBuffer | undefined;
  private readonly staging: GPUBuffer;
  private readonly readback: GPUBuffer;

  /**
   * @param call the call's kind, dtype, S and placement
   * @param ranks the group size (sets the per-rank block of all-gather and reduce-scatter)
   * @param rank this rank (sets which block an in-place buffer aliases)
   */
  constructor(
    readonly dev: RankDevice,
    call: GpuCallShape,
    readonly ranks = 1,
    readonly rank = 0,
  ) {
    // inputCount/outputCount read only the kind and count; op and algorithm do not shape buffers.
    const c = { ...call, op: 'sum', algorithm: 'auto' } satisfies CollectiveCall;
    this.dtype = c.dtype;
    this.count = c.count;
    this.inPlace = c.inPlace;
    this.es = elementBytes(c.dtype);
    this.inputCount = inputCount(c, ranks);
    this.outputCount = outputCount(c, ranks);
    const bytes = (elements: number) => Math.max(4, up4(elements * this.es));
    this.size = bytes(Math.max(this.inputCount, this.outputCount));
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const d = dev.device;
    const block = segmentOf(c.count, ranks, rank)[0];
    // Gathers' input is block r of the output in place, scatters' output block r of the input (NCCL's aliasing).
    if (c.inPlace && (c.kind === 'allgather' || c.kind === 'gather')) {
      this.output = d.createBuffer({ size: bytes(this.outputCount), usage: storage });
      this.input = this.output;
      this.inputOffset = block;
      this.outputOffset = 0;
    } else {
      this.input = d.createBuffer({ size: bytes(this.inputCount), usage: storage });
      this.inputOffset = 0;
      this.output = c.inPlace ? this.input : d.createBuffer({ size: bytes(this.outputCount), usage: storage });
      this.outputOffset = c.inPlace && (c.kind === 'reducescatter' || c.kind === 'scatter') ? block : 0;
    }
    const tree = c.kind === 'reduce' ? binomialTree(rank, ranks, c.root ?? 0) : undefined;
    const innerReduceRank = tree !== undefined && tree.parent >= 0 && tree.children.length > 0;
    const needsScratch = (!c.inPlace && c.kind === 'reducescatter') || innerReduceRank;
    this.scratch = needsScratch ? d.createBuffer({ size: bytes(this.inputCount), usage: storage }) : undefined;
    // Every landed slice and every read fits the largest buffer.
    this.staging = d.createBuffer({ size: this.size, usage: storage });
    this.readback = d.createBuffer({ size: this.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Element ranges of at most `chunkBytes` (whole elements, at least one) covering [a, b): a pipelined call's slices. */
  slices([a, b]: Range, chunkBytes: number): Range[] {
    return slicesOf([a, b], Math.max(1, Math.floor(chunkBytes / this.es)));
  }

  /** This rank's input elements, as a range of `input`. */
  get inputRange(): Range {
    return [this.inputOffset, this.inputOffset + this.inputCount];
  }

  /** This rank's result elements, as a range of `output`. */
  get outputRange(): Range {
    return [this.outputOffset, this.outputOffset + this.outputCount];
  }

  /** Writes host bytes (a whole buffer's worth) into `buf`. */
  upload(buf: GPUBuffer, bytes: Uint8Array): void {
    this.dev.device.queue.writeBuffer(buf, 0, padded(bytes));
  }

  /** Elements [a, b) of `buf`, copied into host memory. */
  async read(buf: GPUBuffer, [a, b]: Range): Promise<Uint8Array> {
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
  land(buf: GPUBuffer, [a, b]: Range, bytes: Uint8Array, op: ReduceOp | 'copy'): void {
    if (bytes.byteLength !== (b - a) * this.es) throw new Error(`expected ${(b - a) * this.es} bytes, got ${bytes.byteLength}`);
    if (b === a) return;
    this.dev.device.queue.writeBuffer(this.staging, 0, padded(bytes));
    if (op === 'copy') this.dev.reducer.copy(this.dtype, buf, this.staging, b - a, a);
    else this.dev.reducer.reduce(this.dtype, op, buf, this.staging, b - a, a);
  }

  /** Copies `count` elements of `src` from `srcAt` into `dst` at `dstAt`, on the GPU (two distinct buffers). */
  copy(dst: GPUBuffer, dstAt: number, src: GPUBuffer, srcAt: number, count: number): void {
    if (count === 0) return;
    const [from, to, bytes] = [srcAt * this.es, dstAt * this.es, count * this.es];
    if ((from | to | bytes) % 4 === 0) {
      const enc = this.dev.device.createCommandEncoder();
      enc.copyBufferToBuffer(src, from, dst, to, bytes);
      this.dev.device.queue.submit([enc.finish()]);
    } else this.dev.reducer.copy(this.dtype, dst, src, count, dstAt, srcAt); // f16 ranges off 4-byte words
  }

  /** Out-of-place all-reduce starts from a copy of the input, made on the GPU (same-size buffers, padding and all). */
  startCall(): void {
    if (this.inPlace) return;
    const enc = this.dev.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.input, 0, this.output, 0, this.input.size);
    this.dev.device.queue.submit([enc.finish()]);
  }

  /** Waits for everything queued on this rank's GPU. */
  settle(): Promise<void> {
    return this.dev.device.queue.onSubmittedWorkDone();
  }

  destroy(): void {
    for (const b of new Set([this.input, this.output, this.scratch, this.staging, this.readback])) b?.destroy();
  }
}

/** Bytes padded to a whole number of 4-byte words (writeBuffer's unit). */
function padded(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength % 4 === 0) return bytes;
  const out = new Uint8Array(up4(bytes.byteLength));
  out.set(bytes);
  return out;
}
