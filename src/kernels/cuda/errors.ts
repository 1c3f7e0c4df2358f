/**
 * Errors from the native layer. The addon throws JS Errors carrying the library, the call,
 * the status code and the library's own name and string for it; this maps them onto one
 * typed error and adds what a person can do about the common ones.
 */

/** The libraries a native error can come from. */
export type NativeLibrary = 'cuda' | 'cublasLt' | 'nccl' | 'nvml' | 'gpubench';

/** A failed CUDA / cuBLASLt / NCCL / NVML call. */
export class CudaLibraryError extends Error {
  constructor(
    message: string,
    readonly library: NativeLibrary,
    readonly call: string,
    readonly code: number,
    readonly statusName: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message}; ${hint}` : message);
    this.name = 'CudaLibraryError';
  }
}

const HINTS: Record<string, string> = {
  CUDA_ERROR_NO_DEVICE: 'no GPU is visible to this process: check nvidia-smi and CUDA_VISIBLE_DEVICES',
  CUDA_ERROR_INSUFFICIENT_DRIVER: 'the NVIDIA driver is older than this CUDA library needs: update the driver',
  CUDA_ERROR_SYSTEM_DRIVER_MISMATCH: 'the kernel module and libcuda versions differ: reboot or reinstall the driver',
  CUDA_ERROR_OUT_OF_MEMORY: 'the case does not fit in GPU memory: choose smaller sizes or a smaller batch',
  CUDA_ERROR_NOT_INITIALIZED: 'cuInit was not called or failed earlier',
  CUDA_ERROR_OPERATING_SYSTEM: 'the driver could not talk to the kernel module: is /dev/nvidia* accessible?',
  CUBLAS_STATUS_NOT_SUPPORTED: 'cuBLASLt has no kernel for this dtype/shape on this GPU (fp8 needs compute capability 8.9+ and dimensions divisible by 16)',
  CUBLAS_STATUS_ARCH_MISMATCH: 'this GPU lacks the feature (e.g. fp8 before Ada/Hopper)',
  CUBLAS_STATUS_ALLOC_FAILED: 'cuBLASLt could not allocate: GPU memory is full',
  NVML_ERROR_9: 'NVML: the NVIDIA driver is not loaded',
  NVML_ERROR_3: 'NVML: this GPU does not report that reading',
  NVML_ERROR_4: 'NVML: no permission for that reading',
  ncclUnhandledCudaError: 'a CUDA call inside NCCL failed: run with NCCL_DEBUG=WARN for details',
  ncclSystemError: 'NCCL hit a system error (shared memory, sockets): run with NCCL_DEBUG=WARN',
};

/** What the addon attaches to the Errors it throws. */
interface NativeErrorFields {
  library?: unknown;
  call?: unknown;
  code?: unknown;
  statusName?: unknown;
}

/** Wraps anything thrown by the addon as a CudaLibraryError (other errors pass through unchanged). */
export function toLibraryError(err: unknown): Error {
  if (err instanceof CudaLibraryError) return err;
  if (!(err instanceof Error)) return new Error(String(err));
  const f = err as Error & NativeErrorFields;
  if (typeof f.library !== 'string' || typeof f.statusName !== 'string') return err;
  const library = f.library as NativeLibrary;
  return new CudaLibraryError(err.message, library, String(f.call ?? ''), typeof f.code === 'number' ? f.code : -1, f.statusName, HINTS[f.statusName]);
}

/** Awaits an asynchronous addon call, rethrowing its errors (thrown or rejected) as CudaLibraryError. */
export async function nativeAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toLibraryError(err);
  }
}

/** Calls into the addon, rethrowing its errors as CudaLibraryError. */
export function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toLibraryError(err);
  }
}
