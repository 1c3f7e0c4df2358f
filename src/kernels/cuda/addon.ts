/**
 * Loads the native addon (`native/build/Release/gpubench_native.node`) and types its
 * exports. A missing build is not an error here: it becomes the `cuda` backend's reason.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../harness/version.js';

/** What `load()` found for one library. */
export interface NativeLoadResult {
  ok: boolean;
  /** The file loaded (resolved through the dynamic loader's search for a bare name). */
  path?: string;
  /** "candidate: why" for each candidate that failed. */
  attempts: string[];
  /** Required symbols absent from the first library that opened. */
  missing: string[];
}

/** Facts the CUDA driver gives about one device. */
export interface NativeDevice {
  index: number;
  name: string;
  uuid: string;
  memoryBytes: number;
  smCount: number;
  ccMajor: number;
  ccMinor: number;
  clockKHz: number;
  memoryClockKHz: number;
  memoryBusWidth: number;
  l2Bytes: number;
  pciBusId: string;
}

/** One cuBLASLt heuristic candidate as timed by `Gemm.tune()`. */
export interface GemmCandidate {
  index: number;
  algoId: number;
  tile: number;
  stages: number;
  splitK: number;
  reduction: number;
  swizzle: number;
  customOption: number;
  cluster: number;
  workspaceBytes: number;
  waves: number;
  /** Mean milliseconds per GEMM; absent when the candidate could not run. */
  ms?: number;
  error?: string;
}

export interface NativeGemm {
  upload(a: Float32Array, b: Float32Array): void;
  tune(requested: number, reps: number): { chosen: number; candidates: GemmCandidate[] };
  runChecked(): Float32Array;
  /** Milliseconds for `iterations` runs between CUDA events (blocks the event loop). */
  time(iterations: number): number;
  /** The same on a worker thread, so the event loop keeps running. */
  timeAsync(iterations: number): Promise<number>;
  dispose(): void;
}

export interface NativeCopy {
  upload(src: Float32Array): void;
  runChecked(): Float32Array;
  /** Milliseconds for `iterations` runs between CUDA events (blocks the event loop). */
  time(iterations: number): number;
  /** The same on a worker thread, so the event loop keeps running. */
  timeAsync(iterations: number): Promise<number>;
  dispose(): void;
}

/** NVML readings over the resumed windows of a sampler. */
export interface NativeTelemetry {
  samples: number;
  activeSeconds: number;
  hz: number;
  energyJ?: number;
  energySource?: 'nvml-energy-counter' | 'integrated-power';
  avgWatts?: number;
  maxWatts?: number;
  avgSmClockMHz?: number;
  avgMemClockMHz?: number;
  maxTemperatureC?: number;
  throttleMask?: number;
}

export interface NativeSampler {
  resume(): void;
  pause(): void;
  summary(): NativeTelemetry;
  close(): void;
}

export interface NativeAllReduce {
  upload(rank: number, data: Float32Array): void;
  /** Each rank's output after one all-reduce, as float64. */
  runChecked(): Float64Array[];
  /** Milliseconds for `iterations` all-reduces on the slowest rank. */
  time(iterations: number): number;
  /** The same on a worker thread. */
  timeAsync(iterations: number): Promise<number>;
  dispose(): void;
}

/**
 * One rank of an NCCL communicator across processes, one GPU per process
 * (native/src/nccl_comm.cc). Calls that can wait on other ranks run on a thread of their
 * own: `connect`, `startChecked` and `startTime` start them (as does the constructor, which
 * brings the device up), and `poll()` gives undefined while one runs, then its outcome
 * once (or throws its error).
 */
export interface NativeNcclComm {
  /** ncclCommInitRank with rank 0's ncclGetUniqueId bytes; poll() gives true when done. */
  connect(uniqueId: Uint8Array): void;
  /** Buffers for one collective; `count` is S in elements as the collective workloads define it. */
  /** `read`: the buffer the checked call reads back (the output, or the input where the rank has none). */
  setup(o: { kind: string; count: number; dtype: string; op: string; root?: number; inPlace: boolean; read: 'output' | 'input' }): void;
  /**
   * Copies this rank's buffers in as the host made them (`allocateBuffers` + `prepareRank`):
   * the input's bytes in the case's dtype, the output's with its poison.
   */
  upload(input: Uint8Array, output: Uint8Array): void;
  /** One call; poll() gives the bytes of the buffer `setup`'s `read` names. */
  startChecked(): void;
  /** n calls between CUDA events; poll() gives milliseconds. */
  startTime(iterations: number): void;
  poll(): undefined | true | number | Uint8Array;
  /** ncclCommAbort (also ends a call in progress); returns NCCL's last error text. */
  abort(): string;
  dispose(): void;
}

