/**
 * burn on the `cuda` backend: every local GPU at once (GPUBENCH_CUDA_DEVICES, a comma list
 * of ordinals, narrows it), cuBLASLt with one deterministic algorithm (no atomics-based
 * split-K), each GEMM compared with the first on the GPU by the PTX compare kernel. NVML
 * health counters are read before the first GEMM and after the last; a GPU is FAULTY when
 * any element differed or its volatile uncorrectable ECC count grew.
 */
import type { AfterTiming, KernelConfig, PreparedCase } from '../../harness/backend.js';
import type { BurnData, BurnGpu, BurnParams } from '../acceptance/burn.js';
import type { CudaStack } from './context.js';
import { cudaStack } from './context.js';
import type { NativeNvmlHealth } from './addon.js';
import { native, nativeAsync } from './errors.js';
import { combineTelemetry, openSampler, throttleNames, toTelemetry } from './telemetry.js';

/** The GPUs a burn runs on. */
export function burnDevices(stack: CudaStack): number[] {
  const want = process.env.GPUBENCH_CUDA_DEVICES;
  if (!want) return stack.devices.map((d) => d.index);
  return want.split(',').map((s) => Number(s.trim())).filter((i) => stack.devices.some((d) => d.index === i));
}

/** NVML's health counters with the throttle mask named, or why there are none. */
function health(stack: CudaStack, uuid: string): Record<string, unknown> {
  if (!stack.nvml.ok) return { unavailable: stack.nvml.reason };
  try {
    const h: NativeNvmlHealth = stack.addon.nvmlHealth(uuid);
    return { ...h, ...(h.throttleMask !== undefined ? { throttleReasons: throttleNames(h.throttleMask) } : {}) };
  } catch (err) {
    return { unavailable: err instanceof Error ? err.message : String(err) };
  }
}

export const cudaBurnKernel: KernelConfig<BurnParams, BurnData> = {
  workload: 'burn',
  backend: 'cuda',
  supports(p, devices) {
    const bytes = 4 * p.size * p.size * (p.dtype === 'f16' || p.dtype === 'bf16' ? 2 : 4);
    const mem = Math.min(...devices.map((d) => d.memoryBytes ?? Infinity));
    if (bytes > mem * 0.9) return `four ${p.size}x${p.size} ${p.dtype} matrices do not fit in the GPU's ${mem} bytes`;
    return undefined;
  },
  async setup(p, data): Promise<PreparedCase> {
    const s = await cudaStack();
    if (!s.ok) throw new Error(s.reason);
    const { stack } = s;
    if (!stack.cublasLt.ok) throw new Error(`burn needs cuBLASLt: ${stack.cublasLt.reason}`);
    const ordinals = burnDevices(stack);
    if (ordinals.length === 0) throw new Error(`GPUBENCH_CUDA_DEVICES=${process.env.GPUBENCH_CUDA_DEVICES} names no GPU of this host`);
    const devs = ordinals.map((i) => stack.devices.find((d) => d.index === i)!);
    const before = devs.map((d) => health(stack, d.uuid));
    const burn = native(() => new stack.addon.Burn({ devices: ordinals, size: p.size, dtype: p.dtype, workspaceBytes: 32 * 2 ** 20 }));
    try {
      native(() => burn.upload(data.a, data.b));
    } catch (err) {
      burn.dispose();
      throw err;
    }
    const samplers = devs.map((d) => openSampler(stack, d.uuid)).filter((x) => x !== undefined);
    const afterTiming = async (): Promise<AfterTiming> => {
      const status = native(() => burn.status());
      const gpus: BurnGpu[] = status.map((st, i) => {
        const after = health(stack, devs[i]!.uuid);
        const reasons: string[] = [];
        if (st.faultyElements > 0) reasons.push(`${st.faultyElements} faulty elements in ${st.gemms} GEMMs`);
        const eb = before[i]!.eccUncorrectedVolatile;
        const ea = after.eccUncorrectedVolatile;
        if (typeof eb === 'number' && typeof ea === 'number' && ea > eb) reasons.push(`volatile uncorrectable ECC errors ${eb} -> ${ea}`);
        return { device: `cuda:${st.device}`, verdict: reasons.length ? 'FAULTY' : 'OK', faultyElements: st.faultyElements, gemms: st.gemms, reasons, before: before[i], after };
      });
      const faulty = gpus.filter((g) => g.verdict === 'FAULTY');
      const total = gpus.reduce((a, g) => a + g.faultyElements, 0);
      const compared = gpus.reduce((a, g) => a + g.gemms, 0) * p.size * p.size;
      return {
        // Every GEMM bit for bit against the first: relative error 0 when nothing differed.
        check: { passed: faulty.length === 0, maxRelError: faulty.length === 0 ? 0 : null, tolerance: 0, wrong: total, checked: compared, seed: data.seed },
        reason: `FAULTY: ${faulty.map((g) => `${g.device} (${g.reasons.join('; ')})`).join(', ')}`,
        fields: { burn: { seconds: p.seconds, comparison: 'bitwise, every GEMM against the first', gpus } },
      };
    };
    return {
      device: devs.length === 1 ? devs[0]!.name : `${devs.length}x ${devs[0]!.name}`,
      timer: 'cuda-event',
      impl: { kernel: 'cublasLtMatmul + gb_compare (PTX)', config: { devices: ordinals.map((i) => `cuda:${i}`).join(','), algorithm: 'first heuristic, deterministic reduction' } },
      runChecked: async () => native(() => burn.runChecked(Int32Array.from(data.rows))),
      time: (n) => {
        for (const sam of samplers) sam.resume();
        return nativeAsync(() => burn.timeAsync(n)).finally(() => {
          for (const sam of samplers) sam.pause();
        });
      },
      telemetry: () => combineTelemetry(samplers.map((sam) => toTelemetry(sam.summary())).filter((t) => t !== undefined)),
      afterTiming,
      async dispose() {
        for (const sam of samplers) sam.close();
        burn.dispose();
      },
    };
  },
};
