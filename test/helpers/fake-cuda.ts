/**
 * Fake CUDA libraries for the no-GPU tests: small C files compiled into shared objects with
 * the real sonames, exporting the entry points the addon resolves (read from the addon
 * itself, so they cannot drift). A fake driver has one "GPU" and answers every call with
 * success; FAKE_CUDA=nodevice makes cuInit fail with CUDA_ERROR_NO_DEVICE, FAKE_CUDA=zero
 * reports no devices, FAKE_CUDA_DEVICES=n reports n (each its own UUID, PCI bus and NVML
 * handle). Fake NVML fails nvmlInit with "Driver Not Loaded" unless FAKE_NVML is set (then a
 * 350 W board with fake topology: see the NVML entries below); fake NCCL reports version
 * 2.27.3 (FAKE_NCCL_VERSION=code: another) and fails ncclCommInitAll with ncclUnhandledCudaError
 * unless FAKE_NCCL is set; FAKE_NCCL=multi is NCCL across processes, one rank each
 * (fake-nccl-multi.c: ncclGetUniqueId, ncclCommInitRank, the collectives on host memory,
 * and ncclGroupStart/End deferring the calls between them as NCCL does).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LibraryId, NativeAddon } from '../../src/kernels/cuda/addon.js';

/** The multi-process fake NCCL (FAKE_NCCL=multi), compiled into the fake libnccl. */
const MULTI_NCCL = join(dirname(fileURLToPath(import.meta.url)), 'fake-nccl-multi.c');

/** A C compiler, or undefined (the fake-library tests then skip, saying why). */
export const CC = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);