/** A timed copy whose destination can be read back after the timed runs (accept.cc). */
export interface NativeTimedCopy {
  upload(src: Uint8Array): void;
  /** Poisons the destination(s) (NaN words), copies once, returns what arrived. */
  runChecked(): Uint8Array;
  /** The destination(s) as the timed copies left them. */
  readBack(): Uint8Array;
  time(iterations: number): number;
  timeAsync(iterations: number): Promise<number>;
  dispose(): void;
}

/** Empty-kernel launches (accept.cc). */
export interface NativeLaunch {
  /** One launch that stores `value` in a device word: what the word holds after it. */
  runChecked(value: number): number;
  /** n back-to-back launches between CUDA events, ms. */
  timeAsync(iterations: number): Promise<number>;
  /** Host time of n launch calls (the queue drains outside the clock), ms. */
  timeHostAsync(iterations: number): Promise<number>;
  /** Host time of n × (launch, then wait for it), ms. */
  timeRoundTripAsync(iterations: number): Promise<number>;
  dispose(): void;
}

/** One GPU's state in a burn. */
export interface NativeBurnStatus {
  device: number;
  faultyElements: number;
  gemms: number;
  lastMs: number;
}

/** gpu-burn's loop on every GPU of a set at once (accept.cc). */
export interface NativeBurn {
  upload(a: Float32Array, b: Float32Array): void;
  /** The reference GEMM on every GPU (fault counters zeroed); the given rows of each, GPU after GPU. */
  runChecked(rows: Int32Array): Float32Array;
  /** n × (GEMM, compare with the reference) on every GPU; the slowest GPU's ms. */
  timeAsync(iterations: number): Promise<number>;
  status(): NativeBurnStatus[];
  dispose(): void;
}

/** NVML health counters (nvml_health.cc); absent fields are named in `unsupported`. */
export interface NativeNvmlHealth {
  temperatureC?: number;
  smClockMHz?: number;
  memClockMHz?: number;
  powerW?: number;
  throttleMask?: number;
  eccEnabled?: boolean;
  eccCorrectedVolatile?: number;
  eccUncorrectedVolatile?: number;
  eccCorrectedAggregate?: number;
  eccUncorrectedAggregate?: number;
  retiredPagesSingleBit?: number;
  retiredPagesDoubleBit?: number;
  retiredPagesPending?: boolean;
  remappedRowsCorrectable?: number;
  remappedRowsUncorrectable?: number;
  remappedRowsPending?: boolean;
  remappedRowsFailure?: boolean;
  unsupported: string[];
}

/** A group call over several ranks in flight (see `NativeAddon.ncclGroupConnect`). */
export interface NativeGroupCall<T> {
  poll(): T | undefined;
}

/** NVML's topology of one GPU (native/src/topology.cc); a fact the driver cannot give is absent. */
export interface NativeNvmlTopology {
  pcie: { maxGen?: number; currentGen?: number; maxWidth?: number; currentWidth?: number };
  /** cpulist of nvmlDeviceGetCpuAffinity ("0-15,32-47"). */
  cpuAffinity?: string;
  /** Every link index the GPU answers for (absent without nvmlDeviceGetNvLinkState). */
  nvlinks?: { link: number; active: boolean; version?: number; remotePciBusId?: string }[];
  /** nvmlDeviceGetTopologyCommonAncestor with the other GPUs passed (index into the uuids). */
  peers?: { index: number; level: string }[];
}

