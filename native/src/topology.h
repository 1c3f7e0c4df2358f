// NVML topology (see topology.cc): kept apart from the telemetry sampler (nvml.cc) so the two
// grow independently. Every entry point here is optional: older drivers lack some of them.
#pragma once
#include <napi.h>

#include "api.h"

namespace gb {

/** nvmlPciInfo_t (nvml.h, the layout the _v2/_v3 entry points fill). */
struct nvmlPciInfo_t {
  char busIdLegacy[16];
  unsigned domain;
  unsigned bus;
  unsigned device;
  unsigned pciDeviceId;
  unsigned pciSubSystemId;
  char busId[32];
};

/** The NVML entry points topology uses; null where the loaded driver lacks one. */
struct NvmlTopologyApi {
  nvmlReturn_t (*nvmlDeviceGetNvLinkState)(nvmlDevice_t, unsigned link, int* isActive);
  nvmlReturn_t (*nvmlDeviceGetNvLinkVersion)(nvmlDevice_t, unsigned link, unsigned* version);
  nvmlReturn_t (*nvmlDeviceGetNvLinkRemotePciInfo)(nvmlDevice_t, unsigned link, nvmlPciInfo_t*);  // _v2
  nvmlReturn_t (*nvmlDeviceGetMaxPcieLinkGeneration)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*nvmlDeviceGetCurrPcieLinkGeneration)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*nvmlDeviceGetMaxPcieLinkWidth)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*nvmlDeviceGetCurrPcieLinkWidth)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*nvmlDeviceGetCpuAffinity)(nvmlDevice_t, unsigned cpuSetSize, unsigned long* cpuSet);
  nvmlReturn_t (*nvmlDeviceGetTopologyCommonAncestor)(nvmlDevice_t, nvmlDevice_t, int* level);
};
extern NvmlTopologyApi nvmlTopo;

/** nvmlTopology(uuids): per GPU its NVLinks, PCIe link, CPU affinity and the common ancestor with each other GPU. */
Napi::Value NvmlTopology(const Napi::CallbackInfo& info);

}  // namespace gb
