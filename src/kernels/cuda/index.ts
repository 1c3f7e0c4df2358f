/**
 * The `cuda` backend (cuBLASLt GEMM, device-to-device copy, NVML telemetry) through the
 * native addon, which loads every CUDA library at run time; whatever is missing becomes
 * the probe's reason. The `nccl` backend (all-reduce over the local GPUs) shares the same
 * stack and lives with the collectives: src/collectives/nccl/backend.ts.
 */
import type { Backend, ProbeResult } from '../../harness/backend.js';
import { registerBackend, registerKernel } from '../../harness/registry.js';
import { cudaStack, cudaVersionString, deviceInfo } from './context.js';
import { cudaCopyKernel } from './copy.js';
import { cudaMatmulKernel } from './matmul.js';
import { cudaHostCopyKernel } from './hostcopy.js';
import { cudaPeerCopyKernel } from './peercopy.js';
import { cudaLaunchKernel } from './launch.js';
import { cudaBurnKernel } from './burn.js';

export const cudaBackend: Backend = {
  id: 'cuda',
  title: 'NVIDIA cuBLASLt GEMM (autotuned over heuristic candidates) and device copies, CUDA events, NVML power (native addon)',
  async probe(): Promise<ProbeResult> {
    const s = await cudaStack();
    if (!s.ok) return { available: false, reason: s.reason };
    const { stack } = s;
    const notes = stack.devices.map(
      (d) => `cuda:${d.index}: sm_${d.ccMajor}${d.ccMinor}, ${d.smCount} SMs, ${(d.memoryBytes / 2 ** 30).toFixed(1)} GiB, PCI ${d.pciBusId}, ${d.uuid}`,
    );
    notes.push(`libcuda: ${stack.libcuda} (CUDA ${cudaVersionString(stack.driverApi)} driver API)`);
    notes.push(stack.cublasLt.ok ? `cuBLASLt ${stack.cublasLt.version}: ${stack.cublasLt.path}` : `matmul unavailable: ${stack.cublasLt.reason}`);
    notes.push(stack.nvml.ok ? `NVML (driver ${stack.nvml.driver}): power, clocks, temperature sampled at 50 Hz` : `no telemetry: ${stack.nvml.reason}`);
    return { available: true, devices: stack.devices.map((d) => deviceInfo(stack, d, 'cuda')), notes };
  },
};

registerBackend(cudaBackend, 90);
registerKernel(cudaMatmulKernel);
registerKernel(cudaCopyKernel);
// Node acceptance: nvbandwidth's host and peer copies, launch latency, gpu-burn's soak.
registerKernel(cudaHostCopyKernel);
registerKernel(cudaPeerCopyKernel);
registerKernel(cudaLaunchKernel);
registerKernel(cudaBurnKernel);