const SPECIAL: Record<string, string> = {
  cuInit: 'int cuInit(unsigned f) { const char* m = getenv("FAKE_CUDA"); return m && !strcmp(m, "nodevice") ? 100 : 0; }',
  cuDriverGetVersion: 'int cuDriverGetVersion(int* v) { *v = 13000; return 0; }',
  cuGetErrorString:
    'int cuGetErrorString(int e, const char** s) { *s = e == 100 ? "no CUDA-capable device is detected" : e == 2 ? "out of memory" : e == 700 ? "an illegal memory access was encountered" : "fake error"; return 0; }',
  cuGetErrorName: 'int cuGetErrorName(int e, const char** s) { *s = e == 100 ? "CUDA_ERROR_NO_DEVICE" : e == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : e == 700 ? "CUDA_ERROR_ILLEGAL_ADDRESS" : "CUDA_ERROR_UNKNOWN"; return 0; }',
  // FAKE_CUDA_DEVICES=n: n fake GPUs (one per rank of a multi-process NCCL run).
  cuDeviceGetCount:
    'int cuDeviceGetCount(int* n) { const char* m = getenv("FAKE_CUDA"); const char* d = getenv("FAKE_CUDA_DEVICES"); *n = m && !strcmp(m, "zero") ? 0 : d ? atoi(d) : 1; return 0; }',
  cuDeviceGet: 'int cuDeviceGet(int* d, int i) { *d = i; return 0; }',
  cuDeviceGetName: 'int cuDeviceGetName(char* n, int len, int d) { strncpy(n, "NVIDIA Fake H100 80GB HBM3", len); return 0; }',
  // Device d's UUID differs from device 0's in byte 14 (…-aabbccdd(ee+d)ff), its PCI bus is 0x1b + d.
  cuDeviceGetUuid_v2: 'int cuDeviceGetUuid_v2(unsigned char* u, int d) { for (int i = 0; i < 16; i++) u[i] = (unsigned char)(i * 17); u[14] = (unsigned char)(238 + d); return 0; }',
  cuDeviceTotalMem_v2: 'int cuDeviceTotalMem_v2(size_t* b, int d) { *b = (size_t)80 << 30; return 0; }',
  cuDeviceGetAttribute:
    'int cuDeviceGetAttribute(int* v, int a, int d) { *v = a == 16 ? 132 : a == 75 ? 9 : a == 76 ? 0 : a == 38 ? 52428800 : a == 33 ? 0x1b + d : 0; return 0; }',
  // FAKE_CUDA=host: "device" memory is host memory and the copies and memsets really happen,
  // so a whole case (upload, poison, copy, check, timing) runs; otherwise they do nothing.
  cuMemAlloc_v2: 'int cuMemAlloc_v2(unsigned long long* p, size_t n) { if (getenv("FAKE_CUDA_OOM")) return 2; *p = (unsigned long long)(host() ? malloc(n) : (void*)0x10000); return 0; }',
  cuMemFree_v2: 'int cuMemFree_v2(unsigned long long p) { if (host()) free((void*)p); return 0; }',
  cuMemcpyHtoD_v2: 'int cuMemcpyHtoD_v2(unsigned long long d, const void* s, size_t n) { if (host()) memcpy((void*)d, s, n); return 0; }',
  cuMemcpyDtoH_v2: 'int cuMemcpyDtoH_v2(void* d, unsigned long long s, size_t n) { if (host()) memcpy(d, (void*)s, n); return 0; }',
  cuMemcpyDtoDAsync_v2: 'int cuMemcpyDtoDAsync_v2(unsigned long long d, unsigned long long s, size_t n, void* st) { if (host()) memcpy((void*)d, (void*)s, n); return 0; }',
  cuMemsetD32_v2: 'int cuMemsetD32_v2(unsigned long long d, unsigned v, size_t n) { if (host()) for (size_t i = 0; i < n; i++) ((unsigned*)d)[i] = v; return 0; }',
  cuMemsetD16_v2: 'int cuMemsetD16_v2(unsigned long long d, unsigned short v, size_t n) { if (host()) for (size_t i = 0; i < n; i++) ((unsigned short*)d)[i] = v; return 0; }',
  // A timed region lasts 5 ms of wall time and reports 1 ms: long enough for NVML samples.
  cuEventSynchronize: 'int cuEventSynchronize(void* e) { struct timespec t = {0, 5000000}; nanosleep(&t, 0); return 0; }',
  cuStreamCreate: 'int cuStreamCreate(void** s, unsigned f) { *s = (void*)0x20; return 0; }',
  cuEventCreate: 'int cuEventCreate(void** e, unsigned f) { *e = (void*)0x30; return 0; }',
  // FAKE_CUDA_HANG_DEVICE=d: that GPU never comes up (its context blocks, up to ten minutes).
  cuDevicePrimaryCtxRetain:
    'int cuDevicePrimaryCtxRetain(void** c, int d) { const char* h = getenv("FAKE_CUDA_HANG_DEVICE"); if (h && *h && atoi(h) == d) for (int i = 0; i < 600; i++) { struct timespec t = {1, 0}; nanosleep(&t, 0); } *c = (void*)0x40; return 0; }',
  // FAKE_CUDA_EVENT_MS=x: every timed region "takes" x ms (a slower GPU); 1 ms otherwise.
  cuEventElapsedTime_v2: 'int cuEventElapsedTime_v2(float* ms, void* a, void* b) { if (getenv("FAKE_CUDA_FAULT")) return 700; *ms = getenv("FAKE_CUDA_EVENT_MS") ? (float)atof(getenv("FAKE_CUDA_EVENT_MS")) : 1.0f; return 0; }',
  // Node acceptance. Pinned host memory is always real memory (the addon writes it); the
  // async and peer copies copy under FAKE_CUDA=host. FAKE_CUDA_CORRUPT_AFTER=n: every copy
  // after the nth (any kind) flips one byte of its destination, so a case whose checked run
  // passed is caught by the check after its timed runs.
  cuMemHostAlloc: 'int cuMemHostAlloc(void** p, size_t n, unsigned f) { *p = malloc(n); return *p ? 0 : 2; }',
  cuMemFreeHost: 'int cuMemFreeHost(void* p) { free(p); return 0; }',
  cuMemHostGetDevicePointer_v2: 'int cuMemHostGetDevicePointer_v2(unsigned long long* d, void* p, unsigned f) { *d = (unsigned long long)p; return 0; }',
  cuMemcpyHtoDAsync_v2: 'int cuMemcpyHtoDAsync_v2(unsigned long long d, const void* s, size_t n, void* st) { fake_copy((void*)d, s, n); return 0; }',
  cuMemcpyDtoHAsync_v2: 'int cuMemcpyDtoHAsync_v2(void* d, unsigned long long s, size_t n, void* st) { fake_copy(d, (void*)s, n); return 0; }',
  cuMemcpyPeerAsync: 'int cuMemcpyPeerAsync(unsigned long long d, void* dc, unsigned long long s, void* sc, size_t n, void* st) { fake_copy((void*)d, (void*)s, n); return 0; }',
  // FAKE_CUDA_NOPEER=1: no GPU can reach another as a peer.
  cuDeviceCanAccessPeer: 'int cuDeviceCanAccessPeer(int* can, int a, int b) { *can = getenv("FAKE_CUDA_NOPEER") ? 0 : a != b; return 0; }',
  // The module must be the addon's PTX (its entries are looked up by name); FAKE_CUDA=host
  // runs each kernel as the PTX says it behaves.
  cuModuleLoadData: 'int cuModuleLoadData(void** m, const void* image) { if (!strstr((const char*)image, ".visible .entry gb_")) return 218; *m = (void*)image; return 0; }',
  cuModuleGetFunction:
    'int cuModuleGetFunction(void** f, void* m, const char* name) { char want[96]; snprintf(want, sizeof want, ".entry %s(", name); if (!strstr((const char*)m, want)) return 500; *f = strdup(name); return 0; }',
  cuLaunchKernel:
    'int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned sh, void* st, void** p, void** extra) { return host() ? fake_kernel((const char*)f, p) : 0; }',
  // FAKE_NVML=ok: a board drawing 350 W at 1980 MHz, its energy counter following wall time.
  nvmlInit_v2: 'int nvmlInit_v2(void) { return getenv("FAKE_NVML") ? 0 : 9; }',
  nvmlSystemGetDriverVersion: 'int nvmlSystemGetDriverVersion(char* v, unsigned n) { strncpy(v, "580.00.fake", n); return 0; }',
  // One handle per fake GPU: 0x50 + d, d read back from the UUID's byte 14 (see cuDeviceGetUuid_v2).
  nvmlDeviceGetHandleByUUID:
    'int nvmlDeviceGetHandleByUUID(const char* u, void** d) { int b = strlen(u) >= 38 ? (int)strtol((char[]){u[36], u[37], 0}, 0, 16) - 238 : 0; *d = (void*)(size_t)(0x50 + (b < 0 ? 0 : b)); return 0; }',
  nvmlDeviceGetName: 'int nvmlDeviceGetName(void* d, char* v, unsigned n) { strncpy(v, "NVIDIA Fake H100 80GB HBM3", n); return 0; }',
  nvmlDeviceGetPowerUsage: 'int nvmlDeviceGetPowerUsage(void* d, unsigned* mw) { *mw = 350000; return 0; }',
  nvmlDeviceGetEnforcedPowerLimit: 'int nvmlDeviceGetEnforcedPowerLimit(void* d, unsigned* mw) { *mw = 700000; return 0; }',
  nvmlDeviceGetTotalEnergyConsumption:
    'int nvmlDeviceGetTotalEnergyConsumption(void* d, unsigned long long* mj) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); *mj = (unsigned long long)((t.tv_sec + t.tv_nsec * 1e-9) * 350000.0); return 0; }',
  nvmlDeviceGetClockInfo: 'int nvmlDeviceGetClockInfo(void* d, int c, unsigned* mhz) { *mhz = c == 2 ? 2619 : 1980; return 0; }',
  nvmlDeviceGetTemperature: 'int nvmlDeviceGetTemperature(void* d, int s, unsigned* t) { *t = 47; return 0; }',
  // FAKE_NVML_REASONS=mask: the clocks-event reasons (0x8: hw-slowdown); sw-power-cap otherwise.
  nvmlDeviceGetCurrentClocksEventReasons: 'int nvmlDeviceGetCurrentClocksEventReasons(void* d, unsigned long long* r) { *r = getenv("FAKE_NVML_REASONS") ? strtoull(getenv("FAKE_NVML_REASONS"), 0, 0) : 0x4; return 0; }',
  // Health counters, plainly fake: ECC on, 1111/2222 corrected errors (volatile/aggregate),
  // nothing uncorrected, no retired pages, 7 correctable remapped rows.
  // FAKE_NVML_ECC_GROWTH=1: the volatile uncorrected count grows by one per reading.
  nvmlDeviceGetEccMode: 'int nvmlDeviceGetEccMode(void* d, int* c, int* p) { *c = 1; *p = 1; return 0; }',
  nvmlDeviceGetTotalEccErrors:
    'int nvmlDeviceGetTotalEccErrors(void* d, int type, int counter, unsigned long long* n) { static unsigned long long grown = 0; if (type == 1 && counter == 0 && getenv("FAKE_NVML_ECC_GROWTH")) { *n = grown++; return 0; } *n = type == 0 ? (counter == 0 ? 1111 : 2222) : 0; return 0; }',
  nvmlDeviceGetRetiredPages: 'int nvmlDeviceGetRetiredPages(void* d, int cause, unsigned* n, unsigned long long* a) { *n = 0; return 0; }',
  nvmlDeviceGetRetiredPagesPendingStatus: 'int nvmlDeviceGetRetiredPagesPendingStatus(void* d, int* p) { *p = 0; return 0; }',
  nvmlDeviceGetRemappedRows: 'int nvmlDeviceGetRemappedRows(void* d, unsigned* c, unsigned* u, unsigned* p, unsigned* f) { *c = 7; *u = 0; *p = 0; *f = 0; return 0; }',
  // FAKE_LT_COMPUTE=1 (with FAKE_CUDA=host): cublasLtMatmul really multiplies f32 column-major
  // matrices (no transposes: what the burn asks for); FAKE_LT_FLIP=n adds 1 to the first
  // element of the nth call's result (a silent data corruption on that GPU).
  cublasLtMatrixLayoutCreate:
    'int cublasLtMatrixLayoutCreate(void** l, int type, unsigned long long rows, unsigned long long cols, long long ld) { struct fake_layout* x = malloc(sizeof *x); x->type = type; x->rows = rows; x->cols = cols; x->ld = ld; *l = x; return 0; }',
  cublasLtMatmul:
    'int cublasLtMatmul(void* h, void* desc, const float* alpha, const float* A, struct fake_layout* la, const float* B, struct fake_layout* lb, const float* beta, const void* C, void* lc, float* D, struct fake_layout* ld, void* algo, void* ws, size_t wss, void* st) { return fake_matmul(A, la, B, lb, D, ld); }',
  nvmlErrorString: 'const char* nvmlErrorString(int r) { return r == 9 ? "Driver Not Loaded" : "Unknown Error"; }',
  // Fake topology (FAKE_NVML set): PCIe gen5 x16 running at gen4 x16 (an idle GPU's power-saving
  // downshift); 18 NVLink slots with links 0-3 active (not a real board's count), NVML version 6
  // (NVLink 4.0); link 0 reaches the next fake GPU (PCI bus 0x1b + d^1) when there are two or more,
  // the others a fake NVSwitch at 00000000:FA:00.0; CPUs 0-3 and 8-11; every pair under one PCIe switch.
  nvmlDeviceGetNvLinkState: 'int nvmlDeviceGetNvLinkState(void* d, unsigned l, int* a) { if (l >= 18) return 2; *a = l < 4; return 0; }',
  nvmlDeviceGetNvLinkVersion: 'int nvmlDeviceGetNvLinkVersion(void* d, unsigned l, unsigned* v) { if (l >= 18) return 2; *v = 6; return 0; }',
  nvmlDeviceGetNvLinkRemotePciInfo_v2:
    'struct fake_pci { char legacy[16]; unsigned dom, bus, dev, did, sid; char busId[32]; }; int nvmlDeviceGetNvLinkRemotePciInfo_v2(void* d, unsigned l, struct fake_pci* p) { const char* n = getenv("FAKE_CUDA_DEVICES"); int me = (int)((size_t)d - 0x50); memset(p, 0, sizeof *p); if (l == 0 && n && atoi(n) >= 2) sprintf(p->busId, "00000000:%02X:00.0", 0x1b + (me ^ 1)); else strcpy(p->busId, "00000000:FA:00.0"); return 0; }',
  nvmlDeviceGetMaxPcieLinkGeneration: 'int nvmlDeviceGetMaxPcieLinkGeneration(void* d, unsigned* v) { *v = 5; return 0; }',
  nvmlDeviceGetCurrPcieLinkGeneration: 'int nvmlDeviceGetCurrPcieLinkGeneration(void* d, unsigned* v) { *v = 4; return 0; }',
  nvmlDeviceGetMaxPcieLinkWidth: 'int nvmlDeviceGetMaxPcieLinkWidth(void* d, unsigned* v) { *v = 16; return 0; }',
  nvmlDeviceGetCurrPcieLinkWidth: 'int nvmlDeviceGetCurrPcieLinkWidth(void* d, unsigned* v) { *v = 16; return 0; }',
  nvmlDeviceGetCpuAffinity: 'int nvmlDeviceGetCpuAffinity(void* d, unsigned n, unsigned long* s) { memset(s, 0, n * sizeof *s); s[0] = 0xF0F; return 0; }',
  nvmlDeviceGetTopologyCommonAncestor: 'int nvmlDeviceGetTopologyCommonAncestor(void* a, void* b, int* level) { *level = 10; return 0; }',
  // FAKE_LT=n: the heuristic offers n (zeroed) candidates; cublasLtMatmul then "runs" and writes nothing.
  cublasLtMatmulAlgoGetHeuristic:
    'int cublasLtMatmulAlgoGetHeuristic(void* h, void* op, void* a, void* b, void* c, void* d, void* p, int req, unsigned char* res, int* ret) { int n = getenv("FAKE_LT") ? atoi(getenv("FAKE_LT")) : 0; if (n > req) n = req; memset(res, 0, 96 * (size_t)n); *ret = n; return 0; }',
  // FAKE_NCCL_VERSION=code: another NCCL version (e.g. 22304 for 2.23.4, before fp8).
  ncclGetVersion: 'int ncclGetVersion(int* v) { const char* e = getenv("FAKE_NCCL_VERSION"); *v = e && *e ? atoi(e) : 22703; return 0; }',
  ncclGetErrorString:
    'const char* ncclGetErrorString(int r) { return r == 1 ? "unhandled cuda error (run with NCCL_DEBUG=INFO for details)" : r == 2 ? "unhandled system error (run with NCCL_DEBUG=INFO for details)" : r == 3 ? "internal error - please report this issue to the NCCL developers" : r == 4 ? "invalid argument (run with NCCL_DEBUG=WARN for details)" : "fake"; }',
  ncclGetLastError: 'const char* ncclGetLastError(void* c) { return fake_last_error; }',
  // FAKE_NCCL=multi: one rank per process (fake-nccl-multi.c); otherwise ncclCommInitRank
  // fails as the single-process fake's ncclCommInitAll does without FAKE_NCCL.
  ncclGetUniqueId: 'int ncclGetUniqueId(fake_unique_id* id) { return multi() ? fake_get_unique_id(id) : 1; }',
  // FAKE_NCCL=multi runs each call through FAKE_CALL: at once, or at ncclGroupEnd inside a group.
  ncclCommInitRank: 'int ncclCommInitRank(void** comm, int n, fake_unique_id id, int rank) { return multi() ? FAKE_CALL(call_init, .commp = comm, .nranks = n, .id = id, .rank = rank) : 1; }',
  ncclGroupStart: 'int ncclGroupStart(void) { return fake_group_start(); }',
  ncclGroupEnd: 'int ncclGroupEnd(void) { return fake_group_end(); }',
  ncclCommAbort: 'int ncclCommAbort(void* c) { if (multi() && c) ((struct fake_comm*)c)->aborted = 1; return 0; }',
  ncclCommDestroy: 'int ncclCommDestroy(void* c) { return multi() && c ? fake_destroy(c) : 0; }',
  ncclCommGetAsyncError: 'int ncclCommGetAsyncError(void* c, int* r) { *r = multi() && c && ((struct fake_comm*)c)->aborted ? 3 : 0; return 0; }',
  ncclAllGather: 'int ncclAllGather(const void* s, void* r, size_t n, int t, void* c, void* st) { return multi() ? FAKE_CALL(call_allgather, .s = s, .r = r, .n = n, .t = t, .comm = c) : 0; }',
  ncclReduceScatter: 'int ncclReduceScatter(const void* s, void* r, size_t n, int t, int op, void* c, void* st) { return multi() ? FAKE_CALL(call_reducescatter, .s = s, .r = r, .n = n, .t = t, .op = op, .comm = c) : 0; }',
  ncclBroadcast: 'int ncclBroadcast(const void* s, void* r, size_t n, int t, int root, void* c, void* st) { return multi() ? FAKE_CALL(call_broadcast, .s = s, .r = r, .n = n, .t = t, .root = root, .comm = c) : 0; }',
  ncclReduce: 'int ncclReduce(const void* s, void* r, size_t n, int t, int op, int root, void* c, void* st) { return multi() ? FAKE_CALL(call_reduce, .s = s, .r = r, .n = n, .t = t, .op = op, .root = root, .comm = c) : 0; }',
  ncclSend: 'int ncclSend(const void* s, size_t n, int t, int peer, void* c, void* st) { return multi() ? FAKE_CALL(call_send, .s = s, .n = n, .t = t, .peer = peer, .comm = c) : 0; }',
  ncclRecv: 'int ncclRecv(void* r, size_t n, int t, int peer, void* c, void* st) { return multi() ? FAKE_CALL(call_recv, .r = r, .n = n, .t = t, .peer = peer, .comm = c) : 0; }',
  // FAKE_NCCL set: communicators come up; FAKE_NCCL=copy with FAKE_CUDA=host makes the
  // all-reduce of the fake's one rank what it is on one GPU, the identity (recv = send);
  // any other value writes nothing, so the poisoned receive buffer must fail the check.
  ncclCommInitAll:
    'int ncclCommInitAll(void** comms, int n, const int* devs) { if (!getenv("FAKE_NCCL")) return 1; for (int i = 0; i < n; i++) comms[i] = (void*)(0x60 + (size_t)i); return 0; }',
  ncclAllReduce:
    'int ncclAllReduce(const void* s, void* r, size_t n, int t, int op, void* c, void* st) { const char* m = getenv("FAKE_NCCL"); if (multi()) return FAKE_CALL(call_allreduce, .s = s, .r = r, .n = n, .t = t, .op = op, .comm = c); if (host() && m && !strcmp(m, "copy") && s != r) memcpy(r, s, n * esize(t)); return 0; }',
};

