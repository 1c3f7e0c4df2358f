/**
 * Which collective dtypes the `nccl` backend runs, and why not the others.
 *
 * Across processes (one rank per worker, `NcclComm`) the addon moves bytes: each rank's
 * buffers are made on the host exactly as `ws` makes them and uploaded as they are, so
 * every NCCL type runs: ncclInt8 … ncclUint64, ncclFloat16/32/64, ncclBfloat16, and
 * ncclFloat8e4m3/e5m2 since NCCL 2.24 (the reason names the loaded version where it is
 * older). NCCL reduces fp8 only on sm_90 and newer (`taskAppend` in NCCL's enqueue.cc
 * refuses any other fp8 collective with "FP8 reduction support begins with sm90 capable
 * devices"; its data moves run anywhere), so fp8 reductions name the GPU where it is older.
 *
 * In one process (`NcclAllReduce`, ncclCommInitAll over the local GPUs) the addon still
 * takes float32 values and converts them to f32, f16, bf16, f64 and i32 only.
 */
import type { DeviceInfo } from '../../harness/results/schema.js';
import { ncclVersionString } from '../../kernels/cuda/nccl.js';
import { collectiveModule, type CollectiveKind } from '../collective.js';
import { isFp8Dtype, type CollectiveDtype } from '../dtypes.js';

/** Dtypes the one-process all-reduce's float32-value upload carries exactly (f64 inputs are float32 values: reference.ts). */
export const NCCL_UPLOAD_DTYPES: readonly CollectiveDtype[] = ['f32', 'f16', 'bf16', 'i32', 'f64'];

/** NCCL's version code of the first release with ncclFloat8e4m3 and ncclFloat8e5m2 (2.24.3). */
export const NCCL_FP8_MIN_VERSION = 22400;

/** The compute capability NCCL's fp8 reductions need (sm_90). */
export const NCCL_FP8_MIN_CC = 9.0;

/** The loaded NCCL's version code, as the probe found it (undefined before, or without NCCL). */
let loadedVersion: number | undefined;

/** Records the loaded NCCL's version code (the backend's probe calls this). */
export function setNcclVersion(code: number | undefined): void {
  loadedVersion = code;
}

/**
 * Why the `nccl` backend cannot run `dtype` across processes, or undefined: only fp8 on
 * an NCCL older than 2.24.
 * @param version NCCL's version code (default: the one the probe found)
 */
export function ncclDtypeSupport(dtype: CollectiveDtype, version: number | undefined = loadedVersion): string | undefined {
  if (isFp8Dtype(dtype) && version !== undefined && version < NCCL_FP8_MIN_VERSION) return `${dtype} needs NCCL ≥ 2.24 (this is ${ncclVersionString(version)})`;
  return undefined;
}

/** A device's compute capability: `limits.computeCapability`, else its `architecture` (`sm_90` → 9.0), else undefined. */
export function computeCapabilityOf(d: Partial<Pick<DeviceInfo, 'limits' | 'architecture'>>): number | undefined {
  if (d.limits?.computeCapability !== undefined) return d.limits.computeCapability;
  const m = /^sm_(\d+)(\d)$/.exec(d.architecture ?? '');
  return m ? Number(m[1]) + Number(m[2]) / 10 : undefined;
}

/**
 * Why an fp8 case cannot run on `devices`, or undefined: NCCL reduces fp8 on sm_90 and newer
 * only (data moves run on any GPU). Devices of unknown compute capability pass (NCCL's own
 * error then names the problem).
 */
export function ncclFp8DeviceSupport(
  p: { kind: CollectiveKind; dtype: CollectiveDtype },
  devices: readonly Partial<Pick<DeviceInfo, 'name' | 'limits' | 'architecture'>>[],
): string | undefined {
  if (!isFp8Dtype(p.dtype) || !collectiveModule(p.kind).reduces) return undefined;
  const old = devices.find((d) => (computeCapabilityOf(d) ?? Infinity) < NCCL_FP8_MIN_CC);
  if (!old) return undefined;
  return `NCCL reduces ${p.dtype} on compute capability ≥ 9.0 (sm_90) only; ${old.name ?? 'this GPU'} is ${computeCapabilityOf(old)!.toFixed(1)}`;
}

/** Why the one-process all-reduce (float32-value upload) cannot run `dtype`, or undefined. */
export function ncclOneProcessDtypeSupport(dtype: CollectiveDtype): string | undefined {
  if (NCCL_UPLOAD_DTYPES.includes(dtype)) return undefined;
  return `nccl in one process uploads float32 values converted to ${NCCL_UPLOAD_DTYPES.join(', ')} only; ${dtype} runs on nccl across processes (--local-nodes N, or coordinator and workers) and on ws`;
}
