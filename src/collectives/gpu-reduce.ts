/**
 * The reduction step on the GPU, for buffers that live there: dst = dst ⊕ src over two
 * storage buffers, in WGSL (f32 and i32; f16 when the device has `shader-f16`). Same
 * semantics as the CPU ops (`ops.ts`): i32 wraps, `avg` sums and is divided once by
 * `finalize`. A building block for ranks that are local GPU adapters; the WebSocket path
 * reduces on the CPU because its data arrives in host memory.
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
  return dtype === 'f32' ? 'f32' : dtype === 'i32' ? 'i32' : 'f16';
}

/** The WGSL of one (dtype, op) reduce kernel, or of the avg divide when `divide`. */
export function reduceWgsl(dtype: CollectiveDtype, op: ReduceOp, divide = false): string {
  const T = wgslType(dtype);
  const body = divide ? `dst[i] = dst[i] / ${T}(p.ranks);` : `let a = dst[i]; let b = src[i]; dst[i] = ${OP_EXPR[op]};`;
  return `${T === 'f16' ? 'enable f16;\n' : ''}struct P { n: u32, ranks: u32, rowLen: u32, pad: u32 };
@group(0) @binding(0) var<storage, read_write> dst: array<${T}>;
${divide ? '' : `@group(0) @binding(1) var<storage, read> src: array<${T}>;\n`}@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x + g.y * p.rowLen;
  if (i >= p.n) { return; }
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
    if (dtype === 'bf16') return 'WGSL has no bf16 type';
    if (dtype === 'f16' && !this.f16) return 'the adapter lacks shader-f16';
    return undefined;
  }

  private pipeline(dtype: CollectiveDtype, op: ReduceOp, divide: boolean): GPUComputePipeline {
    const key = `${dtype}/${op}/${divide}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: reduceWgsl(dtype, op, divide) });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private dispatch(dtype: CollectiveDtype, op: ReduceOp, dst: GPUBuffer, src: GPUBuffer | undefined, count: number, ranks: number): void {
    if (count === 0) return;
    const why = this.unsupported(dtype);
    if (why) throw new Error(`gpu reduce ${dtype}: ${why}`);
    const divide = src === undefined;
    const pipeline = this.pipeline(dtype, op, divide);
    // 2-D grid: one row holds at most maxComputeWorkgroupsPerDimension workgroups.
    const groups = Math.ceil(count / WG);
    const maxX = this.device.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(groups, maxX);
    const y = Math.ceil(groups / x);
    const params = this.device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(params, 0, new Uint32Array([count, ranks, x * WG, 0]));
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

  /** dst[i] = dst[i] ⊕ src[i] for the first `count` elements (queued; awaits nothing). */
  reduce(dtype: CollectiveDtype, op: ReduceOp, dst: GPUBuffer, src: GPUBuffer, count: number): void {
    this.dispatch(dtype, op, dst, src, count, 1);
  }

  /** Divides by `ranks` for avg; nothing for the other ops. */
  finalize(dtype: CollectiveDtype, op: ReduceOp, buf: GPUBuffer, count: number, ranks: number): void {
    if (op === 'avg') this.dispatch(dtype, op, buf, undefined, count, ranks);
  }
}
