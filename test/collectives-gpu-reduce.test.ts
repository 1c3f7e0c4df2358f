/**
 * The WGSL reduce kernel against the CPU ops on fresh random data, odd counts, every op,
 * f32, i32 and u32 (f16 where the adapter has shader-f16): bit-identical results expected,
 * since both round each step once in the same type.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { webgpuMissing } from './helpers/webgpu.js';
import { webgpuContext, closeWebgpuContext } from '../src/kernels/webgpu/context.js';
import { GpuReducer } from '../src/collectives/gpu-reduce.js';
import { REDUCE_OPS, reduceInto, finalize } from '../src/collectives/ops.js';
import { allocate, bytesOf, type CollectiveDtype } from '../src/collectives/dtypes.js';
import { rankInput } from '../src/collectives/reference.js';
import { freshSeed } from '../src/harness/random.js';

const missing = await webgpuMissing('webgpu');
afterAll(async () => {
  await closeWebgpuContext();
});

describe.skipIf(missing !== undefined)(`WGSL reduce kernel${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('matches the CPU reduction bit for bit', async () => {
    const ctx = await webgpuContext();
    const { device } = ctx;
    const gpu = new GpuReducer(device, ctx.f16);
    const dtypes: CollectiveDtype[] = ctx.f16 ? ['f32', 'i32', 'u32', 'f16'] : ['f32', 'i32', 'u32'];
    expect(gpu.unsupported('bf16')).toMatch(/bf16/);
    for (const dtype of dtypes)
      for (const op of REDUCE_OPS)
        for (const count of [1, 7, 70_001]) {
          const seed = freshSeed();
          const c = { kind: 'allreduce' as const, dtype, op, algorithm: 'ring', count, inPlace: false };
          const a = rankInput(c, 3, 0, seed);
          const b = rankInput(c, 3, 1, seed);
          const size = Math.ceil(a.byteLength / 4) * 4;
          const mk = (data: ArrayBufferView) => {
            const buf = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
            const bytes = new Uint8Array(size);
            bytes.set(bytesOf(data));
            device.queue.writeBuffer(buf, 0, bytes);
            return buf;
          };
          const dst = mk(a);
          const src = mk(b);
          gpu.reduce(dtype, op, dst, src, count);
          gpu.finalize(dtype, op, dst, count, 2);
          const read = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
          const enc = device.createCommandEncoder();
          enc.copyBufferToBuffer(dst, 0, read, 0, size);
          device.queue.submit([enc.finish()]);
          await read.mapAsync(GPUMapMode.READ);
          const got = allocate(dtype, count);
          bytesOf(got).set(new Uint8Array(read.getMappedRange()).subarray(0, a.byteLength));
          read.unmap();
          for (const x of [dst, src, read]) x.destroy();
          const want = allocate(dtype, count);
          bytesOf(want).set(bytesOf(a));
          reduceInto(dtype, op, want, b);
          finalize(dtype, op, want, 2);
          expect(Array.from(got as Float32Array), `${dtype} ${op} ${count}`).toEqual(Array.from(want as Float32Array));
        }
  });
});
