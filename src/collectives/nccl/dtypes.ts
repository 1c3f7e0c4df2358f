/**
 * Which collective dtypes the `nccl` backend runs, and why not the others. NCCL has every
 * one of them (ncclInt8 … ncclUint64, ncclFloat64; ncclFloat8e4m3/e5m2 since NCCL 2.24),
 * but the addon's upload takes float32 values and converts them to f32, f16, bf16, f64 and
 * i32 only (and reads outputs back as float64 values), so the other dtypes are refused
 * here, before any GPU is touched, with the reason. fp8 names the NCCL version it needs
 * where the loaded one is older.
 */
import { ncclVersionString } from '../../kernels/cuda/nccl.js';
import type { CollectiveDtype } from '../dtypes.js';

/** Dtypes the addon's float32-value upload carries exactly (f64 inputs are float32 values: reference.ts). */
export const NCCL_UPLOAD_DTYPES: readonly CollectiveDtype[] = ['f32', 'f16', 'bf16', 'i32', 'f64'];

/** NCCL's version code of the first release with ncclFloat8e4m3 and ncclFloat8e5m2 (2.24.3). */
export const NCCL_FP8_MIN_VERSION = 22400;

/** The loaded NCCL's version code, as the probe found it (undefined before, or without NCCL). */
let loadedVersion: number | undefined;

/** Records the loaded NCCL's version code (the backend's probe calls this). */
export function setNcclVersion(code: number | undefined): void {
  loadedVersion = code;
}

/**
 * Why the `nccl` backend cannot run `dtype`, or undefined.
 * @param version NCCL's version code (default: the one the probe found)
 */
export function ncclDtypeSupport(dtype: CollectiveDtype, version: number | undefined = loadedVersion): string | undefined {
  if (NCCL_UPLOAD_DTYPES.includes(dtype)) return undefined;
  const upload = `the nccl path uploads inputs as float32 values converted to ${NCCL_UPLOAD_DTYPES.join(', ')} only; ${dtype} needs a bytes upload, not built yet (ws runs ${dtype})`;
  if (dtype === 'fp8e4m3' || dtype === 'fp8e5m2') {
    if (version !== undefined && version < NCCL_FP8_MIN_VERSION) return `${dtype} needs NCCL ≥ 2.24 (this is ${ncclVersionString(version)})`;
    return `${upload}; NCCL has fp8 since 2.24, on sm_90 and newer`;
  }
  return upload;
}
