// The addon's entry point: library loading, CUDA device facts, NVML facts, the NCCL and
// cuBLASLt versions, element conversions (for tests), the Gemm, Copy, Sampler and
// NcclAllReduce classes, and NcclComm (one rank of a communicator across processes) with
// ncclUniqueId. Nothing here links against CUDA: see loader.cc.
#include <napi.h>

#include <cstdio>

#include "accept.h"
#include "common.h"
#include "gemm.h"
#include "nccl.h"
#include "nccl_comm.h"
#include "nvml.h"
#include "reduce.h"
#include "topology.h"

namespace gb {
namespace {

Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string id = info[0].As<Napi::String>().Utf8Value();
  auto arr = info[1].As<Napi::Array>();
  LibSlot* slot = slotById(id);
  if (!slot) throw Napi::Error::New(env, "unknown library id \"" + id + "\"");
  std::vector<std::string> candidates;
  for (uint32_t i = 0; i < arr.Length(); i++) candidates.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  LoadResult r = loadLibrary(*slot, candidates);
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", r.ok);
  if (r.ok) o.Set("path", r.path);
  Napi::Array attempts = Napi::Array::New(env, r.attempts.size());
  for (size_t i = 0; i < r.attempts.size(); i++) attempts.Set(static_cast<uint32_t>(i), r.attempts[i]);
  o.Set("attempts", attempts);
  Napi::Array missing = Napi::Array::New(env, r.missing.size());
  for (size_t i = 0; i < r.missing.size(); i++) missing.Set(static_cast<uint32_t>(i), r.missing[i]);
  o.Set("missing", missing);
  return o;
}

/** The symbols a library slot resolves: [names tried, optional] (tests build fakes from it). */
Napi::Value Symbols(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LibSlot* slot = slotById(info[0].As<Napi::String>().Utf8Value());
  if (!slot) throw Napi::Error::New(env, "unknown library id");
  Napi::Array out = Napi::Array::New(env, slot->symbols.size());
  for (size_t i = 0; i < slot->symbols.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    Napi::Array names = Napi::Array::New(env, slot->symbols[i].names.size());
    for (size_t j = 0; j < slot->symbols[i].names.size(); j++) names.Set(static_cast<uint32_t>(j), slot->symbols[i].names[j]);
    o.Set("names", names);
    o.Set("optional", slot->symbols[i].optional);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value CudaInit(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireLoaded(cudaSlot());
    checkCu(cu.cuInit(0), "cuInit");
    int v = 0;
    checkCu(cu.cuDriverGetVersion(&v), "cuDriverGetVersion");
    return Napi::Number::New(info.Env(), v);
  });
}

std::string uuidString(const CUuuid& u) {
  // NVML's spelling: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
  char s[64];
  const unsigned char* b = u.bytes;
  std::snprintf(s, sizeof s, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
                b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return s;
}

Napi::Value Devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    requireLoaded(cudaSlot());
    int count = 0;
    checkCu(cu.cuDeviceGetCount(&count), "cuDeviceGetCount");
    Napi::Array out = Napi::Array::New(env, static_cast<size_t>(count));
    for (int i = 0; i < count; i++) {
      CUdevice dev;
      checkCu(cu.cuDeviceGet(&dev, i), "cuDeviceGet");
      char name[256] = {0};
      checkCu(cu.cuDeviceGetName(name, sizeof name - 1, dev), "cuDeviceGetName");
      CUuuid uuid{};
      checkCu(cu.cuDeviceGetUuid(&uuid, dev), "cuDeviceGetUuid");
      size_t mem = 0;
      checkCu(cu.cuDeviceTotalMem(&mem, dev), "cuDeviceTotalMem");
      auto attr = [&](int a) {
        int v = 0;
        checkCu(cu.cuDeviceGetAttribute(&v, a, dev), "cuDeviceGetAttribute");
        return v;
      };
      Napi::Object d = Napi::Object::New(env);
      d.Set("index", i);
      d.Set("name", name);
      d.Set("uuid", uuidString(uuid));
      d.Set("memoryBytes", static_cast<double>(mem));
      d.Set("smCount", attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
      d.Set("ccMajor", attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
      d.Set("ccMinor", attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
      d.Set("clockKHz", attr(CU_DEVICE_ATTRIBUTE_CLOCK_RATE));
      d.Set("memoryClockKHz", attr(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE));
      d.Set("memoryBusWidth", attr(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH));
      d.Set("l2Bytes", attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE));
      char pci[32];
      std::snprintf(pci, sizeof pci, "%04x:%02x:%02x.0", attr(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID), attr(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID),
                    attr(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID));
      d.Set("pciBusId", pci);
      out.Set(static_cast<uint32_t>(i), d);
    }
    return out;
  });
}

Napi::Value CublasLtVersion(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireLoaded(cublasLtSlot());
    return Napi::Number::New(info.Env(), static_cast<double>(lt.cublasLtGetVersion()));
  });
}

