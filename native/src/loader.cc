// Run-time loading: each library is tried at the candidate paths JavaScript computed
// (LD_LIBRARY_PATH, CUDA_HOME, Python wheel folders…) and must export every required
// symbol; a library that opens but lacks one is reported, not half-used.
#include <dlfcn.h>

#include "api.h"
#include "topology.h"

namespace gb {

CudaApi cu{};
CublasLtApi lt{};
NcclApi nccl{};
NvmlApi nvml{};
NvmlHealthApi nvmlHealth{};

#define SYM(api, field, ...) SymbolSpec{{__VA_ARGS__}, reinterpret_cast<void**>(&api.field), false}
#define OPT(api, field, ...) SymbolSpec{{__VA_ARGS__}, reinterpret_cast<void**>(&api.field), true}

LibSlot& cudaSlot() {
  static LibSlot s{"cuda", nullptr, "", {
    SYM(cu, cuInit, "cuInit"),
    SYM(cu, cuDriverGetVersion, "cuDriverGetVersion"),
    SYM(cu, cuGetErrorString, "cuGetErrorString"),
    SYM(cu, cuGetErrorName, "cuGetErrorName"),
    SYM(cu, cuDeviceGetCount, "cuDeviceGetCount"),
    SYM(cu, cuDeviceGet, "cuDeviceGet"),
    SYM(cu, cuDeviceGetName, "cuDeviceGetName"),
    SYM(cu, cuDeviceGetUuid, "cuDeviceGetUuid_v2", "cuDeviceGetUuid"),
    SYM(cu, cuDeviceTotalMem, "cuDeviceTotalMem_v2"),
    SYM(cu, cuDeviceGetAttribute, "cuDeviceGetAttribute"),
    SYM(cu, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
    SYM(cu, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"),
    SYM(cu, cuCtxSetCurrent, "cuCtxSetCurrent"),
    SYM(cu, cuMemAlloc, "cuMemAlloc_v2"),
    SYM(cu, cuMemFree, "cuMemFree_v2"),
    SYM(cu, cuMemcpyHtoD, "cuMemcpyHtoD_v2"),
    SYM(cu, cuMemcpyDtoH, "cuMemcpyDtoH_v2"),
    SYM(cu, cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
    SYM(cu, cuMemsetD32, "cuMemsetD32_v2"),
    SYM(cu, cuMemsetD16, "cuMemsetD16_v2"),
    SYM(cu, cuStreamCreate, "cuStreamCreate"),
    SYM(cu, cuStreamDestroy, "cuStreamDestroy_v2", "cuStreamDestroy"),
    SYM(cu, cuStreamSynchronize, "cuStreamSynchronize"),
    SYM(cu, cuEventCreate, "cuEventCreate"),
    SYM(cu, cuEventDestroy, "cuEventDestroy_v2", "cuEventDestroy"),
    SYM(cu, cuEventRecord, "cuEventRecord"),
    SYM(cu, cuEventSynchronize, "cuEventSynchronize"),
    SYM(cu, cuEventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime"),
    // Node acceptance (accept.cc).
    SYM(cu, cuMemHostAlloc, "cuMemHostAlloc"),
    SYM(cu, cuMemFreeHost, "cuMemFreeHost"),
    SYM(cu, cuMemHostGetDevicePointer, "cuMemHostGetDevicePointer_v2"),
    SYM(cu, cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
    SYM(cu, cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
    SYM(cu, cuMemcpyPeerAsync, "cuMemcpyPeerAsync"),
    SYM(cu, cuDeviceCanAccessPeer, "cuDeviceCanAccessPeer"),
    SYM(cu, cuCtxEnablePeerAccess, "cuCtxEnablePeerAccess"),
    SYM(cu, cuModuleLoadData, "cuModuleLoadData"),
    SYM(cu, cuModuleUnload, "cuModuleUnload"),
    SYM(cu, cuModuleGetFunction, "cuModuleGetFunction"),
    SYM(cu, cuLaunchKernel, "cuLaunchKernel"),
  }};
  return s;
}

LibSlot& cublasLtSlot() {
  static LibSlot s{"cublasLt", nullptr, "", {
    SYM(lt, cublasLtCreate, "cublasLtCreate"),
    SYM(lt, cublasLtDestroy, "cublasLtDestroy"),
    SYM(lt, cublasLtGetVersion, "cublasLtGetVersion"),
    OPT(lt, cublasLtGetStatusName, "cublasLtGetStatusName"),
    OPT(lt, cublasLtGetStatusString, "cublasLtGetStatusString"),
    SYM(lt, cublasLtMatmulDescCreate, "cublasLtMatmulDescCreate"),
    SYM(lt, cublasLtMatmulDescDestroy, "cublasLtMatmulDescDestroy"),
    SYM(lt, cublasLtMatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute"),
    SYM(lt, cublasLtMatrixLayoutCreate, "cublasLtMatrixLayoutCreate"),
    SYM(lt, cublasLtMatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy"),
    SYM(lt, cublasLtMatrixLayoutSetAttribute, "cublasLtMatrixLayoutSetAttribute"),
    SYM(lt, cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate"),
    SYM(lt, cublasLtMatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy"),
    SYM(lt, cublasLtMatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute"),
    SYM(lt, cublasLtMatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic"),
    SYM(lt, cublasLtMatmulAlgoConfigGetAttribute, "cublasLtMatmulAlgoConfigGetAttribute"),
    SYM(lt, cublasLtMatmul, "cublasLtMatmul"),
  }};
  return s;
}

LibSlot& ncclSlot() {
  static LibSlot s{"nccl", nullptr, "", {
    SYM(nccl, ncclGetVersion, "ncclGetVersion"),
    SYM(nccl, ncclGetErrorString, "ncclGetErrorString"),
    OPT(nccl, ncclGetLastError, "ncclGetLastError"),
    SYM(nccl, ncclCommInitAll, "ncclCommInitAll"),
    SYM(nccl, ncclCommDestroy, "ncclCommDestroy"),
    SYM(nccl, ncclGroupStart, "ncclGroupStart"),
    SYM(nccl, ncclGroupEnd, "ncclGroupEnd"),
    SYM(nccl, ncclAllReduce, "ncclAllReduce"),
    SYM(nccl, ncclGetUniqueId, "ncclGetUniqueId"),
    SYM(nccl, ncclCommInitRank, "ncclCommInitRank"),
    SYM(nccl, ncclCommAbort, "ncclCommAbort"),
    SYM(nccl, ncclCommGetAsyncError, "ncclCommGetAsyncError"),
    SYM(nccl, ncclAllGather, "ncclAllGather"),
    SYM(nccl, ncclReduceScatter, "ncclReduceScatter"),
    SYM(nccl, ncclBroadcast, "ncclBroadcast"),
    SYM(nccl, ncclReduce, "ncclReduce"),
    SYM(nccl, ncclSend, "ncclSend"),
    SYM(nccl, ncclRecv, "ncclRecv"),
  }};
  return s;
}

LibSlot& nvmlSlot() {
  static LibSlot s{"nvml", nullptr, "", {
    SYM(nvml, nvmlInit, "nvmlInit_v2"),
    SYM(nvml, nvmlShutdown, "nvmlShutdown"),
    SYM(nvml, nvmlErrorString, "nvmlErrorString"),
    SYM(nvml, nvmlSystemGetDriverVersion, "nvmlSystemGetDriverVersion"),
    SYM(nvml, nvmlDeviceGetHandleByUUID, "nvmlDeviceGetHandleByUUID"),
    SYM(nvml, nvmlDeviceGetName, "nvmlDeviceGetName"),
    SYM(nvml, nvmlDeviceGetPowerUsage, "nvmlDeviceGetPowerUsage"),
    SYM(nvml, nvmlDeviceGetEnforcedPowerLimit, "nvmlDeviceGetEnforcedPowerLimit"),
    OPT(nvml, nvmlDeviceGetTotalEnergyConsumption, "nvmlDeviceGetTotalEnergyConsumption"),
    SYM(nvml, nvmlDeviceGetClockInfo, "nvmlDeviceGetClockInfo"),
    SYM(nvml, nvmlDeviceGetTemperature, "nvmlDeviceGetTemperature"),
    OPT(nvml, nvmlDeviceGetCurrentClocksThrottleReasons, "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetCurrentClocksThrottleReasons"),
    // Topology (topology.cc): all optional, so a driver without them still loads.
    OPT(nvmlTopo, nvmlDeviceGetNvLinkState, "nvmlDeviceGetNvLinkState"),
    OPT(nvmlTopo, nvmlDeviceGetNvLinkVersion, "nvmlDeviceGetNvLinkVersion"),
    OPT(nvmlTopo, nvmlDeviceGetNvLinkRemotePciInfo, "nvmlDeviceGetNvLinkRemotePciInfo_v2"),
    OPT(nvmlTopo, nvmlDeviceGetMaxPcieLinkGeneration, "nvmlDeviceGetMaxPcieLinkGeneration"),
    OPT(nvmlTopo, nvmlDeviceGetCurrPcieLinkGeneration, "nvmlDeviceGetCurrPcieLinkGeneration"),
    OPT(nvmlTopo, nvmlDeviceGetMaxPcieLinkWidth, "nvmlDeviceGetMaxPcieLinkWidth"),
    OPT(nvmlTopo, nvmlDeviceGetCurrPcieLinkWidth, "nvmlDeviceGetCurrPcieLinkWidth"),
    OPT(nvmlTopo, nvmlDeviceGetCpuAffinity, "nvmlDeviceGetCpuAffinity"),
    OPT(nvmlTopo, nvmlDeviceGetTopologyCommonAncestor, "nvmlDeviceGetTopologyCommonAncestor"),
    // Health counters for the burn (nvml_health.cc).
    OPT(nvmlHealth, nvmlDeviceGetEccMode, "nvmlDeviceGetEccMode"),
    OPT(nvmlHealth, nvmlDeviceGetTotalEccErrors, "nvmlDeviceGetTotalEccErrors"),
    OPT(nvmlHealth, nvmlDeviceGetRetiredPages, "nvmlDeviceGetRetiredPages"),
    OPT(nvmlHealth, nvmlDeviceGetRetiredPagesPendingStatus, "nvmlDeviceGetRetiredPagesPendingStatus"),
    OPT(nvmlHealth, nvmlDeviceGetRemappedRows, "nvmlDeviceGetRemappedRows"),
  }};
  return s;
}

LibSlot* slotById(const std::string& id) {
  if (id == "cuda") return &cudaSlot();
  if (id == "cublasLt") return &cublasLtSlot();
  if (id == "nccl") return &ncclSlot();
  if (id == "nvml") return &nvmlSlot();
  return nullptr;
}

// Resolves every symbol of the slot from `h`; returns the names of required ones missing.
static std::vector<std::string> resolve(LibSlot& slot, void* h, bool commit) {
  std::vector<std::string> missing;
  for (auto& s : slot.symbols) {
    void* p = nullptr;
    for (const char* n : s.names) {
      p = dlsym(h, n);
      if (p) break;
    }
    if (!p && !s.optional) missing.emplace_back(s.names.back());
    if (commit) *s.slot = p;
  }
  return missing;
}

LoadResult loadLibrary(LibSlot& slot, const std::vector<std::string>& candidates) {
  LoadResult r;
  if (slot.handle) {  // a process keeps the first library it loaded
    r.ok = true;
    r.path = slot.path;
    return r;
  }
  for (const auto& c : candidates) {
    dlerror();
    void* h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      r.attempts.push_back(c + ": " + (e ? e : "dlopen failed"));
      continue;
    }
    auto missing = resolve(slot, h, false);
    if (!missing.empty()) {
      std::string list;
      for (auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      r.attempts.push_back(c + ": lacks " + list);
      if (r.missing.empty()) r.missing = missing;
      dlclose(h);
      continue;
    }
    resolve(slot, h, true);
    Dl_info info{};
    // Report the file actually opened (a bare name resolves through ld.so's search).
    if (dladdr(*slot.symbols.front().slot, &info) && info.dli_fname) r.path = info.dli_fname;
    else r.path = c;
    slot.handle = h;
    slot.path = r.path;
    r.ok = true;
    r.attempts.clear();
    r.missing.clear();
    return r;
  }
  return r;
}

}  // namespace gb
