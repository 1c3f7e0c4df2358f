/** The JS side of the CUDA backends: error mapping, telemetry, support checks, memcpy, NCCL options. */
import { describe, expect, it } from 'vitest';
import { CudaLibraryError, native, toLibraryError } from '../src/kernels/cuda/errors.js';
import { combineTelemetry, throttleNames, toTelemetry } from '../src/kernels/cuda/telemetry.js';
import { cudaMatmulSupport } from '../src/kernels/cuda/matmul.js';
import { allReduceOptionsError, ncclVersionString } from '../src/kernels/cuda/nccl.js';
import { cudaVersionString } from '../src/kernels/cuda/context.js';
import { memcpyWorkload } from '../src/kernels/memcpy/workload.js';
import type { DeviceInfo, Telemetry } from '../src/harness/results/schema.js';
import type { MatmulParams } from '../src/kernels/matmul/workload.js';

/** An Error shaped like the ones the addon throws. */
function nativeError(library: string, call: string, code: number, statusName: string, text: string): Error {
  return Object.assign(new Error(`${library} ${call} failed: ${statusName}: ${text} (code ${code})`), { library, call, code, statusName, statusMessage: text });
}

describe('status → error mapping', () => {
  it('keeps the library, call, code and status name, and adds a hint', () => {
    const e = toLibraryError(nativeError('cuda', 'cuMemAlloc(A)', 2, 'CUDA_ERROR_OUT_OF_MEMORY', 'out of memory'));
    expect(e).toBeInstanceOf(CudaLibraryError);
    const c = e as CudaLibraryError;
    expect([c.library, c.call, c.code, c.statusName]).toEqual(['cuda', 'cuMemAlloc(A)', 2, 'CUDA_ERROR_OUT_OF_MEMORY']);
    expect(c.message).toBe('cuda cuMemAlloc(A) failed: CUDA_ERROR_OUT_OF_MEMORY: out of memory (code 2); the case does not fit in GPU memory: choose smaller sizes or a smaller batch');
  });

  it('maps each library’s statuses', () => {
    const lt = toLibraryError(nativeError('cublasLt', 'cublasLtMatmul', 8, 'CUBLAS_STATUS_ARCH_MISMATCH', 'the function requires a feature absent from the device architecture')) as CudaLibraryError;
    expect(lt.hint).toMatch(/fp8 before Ada\/Hopper/);
    const nv = toLibraryError(nativeError('nvml', 'nvmlDeviceGetPowerUsage', 3, 'NVML_ERROR_3', 'Not Supported')) as CudaLibraryError;
    expect(nv.hint).toMatch(/does not report/);
    const nc = toLibraryError(nativeError('nccl', 'ncclAllReduce', 2, 'ncclSystemError', 'unhandled system error')) as CudaLibraryError;
    expect(nc.message).toMatch(/NCCL_DEBUG=WARN/);
    const unknown = toLibraryError(nativeError('cuda', 'cuInit', 999, 'CUDA_ERROR_UNKNOWN', 'unknown error')) as CudaLibraryError;
    expect(unknown.hint).toBeUndefined();
    expect(unknown.message).toBe('cuda cuInit failed: CUDA_ERROR_UNKNOWN: unknown error (code 999)');
  });

  it('passes other errors through and wraps non-errors', () => {
    const plain = new TypeError('bad');
    expect(toLibraryError(plain)).toBe(plain);
    expect(toLibraryError('text').message).toBe('text');
    expect(() => native(() => { throw nativeError('cuda', 'cuInit', 100, 'CUDA_ERROR_NO_DEVICE', 'no CUDA-capable device is detected'); })).toThrow(CudaLibraryError);
    expect(native(() => 42)).toBe(42);
  });
});

describe('telemetry', () => {
  it('names NVML throttle-reason bits', () => {
    expect(throttleNames(0)).toEqual([]);
    expect(throttleNames(0x4 | 0x40)).toEqual(['sw-power-cap', 'hw-thermal-slowdown']);
    expect(throttleNames(0x1000 | 0x1)).toEqual(['gpu-idle', 'other(0x1000)']);
  });

  it('turns a sampler summary into the results block, or nothing without samples', () => {
    expect(toTelemetry({ samples: 0, activeSeconds: 0, hz: 0 })).toBeUndefined();
    const t = toTelemetry({
      samples: 60, activeSeconds: 1.2, hz: 50, energyJ: 840, energySource: 'nvml-energy-counter', avgWatts: 700, maxWatts: 712,
      avgSmClockMHz: 1755, avgMemClockMHz: 2619, maxTemperatureC: 61, throttleMask: 0x4,
    });
    expect(t).toEqual({
      source: 'nvml', samples: 60, hz: 50, seconds: 1.2, avgWatts: 700, maxWatts: 712, energyJ: 840, energySource: 'nvml-energy-counter',
      avgSmClockMHz: 1755, avgMemClockMHz: 2619, maxTemperatureC: 61, throttleReasons: ['sw-power-cap'],
    });
  });
});

