/**
 * The CUDA stack of this process, opened once: the addon, libcuda (cuInit, devices), and
 * the optional libraries (cuBLASLt for matmul, NVML for telemetry, NCCL for all-reduce),
 * each either loaded or with the reason it is not.
 */
import type { DeviceInfo } from '../../harness/results/schema.js';
import { loadAddon, type NativeAddon, type NativeDevice } from './addon.js';
import { native } from './errors.js';
import { openLibrary, type LibraryStatus } from './libraries.js';
import { deviceTopology } from './topology.js';

/** An optional library: loaded with what it reports, or not with why. */
export type Optional<T> = ({ ok: true; path: string } & T) | { ok: false; reason: string };

/** Everything the `cuda` and `nccl` backends need to know about this machine. */
export interface CudaStack {
  addon: NativeAddon;
  libcuda: string;
  /** cuDriverGetVersion, e.g. 13000 for CUDA 13.0. */
  driverApi: number;
  devices: NativeDevice[];
  cublasLt: Optional<{ version: number }>;
  nvml: Optional<{ driver: string }>;
  nccl: Optional<{ version: number }>;
}

let stack: Promise<{ ok: true; stack: CudaStack } | { ok: false; reason: string }> | undefined;
let opened: CudaStack | undefined;

/** The stack if `cudaStack()` has already opened it (for synchronous `supports()` checks). */
export function openedStack(): CudaStack | undefined {
  return opened;
}

function optional<T>(status: LibraryStatus, facts: () => T): Optional<T> {
  if (!status.ok) return status;
  try {
    return { ok: true, path: status.path, ...facts() };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

async function open(): Promise<{ ok: true; stack: CudaStack } | { ok: false; reason: string }> {
  const a = loadAddon();
  if ('reason' in a) return { ok: false, reason: a.reason };
  const addon = a.addon;
  const cuda = openLibrary(addon, 'cuda');
  if (!cuda.ok) return { ok: false, reason: cuda.reason };
  let driverApi: number;
  let devices: NativeDevice[];
  try {
    driverApi = native(() => addon.cudaInit());
    devices = native(() => addon.devices());
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  if (devices.length === 0) return { ok: false, reason: 'the NVIDIA driver reports no CUDA devices: check nvidia-smi and CUDA_VISIBLE_DEVICES' };
  return {
    ok: true,
    stack: {
      addon,
      libcuda: cuda.path,
      driverApi,
      devices,
      cublasLt: optional(openLibrary(addon, 'cublasLt'), () => ({ version: native(() => addon.cublasLtVersion()) })),
      nvml: optional(openLibrary(addon, 'nvml'), () => ({ driver: native(() => addon.nvmlInit()) })),
      nccl: optional(openLibrary(addon, 'nccl'), () => ({ version: native(() => addon.ncclVersion()) })),
    },
  };
}

/** The process's CUDA stack, opened on first use. Never rejects. */
export function cudaStack(): Promise<{ ok: true; stack: CudaStack } | { ok: false; reason: string }> {
  stack ??= open().then((r) => {
    if (r.ok) opened = r.stack;
    return r;
  });
  return stack;
}

/** "13.0" from 13000. */
export function cudaVersionString(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

/** A device as results and `gpubench list` describe it. */
export function deviceInfo(s: CudaStack, d: NativeDevice, backend: string): DeviceInfo {
  const info: DeviceInfo = {
    backend,
    id: `cuda:${d.index}`,
    name: d.name,
    vendor: 'NVIDIA',
    driver: `${s.nvml.ok ? `${s.nvml.driver}, ` : ''}CUDA ${cudaVersionString(s.driverApi)}`,
    memoryBytes: d.memoryBytes,
    architecture: `sm_${d.ccMajor}${d.ccMinor}`,
    features: [
      'f32', 'tf32', 'f16', 'bf16',
      ...(d.ccMajor * 10 + d.ccMinor >= 89 ? ['fp8'] : []),
    ],
    limits: {
      smCount: d.smCount,
      computeCapability: d.ccMajor + d.ccMinor / 10,
      l2Bytes: d.l2Bytes,
      clockMHz: d.clockKHz / 1000,
      memoryClockMHz: d.memoryClockKHz / 1000,
      memoryBusWidthBits: d.memoryBusWidth,
    },
    uuid: d.uuid,
    pciBusId: d.pciBusId,
  };
  const topo = deviceTopology(s, d.index);
  if (topo) info.topology = topo;
  if (s.nvml.ok) {
    try {
      const n = s.addon.nvmlDevice(d.uuid);
      if (n.powerLimitW !== undefined) info.limits!.powerLimitW = n.powerLimitW;
    } catch {
      // A GPU NVML cannot see (e.g. MIG) just has no power limit listed.
    }
  }
  return info;
}

/** Which device cases run on: GPUBENCH_CUDA_DEVICE (an ordinal), else 0. */
export function caseDevice(s: CudaStack): NativeDevice {
  const want = Number(process.env.GPUBENCH_CUDA_DEVICE ?? 0);
  return s.devices.find((d) => d.index === want) ?? s.devices[0]!;
}
