// NVML topology of the local GPUs: NVLink state, version and far end per link, PCIe
// generation and width (max and current), CPU affinity, and the common ancestor of each pair
// (nvmlDeviceGetTopologyCommonAncestor). A fact the driver cannot give (entry point absent,
// NOT_SUPPORTED, no permission) is left out, never guessed; only a GPU NVML cannot find fails.
#include "topology.h"

#include <string>
#include <vector>

#include "common.h"

namespace gb {

NvmlTopologyApi nvmlTopo{};

namespace {

// nvml.h: NVML_NVLINK_MAX_LINKS is 18 in current drivers (12 in older ones, which then
// answer NVML_ERROR_INVALID_ARGUMENT for the links they do not have).
constexpr unsigned kMaxLinks = 18;
constexpr unsigned kCpuWords = 64;  // 64 × 64 = 4096 CPUs

const char* levelName(int level) {
  switch (level) {  // nvmlGpuTopologyLevel_t
    case 0: return "internal";     // NVML_TOPOLOGY_INTERNAL: the same board
    case 10: return "single";      // one PCIe switch
    case 20: return "multiple";    // several PCIe switches, no host bridge
    case 30: return "hostbridge";  // the same host bridge
    case 40: return "node";        // the same NUMA node (across host bridges)
    case 50: return "system";      // across NUMA nodes (SMP interconnect)
    default: return "unknown";
  }
}

/** "0,1,2,3" → "0-3" (the kernel's cpulist spelling). */
std::string cpuList(const unsigned long* words, unsigned n) {
  std::string out;
  const unsigned bits = sizeof(unsigned long) * 8;
  int start = -1;
  for (unsigned i = 0; i <= n * bits; i++) {
    bool on = i < n * bits && ((words[i / bits] >> (i % bits)) & 1UL);
    if (on && start < 0) start = static_cast<int>(i);
    if (!on && start >= 0) {
      if (!out.empty()) out += ",";
      out += std::to_string(start);
      if (static_cast<int>(i) - 1 > start) out += "-" + std::to_string(i - 1);
      start = -1;
    }
  }
  return out;
}

Napi::Object one(Napi::Env env, nvmlDevice_t dev) {
  Napi::Object o = Napi::Object::New(env);
  auto u = [&](nvmlReturn_t (*fn)(nvmlDevice_t, unsigned*), const char* key, Napi::Object& into) {
    unsigned v = 0;
    if (fn && fn(dev, &v) == 0) into.Set(key, v);
  };
  Napi::Object pcie = Napi::Object::New(env);
  u(nvmlTopo.nvmlDeviceGetMaxPcieLinkGeneration, "maxGen", pcie);
  u(nvmlTopo.nvmlDeviceGetCurrPcieLinkGeneration, "currentGen", pcie);
  u(nvmlTopo.nvmlDeviceGetMaxPcieLinkWidth, "maxWidth", pcie);
  u(nvmlTopo.nvmlDeviceGetCurrPcieLinkWidth, "currentWidth", pcie);
  o.Set("pcie", pcie);
  if (nvmlTopo.nvmlDeviceGetCpuAffinity) {
    unsigned long set[kCpuWords] = {0};
    if (nvmlTopo.nvmlDeviceGetCpuAffinity(dev, kCpuWords, set) == 0) o.Set("cpuAffinity", cpuList(set, kCpuWords));
  }
  if (nvmlTopo.nvmlDeviceGetNvLinkState) {
    Napi::Array links = Napi::Array::New(env);
    for (unsigned l = 0; l < kMaxLinks; l++) {
      int active = 0;
      // A link index the GPU does not have answers INVALID_ARGUMENT or NOT_SUPPORTED.
      if (nvmlTopo.nvmlDeviceGetNvLinkState(dev, l, &active) != 0) continue;
      Napi::Object link = Napi::Object::New(env);
      link.Set("link", l);
      link.Set("active", active == 1);
      unsigned version = 0;
      if (nvmlTopo.nvmlDeviceGetNvLinkVersion && nvmlTopo.nvmlDeviceGetNvLinkVersion(dev, l, &version) == 0) link.Set("version", version);
      nvmlPciInfo_t pci{};
      if (active == 1 && nvmlTopo.nvmlDeviceGetNvLinkRemotePciInfo && nvmlTopo.nvmlDeviceGetNvLinkRemotePciInfo(dev, l, &pci) == 0) {
        pci.busId[sizeof pci.busId - 1] = 0;
        link.Set("remotePciBusId", pci.busId);
      }
      links.Set(links.Length(), link);
    }
    o.Set("nvlinks", links);
  }
  return o;
}

}  // namespace

Napi::Value NvmlTopology(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto arr = info[0].As<Napi::Array>();
  return guard(env, [&]() -> Napi::Value {
    requireLoaded(nvmlSlot());
    std::vector<nvmlDevice_t> devs;
    for (uint32_t i = 0; i < arr.Length(); i++) {
      std::string uuid = arr.Get(i).As<Napi::String>().Utf8Value();
      nvmlDevice_t d = nullptr;
      checkNvml(nvml.nvmlDeviceGetHandleByUUID(uuid.c_str(), &d), "nvmlDeviceGetHandleByUUID");
      devs.push_back(d);
    }
    Napi::Array out = Napi::Array::New(env, devs.size());
    for (size_t i = 0; i < devs.size(); i++) {
      Napi::Object o = one(env, devs[i]);
      if (nvmlTopo.nvmlDeviceGetTopologyCommonAncestor) {
        Napi::Array peers = Napi::Array::New(env);
        for (size_t j = 0; j < devs.size(); j++) {
          int level = 0;
          if (j == i || nvmlTopo.nvmlDeviceGetTopologyCommonAncestor(devs[i], devs[j], &level) != 0) continue;
          Napi::Object p = Napi::Object::New(env);
          p.Set("index", static_cast<double>(j));
          p.Set("level", levelName(level));
          peers.Set(peers.Length(), p);
        }
        o.Set("peers", peers);
      }
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  });
}

}  // namespace gb
