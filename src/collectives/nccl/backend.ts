/**
 * The `nccl` backend: NCCL all-reduce over every local GPU, one rank per GPU in this one
 * process, through the native addon (which loads libcuda and libnccl at run time). Its
 * probe reuses the `cuda` backend's stack (`cudaStack()`), so a missing driver or NCCL
 * becomes the reason ("libnccl.so.2 not found: …"), and declares the rank count so the
 * sweep and busbw (nccl-tests' 2(n−1)/n) are planned for the local GPUs. As
 * `webgpu-local`, it stands aside in a multi-process run, which measures its worker ranks.
 */
import type { Backend, ProbeResult } from '../../harness/backend.js';
import { registerBackend, registerKernel } from '../../harness/registry.js';
import { cudaStack, deviceInfo } from '../../kernels/cuda/context.js';
import { ncclVersionString } from '../../kernels/cuda/nccl.js';
import { callOf, type CollectiveData, type CollectiveParams } from '../workload.js';
import { currentWorld, setLocalRanks } from '../world.js';
import { ncclAllReduceSupport, ncclNotes, setupNcclAllReduce } from './allreduce-case.js';

export const NCCL = 'nccl';

export const ncclBackend: Backend = {
  id: NCCL,
  title: 'NCCL all-reduce, one process over every local GPU, one rank each (native addon)',
  async probe(): Promise<ProbeResult> {
    if (currentWorld())
      return { available: false, reason: 'a multi-process run measures its worker ranks; NCCL runs the local GPUs as ranks in a run without --local-nodes or a coordinator' };
    const s = await cudaStack();
    if (!s.ok) return { available: false, reason: s.reason };
    const { stack } = s;
    if (!stack.nccl.ok) return { available: false, reason: stack.nccl.reason };
    setLocalRanks(NCCL, stack.devices.length);
    return {
      available: true,
      devices: stack.devices.map((d) => deviceInfo(stack, d, NCCL)),
      notes: [`NCCL ${ncclVersionString(stack.nccl.version)}: ${stack.nccl.path}`, ...ncclNotes(stack.devices.length)],
    };
  },
  dispose() {
    // Communicators belong to cases and are destroyed with them; only the rank count is ours.
    setLocalRanks(NCCL, undefined);
    return Promise.resolve();
  },
};

// Below `cuda` (90), above the WebGPU and WebSocket collectives.
registerBackend(ncclBackend, 80);
registerKernel<CollectiveParams, CollectiveData>({
  workload: 'allreduce',
  backend: NCCL,
  supports: (p, devices) => ncclAllReduceSupport(p, devices),
  async setup(p, data) {
    const s = await cudaStack();
    if (!s.ok) throw new Error(s.reason);
    const { stack } = s;
    if (!stack.nccl.ok) throw new Error(stack.nccl.reason);
    return setupNcclAllReduce(callOf(p), data, stack.devices.map((d) => d.name), stack.nccl.version, stack);
  },
});