/** Helpers of the fake driver: copies that can be corrupted, and the PTX kernels run on the host. */
const CUDA_PREAMBLE = String.raw`#include <stdio.h>
static unsigned long long fake_copies = 0;
static void fake_copy(void* d, const void* s, size_t n) {
  if (!host()) return;
  memcpy(d, s, n);
  const char* after = getenv("FAKE_CUDA_CORRUPT_AFTER");
  if (after && ++fake_copies > strtoull(after, 0, 10) && n > 0) ((unsigned char*)d)[n / 2] ^= 0x10;
}
static int fake_kernel(const char* name, void** p) {
  if (!strcmp(name, "gb_copy")) {
    unsigned long long s = *(unsigned long long*)p[0], d = *(unsigned long long*)p[1], n16 = *(unsigned long long*)p[2], nw = *(unsigned long long*)p[3];
    fake_copy((void*)d, (void*)s, n16 * 16);
    if (nw > 4 * n16) memcpy((char*)d + n16 * 16, (char*)s + n16 * 16, (nw - 4 * n16) * 4);
    return 0;
  }
  if (!strcmp(name, "gb_empty")) {
    unsigned long long f = *(unsigned long long*)p[0];
    if (f) *(unsigned*)f = *(unsigned*)p[1];
    return 0;
  }
  if (!strcmp(name, "gb_compare32") || !strcmp(name, "gb_compare16")) {
    unsigned long long a = *(unsigned long long*)p[0], b = *(unsigned long long*)p[1], n = *(unsigned long long*)p[2], c = 0;
    size_t w = name[10] == '3' ? 4 : 2;
    for (unsigned long long i = 0; i < n; i++) c += memcmp((char*)a + i * w, (char*)b + i * w, w) != 0;
    *(unsigned long long*)*(unsigned long long*)p[3] += c;
    return 0;
  }
  return 98; /* CUDA_ERROR_INVALID_HANDLE: a kernel this fake does not know */
}`;

