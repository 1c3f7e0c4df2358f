/**
 * The reduction step on the GPU, for buffers that live there: dst = dst ⊕ src over two
 * storage buffers, in WGSL (f32, i32 and u32; f16 when the device has `shader-f16`), at an
 * element offset into dst, plus an element-wise copy for gathered slices. Same
 * semantics as the CPU ops (`ops.ts`): i32 and u32 wrap, `avg` sums and is divided once by
 * `finalize`. Used by the `webgpu-local` backend (local adapters as ranks); the WebSocket
 * path reduces on the CPU because its data arrives in host memory.
 */
import type { CollectiveDtype } from './dtypes.js';
import type { ReduceOp } from './ops.js';

const WG = 256;

const OP_EXPR: Record<ReduceOp, string> = {
  sum: 'a + b',
  avg: 'a + b',
  prod: 'a * b',
  min: 'min(a, b)',
  max: 'max(a, b)',
};

function wgslType(dtype: CollectiveDtype): string {
  return dtype === 'f32' ? 'f32' : dtype === 'i32' ? 'i32' : dtype === 'u32' ? 'u32' : 'f16';
}

/**
 * Why WGSL cannot hold `dtype` in a storage array, or undefined: it has f32, f16 (with
 * shader-f16), i32 and u32, and no 8-bit, 64-bit, bf16 or fp8 types.
 */
export function wgslUnsupported(dtype: CollectiveDtype): string | undefined {
  if (dtype === 'f32' || dtype === 'f16' || dtype === 'i32' || dtype === 'u32') return undefined;
  const what = dtype === 'bf16' ? 'bf16' : dtype === 'f64' ? 'f64' : dtype === 'i8' || dtype === 'u8' ? '8-bit integer' : dtype === 'i64' || dtype === 'u64' ? '64-bit integer' : 'fp8';
  return `WGSL has no ${what} type (f32, f16, i32, u32 run on local adapters)`;
}

/**
 * What a kernel does to dst[offset + i]: `reduce` with src[srcOffset + i], `copy`
 * src[srcOffset + i] into it
 * (element-wise, so f16 ranges need not start on a 4-byte boundary as buffer copies
 * must), or `divide` it by the rank count (avg's final step).
 */
export type GpuReduceMode = 'reduce' | 'copy' | 'divide';

/** The WGSL of one (dtype, op, mode) kernel. `divide` = true is the avg divide (older signature). */
export function reduceWgsl(dtype: CollectiveDtype, op: ReduceOp, mode: GpuReduceMode | boolean = 'reduce'): string {
  const m: GpuReduceMode = mode === true ? 'divide' : mode === false ? 'reduce' : mode;
  const T = wgslType(dtype);
  const body =
    m === 'divide'
      ? `dst[j] = dst[j] / ${T}(p.ranks);`
      : m === 'copy'
        ? 'dst[j] = src[p.srcOffset + i];'
        : `let a = dst[j]; let b = src[p.srcOffset + i]; dst[j] = ${OP_EXPR[op]};`;
  return `${T === 'f16' ? 'enable f16;\n' : ''}struct P { n: u32, ranks: u32, rowLen: u32, offset: u32, srcOffset: u32 };
@group(0) @binding(0) var<storage, read_write> dst: array<${T}>;
${m === 'divide' ? '' : `@group(0) @binding(1) var<storage, read> src: array<${T}>;\n`}@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.rowLen;
  if (i >= p.n) { return; }
  let j = p.offset + i;
  ${body}
}
`;
}

/** Compiles and caches the reduce pipelines of one device. */
export class GpuReducer {
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(
    readonly device: GPUDevice,
    /** Whether the device granted `shader-f16`. */
    readonly f16: boolean,
  ) {}

  /** A reason this device cannot reduce `dtype`, or undefined. */
  unsupported(dtype: CollectiveDtype): string | undefined {
    const wgsl = wgslUnsupported(dtype);
    if (wgsl) return wgsl;
    if (dtype === 'f16' && !this.f16) return 'the adapter lacks shader-f16';
    return undefined;
  }

  private pipeline(dtype: CollectiveDtype, op: ReduceOp, mode: GpuReduceMode): GPUComputePipeline {
    const key = `${dtype}/${mode === 'copy' ? '' : op}/${mode}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: reduceWgsl(dtype, op, mode) });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private dispatch(mode: GpuReduceMode, dtype: CollectiveDtype, op: ReduceOp, dst: GPUBuffer, src: GPUBuffer | undefined, count: number, ranks: number, offset: number, srcOffset = 0): void {
    if (count === 0) return;
    const why = this.unsupported(dtype);
    if (why) throw new Error(`gpu reduce ${dtype}: ${why}`);
    const pipeline = this.pipeline(dtype, op, mode);
    // 2-D grid: one row holds at most maxComputeWorkgroupsPerDimension workgroups.
    const groups = Math.ceil(count / WG);
    const maxX = this.device.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(groups, maxX);
    const y = Math.ceil(groups / x);
    // Five u32 fields, padded to the uniform block's 16-byte granule.
    const params = this.device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(params, 0, new Uint32Array([count, ranks, x * WG, offset, srcOffset, 0, 0, 0]));
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: dst } }, { binding: 2, resource: { buffer: params } }];
    if (src) entries.push({ binding: 1, resource: { buffer: src } });
    const bind = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(x, y);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    params.destroy();
  }

  /** dst[offset + i] = dst[offset + i] ⊕ src[i] for i < `count` (queued; awaits nothing). */
  reduce(dtype: CollectiveDtype, op: ReduceOp, dst: GPUBuffer, src: GPUBuffer, count: number, offset = 0): void {
    this.dispatch('reduce', dtype, op, dst, src, count, 1, offset);
  }

  /**
   * dst[offset + i] = src[srcOffset + i] for i < `count` (queued). Element-wise, so
   * f16 ranges may start inside a 4-byte word, where buffer copies cannot.
   */
  copy(dtype: CollectiveDtype, dst: GPUBuffer, src: GPUBuffer, count: number, offset = 0, srcOffset = 0): void {
    this.dispatch('copy', dtype, 'sum', dst, src, count, 1, offset, srcOffset);
  }

  /** Divides elements [offset, offset + count) by `ranks` for avg; nothing for the other ops. */
  finalize(dtype: CollectiveDtype, op: ReduceOp, buf: GPUBuffer, count: number, ranks: number, offset = 0): void {
    if (op === 'avg') this.dispatch('divide', dtype, op, buf, undefined, count, ranks, offset);
  }
}
