/**
 * matmul on the `cuda` backend: cuBLASLt with the algorithm chosen by timing several
 * heuristic candidates on this case's buffers (`auto`), or the heuristic's first pick
 * (`heuristic`), timed with CUDA events, NVML sampled during the timed region.
 */
import type { KernelConfig, PreparedCase } from '../../harness/backend.js';
import type { DeviceInfo, Impl } from '../../harness/results/schema.js';
import type { MatmulData, MatmulParams } from '../matmul/workload.js';
import type { GemmCandidate } from './addon.js';
import { caseDevice, cudaStack, openedStack } from './context.js';
import { native, nativeAsync } from './errors.js';
import { openSampler, sampled, toTelemetry } from './telemetry.js';

/** Kernel variants: `auto` times the heuristic's candidates, `heuristic` takes its first. */
export const CUDA_MATMUL_KERNELS = ['auto', 'heuristic'] as const;

/** Heuristic candidates asked for and timed by `auto`. @default 8 */
export const TUNE_CANDIDATES = Number(process.env.GPUBENCH_CUBLASLT_CANDIDATES ?? 8);

/** cuBLASLt workspace: 64 MiB, more than PyTorch's default on Hopper (32 MiB), so no candidate is starved. */
export const WORKSPACE_BYTES = 64 * 2 ** 20;

const BYTES: Record<string, number> = { f32: 4, tf32: 4, f16: 2, bf16: 2, fp8: 1 };

/** Why these parameters cannot run on this device, or undefined. Exported for tests. */
export function cudaMatmulSupport(p: MatmulParams, dev: DeviceInfo | undefined): string | undefined {
  if (!(CUDA_MATMUL_KERNELS as readonly string[]).includes(p.kernel))
    return `cuda has no kernel "${p.kernel}" (it has ${CUDA_MATMUL_KERNELS.join(', ')})`;
  if (!dev) return 'no CUDA device';
  const lt = openedStack()?.cublasLt;
  if (lt && !lt.ok) return lt.reason;
  if (p.dtype === 'fp8') {
    if (!dev.features?.includes('fp8')) return `fp8 needs compute capability 8.9 or newer (this GPU is ${dev.architecture ?? 'older'})`;
    if (p.m % 16 || p.n % 16 || p.k % 16) return 'fp8 on cuBLASLt needs m, n and k divisible by 16';
  }
  const el = BYTES[p.dtype] ?? 4;
  const out = p.dtype === 'fp8' ? 2 : el;
  const need = p.batch * (el * (p.m * p.k + p.k * p.n) + out * p.m * p.n) + WORKSPACE_BYTES;
  if (dev.memoryBytes && need > dev.memoryBytes * 0.95)
    return `needs ${(need / 2 ** 30).toFixed(1)} GiB of the GPU's ${(dev.memoryBytes / 2 ** 30).toFixed(1)} GiB`;
  return undefined;
}

function implOf(p: MatmulParams, c: GemmCandidate, tried: number): Impl {
  return {
    kernel: 'cublasLt',
    config: {
      algoId: c.algoId,
      tile: c.tile,
      stages: c.stages,
      splitK: c.splitK,
      reduction: c.reduction,
      swizzle: c.swizzle,
      customOption: c.customOption,
      cluster: c.cluster,
      workspaceBytes: c.workspaceBytes,
      heuristicRank: c.index,
    },
    autotune: { source: p.kernel === 'auto' ? 'measured' : 'fixed', candidates: tried },
    notes: [
      p.dtype === 'fp8'
        ? 'fp8 e4m3 inputs (B stored transposed, cuBLASLt TN), bf16 output, f32 accumulation, unit scales'
        : p.dtype === 'tf32'
          ? 'f32 storage, TF32 tensor cores (CUBLAS_COMPUTE_32F_FAST_TF32)'
          : p.dtype === 'f32'
            ? 'f32 storage and compute (CUBLAS_COMPUTE_32F)'
            : `${p.dtype} storage and output, f32 accumulation`,
    ],
  };
}

export const cudaMatmulKernel: KernelConfig<MatmulParams, MatmulData> = {
  workload: 'matmul',
  backend: 'cuda',
  supports: (p, devices) => cudaMatmulSupport(p, devices.find((d) => d.id === `cuda:${process.env.GPUBENCH_CUDA_DEVICE ?? 0}`) ?? devices[0]),

  async setup(p, data, hooks): Promise<PreparedCase> {
    const s = await cudaStack();
    if (!s.ok) throw new Error(s.reason);
    const { stack } = s;
    if (!stack.cublasLt.ok) throw new Error(stack.cublasLt.reason);
    const dev = caseDevice(stack);
    const gemm = native(
      () => new stack.addon.Gemm({ device: dev.index, m: p.m, n: p.n, k: p.k, batch: p.batch, dtype: p.dtype, workspaceBytes: WORKSPACE_BYTES }),
    );
    let sampler;
    try {
      native(() => gemm.upload(data.a, data.b));
      // Candidate timing: enough repetitions for ~1% resolution on big problems, few on tiny ones.
      const reps = p.m * p.n * p.k * p.batch >= 2 ** 30 ? 10 : 20;
      if (p.kernel !== 'heuristic') hooks?.phase?.('autotune');
      const tuned = native(() => gemm.tune(p.kernel === 'heuristic' ? 1 : Math.max(1, TUNE_CANDIDATES), reps));
      const chosen = tuned.candidates[tuned.chosen]!;
      const impl = implOf(p, chosen, tuned.candidates.filter((c) => c.ms !== undefined).length);
      sampler = openSampler(stack, dev.uuid);
      const sam = sampler;
      return {
        device: dev.name,
        timer: 'cuda-event',
        impl,
        runChecked: async () => native(() => gemm.runChecked()),
        time: (iterations) => sampled(sam, () => nativeAsync(() => gemm.timeAsync(iterations))),
        telemetry: () => (sam ? toTelemetry(sam.summary()) : undefined),
        async dispose() {
          sam?.close();
          gemm.dispose();
        },
      };
    } catch (err) {
      sampler?.close();
      gemm.dispose();
      throw err;
    }
  },
};