/** The fake cuBLASLt's layouts and its host GEMM (FAKE_LT_COMPUTE). */
const LT_PREAMBLE = String.raw`struct fake_layout { int type; unsigned long long rows, cols; long long ld; };
static int fake_matmul(const float* A, struct fake_layout* la, const float* B, struct fake_layout* lb, float* D, struct fake_layout* ld) {
  static unsigned long long calls = 0;
  calls++;
  if (!host() || !getenv("FAKE_LT_COMPUTE") || la->type != 0) return 0;
  for (unsigned long long j = 0; j < ld->cols; j++)
    for (unsigned long long i = 0; i < ld->rows; i++) {
      double acc = 0;
      for (unsigned long long k = 0; k < la->cols; k++) acc += (double)A[i + k * la->ld] * B[k + j * lb->ld];
      D[i + j * ld->ld] = (float)acc;
    }
  const char* flip = getenv("FAKE_LT_FLIP");
  if (flip && strtoull(flip, 0, 10) == calls) D[0] += 1.0f;
  return 0;
}`;

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
    const lines = ['#include <stdio.h>', '#include <stdlib.h>', '#include <string.h>', '#include <stddef.h>', '#include <time.h>', 'static int host(void) { const char* m = getenv("FAKE_CUDA"); return m && !strcmp(m, "host"); }'];
    if (id === 'nccl') lines.push(readFileSync(MULTI_NCCL, 'utf8'));
    if (id === 'cuda') lines.push(CUDA_PREAMBLE);
    if (id === 'cublasLt') lines.push(LT_PREAMBLE);
    for (const s of addon.symbols(id)) {
      const name = s.names[0]!;
      if (drop[id]?.includes(name) || s.names.some((n) => drop[id]?.includes(n))) continue;
      lines.push(SPECIAL[name] ?? `int ${name}() { return 0; }`);
    }
    const src = join(dir, `${id}.c`);
    writeFileSync(src, `${lines.join('\n')}\n`);
    const r = spawnSync(CC, ['-shared', '-fPIC', '-pthread', '-w', '-O1', '-o', join(dir, SONAME[id]), src, '-lm'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building fake ${id} failed: ${r.stderr}`);
  }
  return dir;
}