/** The addon's exports (native/src/addon.cc). */
export interface NativeAddon {
  abi: number;
  load(id: LibraryId, candidates: string[]): NativeLoadResult;
  /** The entry points resolved for a library: names tried (newest first) and whether optional. */
  symbols(id: LibraryId): { names: string[]; optional: boolean }[];
  cudaInit(): number;
  devices(): NativeDevice[];
  cublasLtVersion(): number;
  ncclVersion(): number;
  nvmlInit(): string;
  nvmlDevice(uuid: string): { name: string; powerLimitW?: number };
  /** NVLinks, PCIe link, CPU affinity and pairwise common ancestors of these GPUs, in order. */
  nvmlTopology(uuids: string[]): NativeNvmlTopology[];
  roundTrip(kind: 'f16' | 'bf16' | 'fp8', values: Float32Array): Float32Array;
  Gemm: new (o: { device: number; m: number; n: number; k: number; batch: number; dtype: string; workspaceBytes: number }) => NativeGemm;
  Copy: new (o: { device: number; bytes: number }) => NativeCopy;
  Sampler: new (uuid: string, hz: number) => NativeSampler;
  NcclAllReduce: new (o: { devices: number[]; count: number; dtype: string; op: string; inPlace: boolean }) => NativeAllReduce;
  NcclComm: new (o: { device: number; nranks: number; rank: number }) => NativeNcclComm;
  /** ncclGetUniqueId: the 128 bytes every rank of a new communicator needs. */
  ncclUniqueId(): Uint8Array;
  /**
   * Several ranks of this process driven by one thread (`--gpus-per-process`), each call one
   * ncclGroupStart/ncclGroupEnd over them (native/src/nccl_comm.cc). Each returns a handle
   * whose poll() gives undefined while the call runs, then its outcome once (or throws):
   * true for connect, each rank's output bytes for checked, each rank's milliseconds for time.
   */
  ncclGroupConnect(comms: NativeNcclComm[], uniqueId: Uint8Array): NativeGroupCall<true>;
  ncclGroupChecked(comms: NativeNcclComm[]): NativeGroupCall<Uint8Array[]>;
  ncclGroupTime(comms: NativeNcclComm[], iterations: number): NativeGroupCall<number[]>;
  /**
   * dst = dst ⊕ src (or a ⊕ src when `a` is given) element-wise on the host, bit for bit as
   * src/collectives/ops.ts (native/src/reduce.cc).
   */
  HostCopy: new (o: { device: number; bytes: number; direction: 'h2d' | 'd2h'; engine: 'ce' | 'sm'; bidirectional: boolean }) => NativeTimedCopy;
  PeerCopy: new (o: { src: number; dst: number; bytes: number; initiator: 'src' | 'dst' }) => NativeTimedCopy;
  Launch: new (o: { device: number }) => NativeLaunch;
  Burn: new (o: { devices: number[]; size: number; dtype: string; workspaceBytes: number }) => NativeBurn;
  canAccessPeer(a: number, b: number): boolean;
  nvmlHealth(uuid: string): NativeNvmlHealth;
  reduce(dtype: 'f32' | 'f16' | 'bf16' | 'i32', op: 'sum' | 'prod' | 'min' | 'max' | 'avg', dst: ArrayBufferView, src: ArrayBufferView, a?: ArrayBufferView): void;
}

export type LibraryId = 'cuda' | 'cublasLt' | 'nccl' | 'nvml';

/** Where the build puts the addon, and the marker the install script leaves when it could not build. */
export const ADDON_PATH = join(PACKAGE_ROOT, 'native', 'build', 'Release', 'gpubench_native.node');
const BUILD_ERROR = join(PACKAGE_ROOT, 'native', 'build', 'gpubench-build-error.txt');

/**
 * How to (re)build the addon: `npm run build:native` only exists in a checkout of gpubench;
 * where gpubench is a dependency, npm reruns its install script.
 */
export const REBUILD_HINT = '`npm rebuild gpubench`, or `npm run build:native` in a checkout of gpubench';

let cached: { addon: NativeAddon } | { reason: string } | undefined;

/** The addon, or why it is not there ("native addon not built: …"). Never throws. */
export function loadAddon(path = process.env.GPUBENCH_NATIVE_ADDON ?? ADDON_PATH): { addon: NativeAddon } | { reason: string } {
  if (cached && path === (process.env.GPUBENCH_NATIVE_ADDON ?? ADDON_PATH)) return cached;
  let result: { addon: NativeAddon } | { reason: string };
  if (!existsSync(path)) {
    // No marker: the install script never ran (npm --ignore-scripts, or npm 11 waiting for
    // dependency install scripts to be approved: `npm install-scripts approve gpubench`).
    const why = existsSync(BUILD_ERROR) ? readFileSync(BUILD_ERROR, 'utf8').trim() : `${path} is missing (the install script did not run)`;
    result = { reason: `native addon not built: ${why} (build it with ${REBUILD_HINT}; needs g++, make, python3)` };
  } else {
    try {
      const addon = createRequire(import.meta.url)(path) as NativeAddon;
      result = addon.abi === 1 ? { addon } : { reason: `native addon at ${path} is from another gpubench version: run ${REBUILD_HINT}` };
    } catch (err) {
      result = { reason: `native addon failed to load: ${err instanceof Error ? err.message : String(err)} (rebuild with ${REBUILD_HINT})` };
    }
  }
  cached = result;
  return result;
}
