/**
 * One GEMM problem on a Dawn device: its buffers, a pipeline per kernel variant, and the
 * two ways to time it (timestamp queries around a compute pass, or host time around a
 * submit and `onSubmittedWorkDone`).
 */
import { createTimestampPair, destroyTimestampPair, submitTimed, type TimestampPair } from './timestamps.js';
import { Float16Array } from '@petamoriken/float16';
import type { TimerKind } from '../../harness/results/schema.js';
import type { DawnContext } from './dawn.js';
import type { WgslDtype } from './wgsl/tiled.js';

/** Shape of one (batched) GEMM. */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  batch: number;
}

/** A compiled kernel variant and how to dispatch it for a shape. */
export interface GemmPipeline {
  pipeline: GPUComputePipeline;
  workgroups: [number, number, number];
}

const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/** Device buffers of one GEMM and the machinery to run, time and read it. */
export class GemmBuffers {
  readonly a: GPUBuffer;
  readonly b: GPUBuffer;
  readonly c: GPUBuffer;
  private readonly dims: GPUBuffer;
  private readonly readback: GPUBuffer;
  private readonly query?: TimestampPair;
  private readonly elBytes: number;
  private readonly cBytes: number;
  private readonly bindGroups = new WeakMap<GPUComputePipeline, GPUBindGroup>();

  constructor(
    private readonly ctx: DawnContext,
    readonly shape: GemmShape,
    readonly dtype: WgslDtype,
  ) {
    const { device } = ctx;
    const { m, n, k, batch } = shape;
    this.elBytes = dtype === 'f16' ? 2 : 4;
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    this.a = device.createBuffer({ size: align16(batch * m * k * this.elBytes), usage: storage, label: 'A' });
    this.b = device.createBuffer({ size: align16(batch * k * n * this.elBytes), usage: storage, label: 'B' });
    this.cBytes = align16(batch * m * n * this.elBytes);
    this.c = device.createBuffer({ size: this.cBytes, usage: storage | GPUBufferUsage.COPY_SRC, label: 'C' });
    this.readback = device.createBuffer({ size: this.cBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'C readback' });
    this.dims = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'dims' });
    device.queue.writeBuffer(this.dims, 0, new Uint32Array([m, n, k, batch]));
    if (ctx.timestamps) this.query = createTimestampPair(device);
  }

  /** Which clock `time()` uses on this device. */
  get timer(): TimerKind {
    return this.query ? 'gpu-timestamp' : 'wall-clock';
  }

  /** Uploads the inputs, converting to the storage type (values already rounded to it). */
  upload(a: Float32Array, b: Float32Array): void {
    this.write(this.a, a);
    this.write(this.b, b);
  }

  /** Fills C with NaN so that a kernel that skips an element cannot pass the check. */
  poison(): void {
    const count = this.cBytes / this.elBytes;
    const data = this.dtype === 'f16' ? new Uint16Array(count).fill(0x7e00) : new Float32Array(count).fill(Number.NaN);
    this.ctx.device.queue.writeBuffer(this.c, 0, data);
  }

  /** Runs the pipeline once and returns C as f32 values. */
  async runOnce(p: GemmPipeline): Promise<Float32Array> {
    const { device } = this.ctx;
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    this.dispatch(pass, p);
    pass.end();
    enc.copyBufferToBuffer(this.c, 0, this.readback, 0, this.cBytes);
    device.queue.submit([enc.finish()]);
    await this.readback.mapAsync(GPUMapMode.READ);
    const bytes = this.readback.getMappedRange().slice(0);
    this.readback.unmap();
    const count = this.shape.batch * this.shape.m * this.shape.n;
    if (this.dtype === 'f16') return Float32Array.from(new Float16Array(bytes, 0, count));
    return new Float32Array(bytes, 0, count);
  }

  /**
   * Runs `iterations` dispatches back to back in one compute pass and returns the elapsed
   * milliseconds: device time between the pass's begin and end timestamps where the
   * device has them, else host time from submit to `onSubmittedWorkDone`.
   */
  async time(p: GemmPipeline, iterations: number): Promise<number> {
    const { device } = this.ctx;
    const enc = device.createCommandEncoder();
    const q = this.query;
    const pass = enc.beginComputePass(
      q ? { timestampWrites: { querySet: q.set, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
    );
    for (let i = 0; i < iterations; i++) this.dispatch(pass, p);
    pass.end();
    return submitTimed(device, enc, q, iterations);
  }

  /** Releases every buffer of this problem. */
  destroy(): void {
    for (const buf of [this.a, this.b, this.c, this.dims, this.readback]) buf.destroy();
    if (this.query) {
      destroyTimestampPair(this.query);
    }
  }

  private dispatch(pass: GPUComputePassEncoder, p: GemmPipeline): void {
    let bg = this.bindGroups.get(p.pipeline);
    if (!bg) {
      bg = this.ctx.device.createBindGroup({
        layout: p.pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.a } },
          { binding: 1, resource: { buffer: this.b } },
          { binding: 2, resource: { buffer: this.c } },
          { binding: 3, resource: { buffer: this.dims } },
        ],
      });
      this.bindGroups.set(p.pipeline, bg);
    }
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(...p.workgroups);
  }

  private write(buf: GPUBuffer, values: Float32Array): void {
    const data = this.dtype === 'f16' ? new Uint16Array(new Float16Array(values).buffer) : values;
    // writeBuffer wants a multiple of 4 bytes; an odd count of halves gets one pad element.
    const padded = data.byteLength % 4 === 0 ? data : copyPadded(data);
    this.ctx.device.queue.writeBuffer(buf, 0, padded);
  }
}

function copyPadded(data: Uint16Array | Float32Array): Uint16Array | Float32Array {
  const out = new Uint16Array(data.length + 1);
  out.set(data as Uint16Array);
  return out;
}

/** Compiles a WGSL module into a compute pipeline, surfacing compile errors with their messages. */
export async function compilePipeline(ctx: DawnContext, code: string, label: string): Promise<GPUComputePipeline> {
  const { device } = ctx;
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code, label });
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
  const err = await device.popErrorScope();
  if (err) {
    const info = await module.getCompilationInfo();
    const msgs = info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
    throw new Error(`WGSL ${label} failed to compile: ${err.message}${msgs ? ` (${msgs})` : ''}`);
  }
  return pipeline;
}
