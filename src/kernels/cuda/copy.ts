/** memcpy on the `cuda` backend: cuMemcpyDtoDAsync timed with CUDA events, NVML sampled. */
import type { KernelConfig, PreparedCase } from '../../harness/backend.js';
import type { MemcpyData, MemcpyParams } from '../memcpy/workload.js';
import { caseDevice, cudaStack } from './context.js';
import { native, nativeAsync } from './errors.js';
import { openSampler, sampled, toTelemetry } from './telemetry.js';
import { findGpu } from '../../harness/peaks.js';
import { memoryCeiling } from '../../harness/topology/links.js';

export const cudaCopyKernel: KernelConfig<MemcpyParams, MemcpyData> = {
  workload: 'memcpy',
  backend: 'cuda',
  supports(p, devices) {
    const mem = devices[0]?.memoryBytes;
    if (mem && 2 * p.bytes > mem * 0.9) return `two ${p.bytes}-byte buffers do not fit in the GPU's ${mem} bytes`;
    return undefined;
  },
  async setup(p, data): Promise<PreparedCase> {
    const s = await cudaStack();
    if (!s.ok) throw new Error(s.reason);
    const { stack } = s;
    const dev = caseDevice(stack);
    const copy = native(() => new stack.addon.Copy({ device: dev.index, bytes: p.bytes }));
    try {
      native(() => copy.upload(data.src));
    } catch (err) {
      copy.dispose();
      throw err;
    }
    const sam = openSampler(stack, dev.uuid);
    return {
      device: dev.name,
      timer: 'cuda-event',
      impl: { kernel: 'cuMemcpyDtoDAsync' },
      runChecked: async () => native(() => copy.runChecked()),
      time: (n) => sampled(sam, () => nativeAsync(() => copy.timeAsync(n))),
      telemetry: () => (sam ? toTelemetry(sam.summary()) : undefined),
      // A copy inside one GPU reads and writes its memory: the datasheet HBM bandwidth bounds read+write.
      link: () => memoryCeiling(dev.name, findGpu(dev.name)),
      async dispose() {
        sam?.close();
        copy.dispose();
      },
    };
  },
};
