/**
 * hostcopy on the `webgpu` backend: what a WebGPU program can do to move data between
 * JavaScript memory and the device. Upload (`host_to_device_writebuffer`): `writeBuffer`
 * of the whole source into a device buffer, n times, then `onSubmittedWorkDone`. Download
 * (`device_to_host_mapasync`): copy the device buffer into a MAP_READ buffer, `mapAsync`,
 * copy the mapped range into a JavaScript array, unmap, n times. Timed with the host clock
 * (the transfer is host work as much as device work); after the timed runs the destination
 * is compared with the source byte for byte.
 */
import type { KernelConfig, PreparedCase } from '../../harness/backend.js';
import { asFloat32 } from '../acceptance/bytes.js';
import { hostCopyWorkload, type HostCopyData, type HostCopyParams } from '../acceptance/hostcopy.js';
import { webgpuContext } from './context.js';

export const webgpuHostCopyKernel: KernelConfig<HostCopyParams, HostCopyData> = {
  workload: 'hostcopy',
  backend: 'webgpu',
  supports(p, devices) {
    if (p.engine !== 'queue') return `${p.testcase} needs pinned host memory and ${p.engine === 'sm' ? 'a copy kernel on host memory' : 'a copy engine'}: CUDA only (WebGPU runs host_to_device_writebuffer and device_to_host_mapasync)`;
    const limit = devices[0]?.limits?.maxBufferSize;
    if (limit && p.bytes > limit) return `a ${p.bytes}-byte buffer exceeds the adapter's maxBufferSize (${limit})`;
    return undefined;
  },
  async setup(p, data): Promise<PreparedCase> {
    const { device, info } = await webgpuContext();
    const buf = device.createBuffer({ size: p.bytes, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: 'hostcopy device' });
    const readback = device.createBuffer({ size: p.bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'hostcopy readback' });
    const host = new Uint8Array(p.bytes);
    const poison = new Uint8Array(asFloat32(new Uint8Array(p.bytes)).fill(Number.NaN).buffer);
    /** device buffer → readback → `host`. */
    const download = async () => {
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(buf, 0, readback, 0, p.bytes);
      device.queue.submit([enc.finish()]);
      await readback.mapAsync(GPUMapMode.READ);
      host.set(new Uint8Array(readback.getMappedRange()));
      readback.unmap();
    };
    const upload = async () => {
      device.queue.writeBuffer(buf, 0, data.src);
      await device.queue.onSubmittedWorkDone();
    };
    const toDevice = p.direction === 'h2d';
    try {
      if (!toDevice) await upload();
      return {
        device: info.name,
        timer: 'wall-clock',
        impl: { kernel: toDevice ? 'writeBuffer' : 'copyBufferToBuffer + mapAsync + getMappedRange copy' },
        async runChecked() {
          // NaN at the destination first: a transfer that skips bytes cannot pass.
          if (toDevice) {
            device.queue.writeBuffer(buf, 0, poison);
            await upload();
            await download();
          } else {
            host.set(poison);
            await download();
          }
          return asFloat32(host.slice());
        },
        async time(iterations) {
          const t0 = performance.now();
          if (toDevice) {
            for (let i = 0; i < iterations; i++) device.queue.writeBuffer(buf, 0, data.src);
            await device.queue.onSubmittedWorkDone();
          } else {
            for (let i = 0; i < iterations; i++) await download();
          }
          return performance.now() - t0;
        },
        async afterTiming() {
          if (toDevice) {
            host.set(poison);
            await download();
          }
          return { check: hostCopyWorkload.check(p, data, asFloat32(host)) };
        },
        async dispose() {
          buf.destroy();
          readback.destroy();
        },
      };
    } catch (err) {
      buf.destroy();
      readback.destroy();
      throw err;
    }
  },
};