Napi::Value NcclVersion(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireLoaded(ncclSlot());
    int v = 0;
    checkNccl(nccl.ncclGetVersion(&v), "ncclGetVersion");
    return Napi::Number::New(info.Env(), v);
  });
}

Napi::Value NvmlInit(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireLoaded(nvmlSlot());
    checkNvml(nvml.nvmlInit(), "nvmlInit_v2");
    char v[96] = {0};
    checkNvml(nvml.nvmlSystemGetDriverVersion(v, sizeof v), "nvmlSystemGetDriverVersion");
    return Napi::String::New(info.Env(), v);
  });
}

Napi::Value NvmlDevice(const Napi::CallbackInfo& info) {
  std::string uuid = info[0].As<Napi::String>().Utf8Value();
  return guard(info.Env(), [&]() -> Napi::Value {
    requireLoaded(nvmlSlot());
    nvmlDevice_t dev;
    checkNvml(nvml.nvmlDeviceGetHandleByUUID(uuid.c_str(), &dev), "nvmlDeviceGetHandleByUUID");
    char name[96] = {0};
    checkNvml(nvml.nvmlDeviceGetName(dev, name, sizeof name), "nvmlDeviceGetName");
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("name", name);
    unsigned mw = 0;
    if (nvml.nvmlDeviceGetEnforcedPowerLimit(dev, &mw) == 0) o.Set("powerLimitW", mw / 1000.0);
    return o;
  });
}

/** Round-trips floats through a storage type's encoder and decoder (tests compare with TS). */
Napi::Value RoundTrip(const Napi::CallbackInfo& info) {
  std::string kind = info[0].As<Napi::String>().Utf8Value();
  auto in = info[1].As<Napi::Float32Array>();
  auto out = Napi::Float32Array::New(info.Env(), in.ElementLength());
  for (size_t i = 0; i < in.ElementLength(); i++) {
    float v = in[i];
    if (kind == "f16") out[i] = f16ToF32(f32ToF16(v));
    else if (kind == "bf16") out[i] = bf16ToF32(f32ToBf16(v));
    else if (kind == "fp8") out[i] = e4m3ToF32(f32ToE4m3(v));
    else throw Napi::Error::New(info.Env(), "unknown kind " + kind);
  }
  return out;
}

}  // namespace
}  // namespace gb

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  using namespace gb;
  exports.Set("abi", Napi::Number::New(env, 1));
  exports.Set("load", Napi::Function::New(env, Load));
  exports.Set("symbols", Napi::Function::New(env, Symbols));
  exports.Set("cudaInit", Napi::Function::New(env, CudaInit));
  exports.Set("devices", Napi::Function::New(env, Devices));
  exports.Set("cublasLtVersion", Napi::Function::New(env, CublasLtVersion));
  exports.Set("ncclVersion", Napi::Function::New(env, NcclVersion));
  exports.Set("nvmlInit", Napi::Function::New(env, NvmlInit));
  exports.Set("nvmlDevice", Napi::Function::New(env, NvmlDevice));
  exports.Set("nvmlTopology", Napi::Function::New(env, NvmlTopology));
  exports.Set("roundTrip", Napi::Function::New(env, RoundTrip));
  exports.Set("Gemm", Gemm::Init(env));
  exports.Set("Copy", Copy::Init(env));
  exports.Set("Sampler", Sampler::Init(env));
  exports.Set("NcclAllReduce", NcclAllReduce::Init(env));
  exports.Set("NcclComm", NcclComm::Init(env));
  exports.Set("ncclUniqueId", Napi::Function::New(env, NcclUniqueIdBytes));
  exports.Set("ncclGroupConnect", Napi::Function::New(env, NcclGroupConnect));
  exports.Set("ncclGroupChecked", Napi::Function::New(env, NcclGroupChecked));
  exports.Set("ncclGroupTime", Napi::Function::New(env, NcclGroupTime));
  registerReduce(env, exports);
  // Node acceptance (accept.cc, nvml_health.cc).
  exports.Set("HostCopy", HostCopy::Init(env));
  exports.Set("PeerCopy", PeerCopy::Init(env));
  exports.Set("Launch", Launch::Init(env));
  exports.Set("Burn", Burn::Init(env));
  exports.Set("canAccessPeer", Napi::Function::New(env, CanAccessPeer));
  exports.Set("nvmlHealth", Napi::Function::New(env, NvmlHealth));
  return exports;
}

NODE_API_MODULE(gpubench_native, InitAddon)
