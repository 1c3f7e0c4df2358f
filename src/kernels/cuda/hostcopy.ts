/**
 * hostcopy on the `cuda` backend: pinned host memory (cuMemHostAlloc), the copy engine
 * (cuMemcpyHtoDAsync / cuMemcpyDtoHAsync on a stream) or the SM copy kernel (PTX), timed
 * with CUDA events on the measured stream; after the timed runs the destinations are
 * compared with the source byte for byte.
 */
import type { KernelConfig, PreparedCase } from '../../harness/backend.js';
import { asFloat32 } from '../acceptance/bytes.js';
import { hostCopyWorkload, type HostCopyData, type HostCopyParams } from '../acceptance/hostcopy.js';
import { cudaStack } from './context.js';
import { native, nativeAsync } from './errors.js';
import { openSampler, sampled, toTelemetry } from './telemetry.js';
import { pcieCeiling } from '../../harness/topology/links.js';
import { deviceTopology } from './topology.js';

export const cudaHostCopyKernel: KernelConfig<HostCopyParams, HostCopyData> = {
  workload: 'hostcopy',
  backend: 'cuda',
  supports(p, devices) {
    if (p.engine === 'queue') return `${p.testcase} is WebGPU's; the cuda backend runs nvbandwidth's testcases`;
    if (p.device >= devices.length) return `cuda:${p.device} does not exist (${devices.length} GPUs)`;
    const mem = devices[p.device]?.memoryBytes;
    const deviceBytes = p.bidirectional ? 3 * p.bytes : p.bytes;
    if (mem && deviceBytes > mem * 0.9) return `${deviceBytes} bytes of device buffers do not fit in the GPU's ${mem} bytes`;
    return undefined;
  },
  async setup(p, data): Promise<PreparedCase> {
    const s = await cudaStack();
    if (!s.ok) throw new Error(s.reason);
    const { stack } = s;
    const dev = stack.devices.find((d) => d.index === p.device);
    if (!dev) throw new Error(`cuda:${p.device} does not exist`);
    const engine = p.engine === 'sm' ? 'sm' : 'ce';
    const copy = native(() => new stack.addon.HostCopy({ device: dev.index, bytes: p.bytes, direction: p.direction, engine, bidirectional: p.bidirectional }));
    try {
      native(() => copy.upload(data.src));
    } catch (err) {
      copy.dispose();
      throw err;
    }
    const sam = openSampler(stack, dev.uuid);
    const kernel = engine === 'sm' ? 'gb_copy (PTX, SM)' : p.direction === 'h2d' ? 'cuMemcpyHtoDAsync' : 'cuMemcpyDtoHAsync';
    return {
      device: dev.name,
      timer: 'cuda-event',
      impl: {
        kernel,
        config: { hostMemory: 'pinned (cuMemHostAlloc)', ...(p.bidirectional ? { interferingCopyBytes: 2 * p.bytes } : {}) },
      },
      runChecked: async () => asFloat32(native(() => copy.runChecked())),
      time: (n) => sampled(sam, () => nativeAsync(() => copy.timeAsync(n))),
      telemetry: () => (sam ? toTelemetry(sam.summary()) : undefined),
      // One direction of the GPU's PCIe link (the measured stream's, bidirectional too).
      link: () => {
        const g = deviceTopology(stack, dev.index);
        return g ? pcieCeiling(g) : undefined;
      },
      afterTiming: async () => ({ check: hostCopyWorkload.check(p, data, asFloat32(native(() => copy.readBack()))) }),
      async dispose() {
        sam?.close();
        copy.dispose();
      },
    };
  },
};