describe('what cuBLASLt runs here', () => {
  const h100: DeviceInfo = { backend: 'cuda', id: 'cuda:0', name: 'NVIDIA H100 80GB HBM3', memoryBytes: 80 * 2 ** 30, architecture: 'sm_90', features: ['f32', 'tf32', 'f16', 'bf16', 'fp8'] };
  const a100: DeviceInfo = { ...h100, name: 'NVIDIA A100', architecture: 'sm_80', features: ['f32', 'tf32', 'f16', 'bf16'] };
  const p = (o: Partial<MatmulParams>): MatmulParams => ({ m: 8192, n: 8192, k: 8192, batch: 1, dtype: 'bf16', kernel: 'auto', ...o });

  it('runs every dtype on Hopper, fp8 only from compute capability 8.9', () => {
    for (const dtype of ['f32', 'tf32', 'f16', 'bf16', 'fp8'] as const) expect(cudaMatmulSupport(p({ dtype }), h100)).toBeUndefined();
    expect(cudaMatmulSupport(p({ dtype: 'fp8' }), a100)).toMatch(/compute capability 8\.9.*sm_80/);
    expect(cudaMatmulSupport(p({ dtype: 'fp8', k: 8200 }), h100)).toMatch(/divisible by 16/);
  });

  it('refuses unknown kernels and problems that do not fit', () => {
    expect(cudaMatmulSupport(p({ kernel: 'tiled' }), h100)).toMatch(/no kernel "tiled".*auto, heuristic/);
    expect(cudaMatmulSupport(p({ m: 65536, n: 65536, k: 65536, batch: 4, dtype: 'f32' }), h100)).toMatch(/needs .* GiB of the GPU's 80\.0 GiB/);
    expect(cudaMatmulSupport(p({}), undefined)).toBe('no CUDA device');
  });
});

describe('the memcpy workload', () => {
  const params = { bytes: 4096 };
  const data = memcpyWorkload.makeData(params, 11);

  it('expands sizes (bytes), with --sizes overriding', () => {
    expect(memcpyWorkload.expand({ workload: 'memcpy', sizes: [1024, 4096] }, {})).toEqual([{ bytes: 1024 }, { bytes: 4096 }]);
    expect(memcpyWorkload.expand({ workload: 'memcpy', sizes: [1024] }, { sizes: [64] })).toEqual([{ bytes: 64 }]);
    expect(memcpyWorkload.caseId('cuda', params)).toBe('memcpy/cuda/4096B');
    expect(memcpyWorkload.entrySchema.safeParse({ workload: 'memcpy', sizes: [6] }).success).toBe(false);
  });

  it('passes an exact copy and fails one wrong element', () => {
    expect(memcpyWorkload.check(params, data, data.src.slice())).toMatchObject({ passed: true, wrong: 0, checked: 1024 });
    const bad = data.src.slice();
    bad[517] = bad[517]! + 1e-3;
    expect(memcpyWorkload.check(params, data, bad)).toMatchObject({ passed: false, wrong: 1 });
    expect(memcpyWorkload.check(params, data, new Float32Array(10))).toMatchObject({ passed: false, checked: 0 });
  });

  it('reports bytes copied / time as the headline (nvbandwidth\'s figure) and read+write traffic beside it', () => {
    // 1 GiB copied in 1 ms: 1073.74 GB/s copied, 2 GiB moved (read + write): 2147.48 GB/s.
    const m = memcpyWorkload.metrics({ bytes: 2 ** 30 }, 1, {});
    expect(m.bandwidthGBps).toBeCloseTo(1073.741824, 6);
    expect(m.readWriteGBps).toBeCloseTo(2147.483648, 6);
  });
});

describe('NCCL options and versions', () => {
  it('validates before touching a GPU', () => {
    const ok = { count: 1024, dtype: 'f32', op: 'sum', inPlace: false } as const;
    expect(allReduceOptionsError(ok, 1)).toBeUndefined();
    expect(allReduceOptionsError({ ...ok, dtype: 'fp8' as never }, 1)).toMatch(/no fp8/);
    expect(allReduceOptionsError({ ...ok, op: 'xor' as never }, 1)).toMatch(/no op "xor"/);
    expect(allReduceOptionsError({ ...ok, count: 0 }, 1)).toMatch(/count/);
    expect(allReduceOptionsError({ ...ok, devices: [0, 1] }, 1)).toMatch(/ordinals below 1/);
    expect(allReduceOptionsError({ ...ok, devices: [0, 0] }, 2)).toMatch(/twice/);
  });

  it('spells versions', () => {
    expect(ncclVersionString(22703)).toBe('2.27.3');
    expect(ncclVersionString(2804)).toBe('2.8.4');
    expect(cudaVersionString(13000)).toBe('13.0');
    expect(cudaVersionString(12080)).toBe('12.8');
  });
});

describe('telemetry of several GPUs in one case (NCCL ranks)', () => {
  const gpu = (w: number, extra: Partial<Telemetry> = {}): Telemetry => ({
    source: 'nvml', samples: 50, hz: 50, seconds: 1, avgWatts: w, maxWatts: w + 10, energyJ: w,
    energySource: 'nvml-energy-counter', avgSmClockMHz: 1980, avgMemClockMHz: 2619, maxTemperatureC: 60, throttleReasons: [], ...extra,
  });
  it('sums power and energy, averages clocks, keeps the hottest GPU and every throttle reason', () => {
    const t = combineTelemetry([gpu(400), gpu(500, { avgSmClockMHz: 1780, maxTemperatureC: 71, throttleReasons: ['sw-power-cap'], energySource: 'integrated-power', samples: 48 })])!;
    expect(t).toMatchObject({ avgWatts: 900, maxWatts: 920, energyJ: 900, avgSmClockMHz: 1880, maxTemperatureC: 71, throttleReasons: ['sw-power-cap'], energySource: 'integrated-power', samples: 48, gpus: 2 });
  });
  it('is the one GPU itself, or nothing', () => {
    expect(combineTelemetry([gpu(300)])).toEqual(gpu(300));
    expect(combineTelemetry([])).toBeUndefined();
  });
});
