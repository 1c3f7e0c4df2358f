/**
 * Fake CUDA libraries for the no-GPU tests: small C files compiled into shared objects with
 * the real sonames, exporting the entry points the addon resolves (read from the addon
 * itself, so they cannot drift). A fake driver has one "GPU" and answers every call with
 * success; FAKE_CUDA=nodevice makes cuInit fail with CUDA_ERROR_NO_DEVICE, FAKE_CUDA=zero
 * reports no devices. Fake NVML fails nvmlInit with "Driver Not Loaded"; fake NCCL reports
 * version 2.27.3 and fails ncclCommInitAll with ncclUnhandledCudaError.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LibraryId, NativeAddon } from '../../src/kernels/cuda/addon.js';

/** A C compiler, or undefined (the fake-library tests then skip, saying why). */
export const CC = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);

const SPECIAL: Record<string, string> = {
  cuInit: 'int cuInit(unsigned f) { const char* m = getenv("FAKE_CUDA"); return m && !strcmp(m, "nodevice") ? 100 : 0; }',
  cuDriverGetVersion: 'int cuDriverGetVersion(int* v) { *v = 13000; return 0; }',
  cuGetErrorString:
    'int cuGetErrorString(int e, const char** s) { *s = e == 100 ? "no CUDA-capable device is detected" : e == 2 ? "out of memory" : "fake error"; return 0; }',
  cuGetErrorName: 'int cuGetErrorName(int e, const char** s) { *s = e == 100 ? "CUDA_ERROR_NO_DEVICE" : e == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_UNKNOWN"; return 0; }',
  cuDeviceGetCount: 'int cuDeviceGetCount(int* n) { const char* m = getenv("FAKE_CUDA"); *n = m && !strcmp(m, "zero") ? 0 : 1; return 0; }',
  cuDeviceGet: 'int cuDeviceGet(int* d, int i) { *d = i; return 0; }',
  cuDeviceGetName: 'int cuDeviceGetName(char* n, int len, int d) { strncpy(n, "NVIDIA Fake H100 80GB HBM3", len); return 0; }',
  cuDeviceGetUuid_v2: 'int cuDeviceGetUuid_v2(unsigned char* u, int d) { for (int i = 0; i < 16; i++) u[i] = (unsigned char)(i * 17); return 0; }',
  cuDeviceTotalMem_v2: 'int cuDeviceTotalMem_v2(size_t* b, int d) { *b = (size_t)80 << 30; return 0; }',
  cuDeviceGetAttribute:
    'int cuDeviceGetAttribute(int* v, int a, int d) { *v = a == 16 ? 132 : a == 75 ? 9 : a == 76 ? 0 : a == 38 ? 52428800 : a == 33 ? 0x1b : 0; return 0; }',
  cuMemAlloc_v2: 'int cuMemAlloc_v2(unsigned long long* p, size_t n) { const char* m = getenv("FAKE_CUDA_OOM"); if (m) return 2; *p = 0x10000; return 0; }',
  cuStreamCreate: 'int cuStreamCreate(void** s, unsigned f) { *s = (void*)0x20; return 0; }',
  cuEventCreate: 'int cuEventCreate(void** e, unsigned f) { *e = (void*)0x30; return 0; }',
  cuDevicePrimaryCtxRetain: 'int cuDevicePrimaryCtxRetain(void** c, int d) { *c = (void*)0x40; return 0; }',
  cuEventElapsedTime_v2: 'int cuEventElapsedTime_v2(float* ms, void* a, void* b) { *ms = 1.0f; return 0; }',
  nvmlInit_v2: 'int nvmlInit_v2(void) { return 9; }',
  nvmlErrorString: 'const char* nvmlErrorString(int r) { return r == 9 ? "Driver Not Loaded" : "Unknown Error"; }',
  ncclGetVersion: 'int ncclGetVersion(int* v) { *v = 22703; return 0; }',
  ncclGetErrorString: 'const char* ncclGetErrorString(int r) { return r == 1 ? "unhandled cuda error (run with NCCL_DEBUG=INFO for details)" : "fake"; }',
  ncclGetLastError: 'const char* ncclGetLastError(void* c) { return ""; }',
  ncclCommInitAll: 'int ncclCommInitAll(void** comms, int n, const int* devs) { return 1; }',
};

const SONAME: Record<LibraryId, string> = {
  cuda: 'libcuda.so.1',
  cublasLt: 'libcublasLt.so.12',
  nccl: 'libnccl.so.2',
  nvml: 'libnvidia-ml.so.1',
};

/**
 * Builds fake libraries into a new folder and returns it.
 * @param drop required symbols to leave out, per library (the "too old / not CUDA" path)
 */
export function buildFakes(addon: NativeAddon, libs: LibraryId[], drop: Partial<Record<LibraryId, string[]>> = {}): string {
  if (!CC) throw new Error('no C compiler');
  const dir = mkdtempSync(join(tmpdir(), 'gpubench-fake-cuda-'));
  mkdirSync(dir, { recursive: true });
  for (const id of libs) {
    const lines = ['#include <stdlib.h>', '#include <string.h>', '#include <stddef.h>'];
    for (const s of addon.symbols(id)) {
      const name = s.names[0]!;
      if (drop[id]?.includes(name) || s.names.some((n) => drop[id]?.includes(n))) continue;
      lines.push(SPECIAL[name] ?? `int ${name}() { return 0; }`);
    }
    const src = join(dir, `${id}.c`);
    writeFileSync(src, `${lines.join('\n')}\n`);
    const r = spawnSync(CC, ['-shared', '-fPIC', '-w', '-o', join(dir, SONAME[id]), src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building fake ${id} failed: ${r.stderr}`);
  }
  return dir;
}
