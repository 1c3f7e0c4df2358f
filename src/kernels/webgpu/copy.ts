/**
 * memcpy on the `webgpu` backend: `copyBufferToBuffer` between two device buffers, timed
 * with timestamp queries written by empty compute passes either side of the copies (a
 * copy is not in a pass, so it has no timestamp writes of its own), or with the host clock
 * around `onSubmittedWorkDone` where the device has no timestamp-query.
 */
import { createTimestampPair, destroyTimestampPair, submitTimed } from './timestamps.js';
import type { KernelConfig, PreparedCase } from '../../harness/backend.js';
import type { DeviceInfo } from '../../harness/results/schema.js';
import type { MemcpyData, MemcpyParams } from '../memcpy/workload.js';
import { webgpuContext } from './context.js';

/** Why the adapter cannot hold this copy, or undefined. */
function tooBig(bytes: number, dev: DeviceInfo | undefined): string | undefined {
  const limit = dev?.limits?.maxBufferSize;
  if (limit && bytes > limit) return `a ${bytes}-byte buffer exceeds the adapter's maxBufferSize (${limit})`;
  return undefined;
}

export const webgpuCopyKernel: KernelConfig<MemcpyParams, MemcpyData> = {
  workload: 'memcpy',
  backend: 'webgpu',
  supports: (p, devices) => tooBig(p.bytes, devices[0]),

  async setup(p, data): Promise<PreparedCase> {
    const ctx = await webgpuContext();
    const { device } = ctx;
    const src = device.createBuffer({ size: p.bytes, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: 'memcpy src' });
    const dst = device.createBuffer({ size: p.bytes, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: 'memcpy dst' });
    const readback = device.createBuffer({ size: p.bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'memcpy readback' });
    const q = ctx.timestamps ? createTimestampPair(device) : undefined;
    const destroy = () => {
      for (const b of [src, dst, readback]) b.destroy();
      if (q) destroyTimestampPair(q);
    };
    try {
      device.queue.writeBuffer(src, 0, data.src);
      return {
        device: ctx.info.name,
        timer: q ? 'gpu-timestamp' : 'wall-clock',
        impl: { kernel: 'copyBufferToBuffer' },
        async runChecked() {
          // NaN in the destination first: a copy that skips bytes cannot pass the check.
          device.queue.writeBuffer(dst, 0, new Float32Array(p.bytes / 4).fill(Number.NaN));
          const enc = device.createCommandEncoder();
          enc.copyBufferToBuffer(src, 0, dst, 0, p.bytes);
          enc.copyBufferToBuffer(dst, 0, readback, 0, p.bytes);
          device.queue.submit([enc.finish()]);
          await readback.mapAsync(GPUMapMode.READ);
          const out = new Float32Array(readback.getMappedRange().slice(0));
          readback.unmap();
          return out;
        },
        async time(iterations) {
          const enc = device.createCommandEncoder();
          if (q) enc.beginComputePass({ timestampWrites: { querySet: q.set, beginningOfPassWriteIndex: 0 } }).end();
          for (let i = 0; i < iterations; i++) enc.copyBufferToBuffer(src, 0, dst, 0, p.bytes);
          if (q) enc.beginComputePass({ timestampWrites: { querySet: q.set, endOfPassWriteIndex: 1 } }).end();
          return submitTimed(device, enc, q, iterations);
        },
        async dispose() {
          destroy();
        },
      };
    } catch (err) {
      destroy();
      throw err;
    }
  },
};
