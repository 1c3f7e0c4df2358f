/**
 * NCCL all-reduce through the addon: one process, one communicator per local GPU
 * (ncclCommInitAll; one GPU works too), dtypes and ops as the collectives workload names
 * them. The allreduce workload's kernel for the `nccl` backend wraps `prepareAllReduce`.
 */
import type { NativeAllReduce } from './addon.js';
import { cudaStack } from './context.js';
import { native, nativeAsync } from './errors.js';

/** Element types NCCL all-reduce runs here (contract names). */
export const NCCL_DTYPES = ['f32', 'f16', 'bf16', 'f64', 'i32'] as const;
export type NcclDtype = (typeof NCCL_DTYPES)[number];
/** Reduction ops (nccl.h ncclRedOp_t). */
export const NCCL_OPS = ['sum', 'prod', 'max', 'min', 'avg'] as const;
export type NcclOp = (typeof NCCL_OPS)[number];

/** Bytes per element of each dtype. */
export const NCCL_DTYPE_BYTES: Record<NcclDtype, number> = { f32: 4, f16: 2, bf16: 2, f64: 8, i32: 4 };

/** One all-reduce case. */
export interface AllReduceOptions {
  /** Elements per rank. */
  count: number;
  dtype: NcclDtype;
  op: NcclOp;
  inPlace: boolean;
  /** CUDA ordinals, one rank each; default: every local GPU. */
  devices?: number[];
}

/** A prepared all-reduce: upload each rank's input, run once for the check, time n runs. */
export interface PreparedAllReduce {
  ranks: number;
  devices: number[];
  upload(rank: number, data: Float32Array): void;
  runChecked(): Float64Array[];
  /** Milliseconds for n all-reduces on the slowest rank (CUDA events), on a worker thread. */
  time(iterations: number): Promise<number>;
  dispose(): void;
}

/** Why the options are invalid, or undefined (checked before touching a GPU). */
export function allReduceOptionsError(o: AllReduceOptions, gpuCount: number): string | undefined {
  if (!(NCCL_DTYPES as readonly string[]).includes(o.dtype)) return `nccl has no ${o.dtype} (it has ${NCCL_DTYPES.join(', ')})`;
  if (!(NCCL_OPS as readonly string[]).includes(o.op)) return `nccl has no op "${o.op}" (it has ${NCCL_OPS.join(', ')})`;
  if (!Number.isInteger(o.count) || o.count < 1) return 'count must be a positive integer';
  const devs = o.devices ?? [];
  if (devs.some((d) => !Number.isInteger(d) || d < 0 || d >= gpuCount)) return `devices must be CUDA ordinals below ${gpuCount}`;
  if (new Set(devs).size !== devs.length) return 'a device appears twice';
  return undefined;
}

/** Sets up an all-reduce over the local GPUs. Throws with the reason NCCL is unusable. */
export async function prepareAllReduce(o: AllReduceOptions): Promise<PreparedAllReduce> {
  const s = await cudaStack();
  if (!s.ok) throw new Error(s.reason);
  const { stack } = s;
  if (!stack.nccl.ok) throw new Error(stack.nccl.reason);
  const bad = allReduceOptionsError(o, stack.devices.length);
  if (bad) throw new Error(bad);
  const devices = o.devices ?? stack.devices.map((d) => d.index);
  const ar: NativeAllReduce = native(() => new stack.addon.NcclAllReduce({ devices, count: o.count, dtype: o.dtype, op: o.op, inPlace: o.inPlace }));
  return {
    ranks: devices.length,
    devices,
    upload: (rank, data) => native(() => ar.upload(rank, data)),
    runChecked: () => native(() => ar.runChecked()),
    time: (n) => nativeAsync(() => ar.timeAsync(n)),
    dispose: () => ar.dispose(),
  };
}

/** "2.27.3" from NCCL's version code (major·10000 + minor·100 + patch since 2.9). */
export function ncclVersionString(code: number): string {
  if (code >= 10000) return `${Math.floor(code / 10000)}.${Math.floor((code % 10000) / 100)}.${code % 100}`;
  return `${Math.floor(code / 1000)}.${Math.floor((code % 1000) / 100)}.${code % 100}`;
}
