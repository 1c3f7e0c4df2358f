/**
 * The `webgpu` backend: hand-written WGSL GEMM kernels, and buffer copies (memcpy), on a
 * Dawn device.
 */
import type { Backend } from '../../harness/backend.js';
import { registerBackend, registerKernel } from '../../harness/registry.js';
import { closeWebgpuContext, webgpuContext } from './context.js';
import { matmulKernel } from './matmul.js';
import { webgpuCopyKernel } from './copy.js';
import { webgpuHostCopyKernel } from './hostcopy.js';

export const webgpuBackend: Backend = {
  id: 'webgpu',
  title: 'hand-written WGSL GEMM kernels (naive, tiled + autotuned) on Dawn (npm webgpu)',
  async probe() {
    try {
      const ctx = await webgpuContext();
      const notes: string[] = [];
      if (ctx.info.software) notes.push('software adapter: the "GPU" is the CPU, numbers measure the CPU');
      if (!ctx.timestamps) notes.push('no timestamp-query: timed with the host clock around onSubmittedWorkDone');
      if (!ctx.f16) notes.push('no shader-f16: f16 cases are skipped');
      return { available: true, devices: [ctx.info], notes };
    } catch (err) {
      return { available: false, reason: err instanceof Error ? err.message : String(err) };
    }
  },
  dispose: closeWebgpuContext,
};

registerBackend(webgpuBackend, 100);
registerKernel(matmulKernel);
registerKernel(webgpuCopyKernel);
registerKernel(webgpuHostCopyKernel);
