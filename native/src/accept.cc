// Node acceptance: host<->device copies (copy engine and SM kernel), peer copies, launch
// latency and the GEMM burn. The kernels are the hand-written PTX of ptx.h, loaded once per
// device with cuModuleLoadData.
#include "accept.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

#include "common.h"
#include "ptx.h"

namespace gb {

namespace {

constexpr unsigned kPoison = 0x7fc00000u;  // a NaN: a copy that skips words cannot pass

/** The acceptance module's function `name` in the device's primary context. */
CUfunction acceptFunction(int device, const char* name) {
  static std::mutex mu;
  static std::map<int, CUmodule> modules;
  std::lock_guard<std::mutex> lock(mu);
  useDevice(device);
  auto it = modules.find(device);
  if (it == modules.end()) {
    CUmodule m = nullptr;
    checkCu(cu.cuModuleLoadData(&m, kAcceptPtx), "cuModuleLoadData");
    it = modules.emplace(device, m).first;
  }
  CUfunction f = nullptr;
  checkCu(cu.cuModuleGetFunction(&f, it->second, name), "cuModuleGetFunction");
  return f;
}

int smCountOf(int device) {
  CUdevice dev;
  checkCu(cu.cuDeviceGet(&dev, device), "cuDeviceGet");
  int v = 0;
  checkCu(cu.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "cuDeviceGetAttribute");
  return std::max(1, v);
}

CopyBuffer allocBuffer(bool host, size_t bytes) {
  CopyBuffer b;
  b.host = host;
  b.bytes = bytes;
  if (host) {
    checkCu(cu.cuMemHostAlloc(&b.h, bytes, CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP), "cuMemHostAlloc");
    checkCu(cu.cuMemHostGetDevicePointer(&b.d, b.h, 0), "cuMemHostGetDevicePointer");
  } else {
    checkCu(cu.cuMemAlloc(&b.d, bytes), "cuMemAlloc");
  }
  return b;
}

void freeBuffer(CopyBuffer& b) {
  if (b.host && b.h) cu.cuMemFreeHost(b.h);
  else if (!b.host && b.d) cu.cuMemFree(b.d);
  b = CopyBuffer{};
}

/** Writes `bytes` of `data` at `offset` into the buffer (host memcpy or cuMemcpyHtoD). */
void fill(const CopyBuffer& b, size_t offset, const void* data, size_t bytes) {
  if (b.host) std::memcpy(static_cast<char*>(b.h) + offset, data, bytes);
  else checkCu(cu.cuMemcpyHtoD(b.d + offset, data, bytes), "cuMemcpyHtoD");
}

void poison(const CopyBuffer& b) {
  if (b.host) {
    auto* w = static_cast<unsigned*>(b.h);
    for (size_t i = 0; i < b.bytes / 4; i++) w[i] = kPoison;
  } else {
    checkCu(cu.cuMemsetD32(b.d, kPoison, b.bytes / 4), "cuMemsetD32");
  }
}

void readInto(const CopyBuffer& b, void* out) {
  if (b.host) std::memcpy(out, b.h, b.bytes);
  else checkCu(cu.cuMemcpyDtoH(out, b.d, b.bytes), "cuMemcpyDtoH");
}

float elapsed(CUevent a, CUevent b) {
  float ms = 0;
  checkCu(cu.cuEventElapsedTime(&ms, a, b), "cuEventElapsedTime");
  return ms;
}

std::string disposedOr(bool released) { return released ? "case disposed" : ""; }

double hostMs(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// ---- HostCopy ---------------------------------------------------------------------------

Napi::Function HostCopy::Init(Napi::Env env) {
  return DefineClass(env, "HostCopy", {
    InstanceMethod("upload", &HostCopy::Upload),
    InstanceMethod("runChecked", &HostCopy::RunChecked),
    InstanceMethod("readBack", &HostCopy::ReadBack),
    InstanceMethod("time", &HostCopy::Time),
    InstanceMethod("timeAsync", &HostCopy::TimeAsync),
    InstanceMethod("dispose", &HostCopy::Dispose),
  });
}

HostCopy::HostCopy(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HostCopy>(info) {
  auto o = info[0].As<Napi::Object>();
  device_ = o.Get("device").As<Napi::Number>().Int32Value();
  bytes_ = static_cast<size_t>(o.Get("bytes").As<Napi::Number>().Int64Value());
  std::string dir = o.Get("direction").As<Napi::String>().Utf8Value();
  std::string engine = o.Get("engine").As<Napi::String>().Utf8Value();
  bidirectional_ = o.Get("bidirectional").As<Napi::Boolean>().Value();
  guard(info.Env(), [&] {
    if (bytes_ == 0 || bytes_ % 4 != 0) fail("HostCopy", "bytes must be a positive multiple of 4");
    if (dir != "h2d" && dir != "d2h") fail("HostCopy", "direction must be h2d or d2h");
    if (engine != "ce" && engine != "sm") fail("HostCopy", "engine must be ce or sm");
    toDevice_ = dir == "h2d";
    sm_ = engine == "sm";
    useDevice(device_);
    smCount_ = smCountOf(device_);
    checkCu(cu.cuStreamCreate(&s0_, CU_STREAM_DEFAULT), "cuStreamCreate");
    checkCu(cu.cuStreamCreate(&s1_, CU_STREAM_DEFAULT), "cuStreamCreate");
    checkCu(cu.cuEventCreate(&start_, CU_EVENT_DEFAULT), "cuEventCreate");
    checkCu(cu.cuEventCreate(&stop_, CU_EVENT_DEFAULT), "cuEventCreate");
    src_ = allocBuffer(toDevice_, bytes_);
    dst_ = allocBuffer(!toDevice_, bytes_);
    if (bidirectional_) {  // nvbandwidth doubles the interfering copy so it spans the measured one
      isrc_ = allocBuffer(!toDevice_, 2 * bytes_);
      idst_ = allocBuffer(toDevice_, 2 * bytes_);
    }
    if (sm_) copyFn_ = acceptFunction(device_, "gb_copy");
  });
}

HostCopy::~HostCopy() { Release(); }

void HostCopy::Release() {
  if (released_ || !cudaSlot().handle) return;
  released_ = true;
  try { useDevice(device_); } catch (...) { return; }
  for (auto* b : {&src_, &dst_, &isrc_, &idst_}) freeBuffer(*b);
  if (start_) cu.cuEventDestroy(start_);
  if (stop_) cu.cuEventDestroy(stop_);
  if (s0_) cu.cuStreamDestroy(s0_);
  if (s1_) cu.cuStreamDestroy(s1_);
}

void HostCopy::Enqueue(const CopyBuffer& src, const CopyBuffer& dst, size_t bytes, CUstream s) {
  if (sm_) {
    unsigned long long ps = src.d, pd = dst.d, n16 = bytes / 16, nwords = bytes / 4;
    void* args[] = {&ps, &pd, &n16, &nwords};
    checkCu(cu.cuLaunchKernel(copyFn_, static_cast<unsigned>(2 * smCount_), 1, 1, 512, 1, 1, 0, s, args, nullptr), "cuLaunchKernel(gb_copy)");
  } else if (dst.host) {
    checkCu(cu.cuMemcpyDtoHAsync(dst.h, src.d, bytes, s), "cuMemcpyDtoHAsync");
  } else {
    checkCu(cu.cuMemcpyHtoDAsync(dst.d, src.h, bytes, s), "cuMemcpyHtoDAsync");
  }
}

void HostCopy::Upload(const Napi::CallbackInfo& info) {
  auto data = info[0].As<Napi::Uint8Array>();
  guard(info.Env(), [&] {
    if (busy_) fail("upload", "a timed call is still running");
    if (released_) fail("upload", "case disposed");
    if (data.ByteLength() != bytes_) fail("upload", "source has the wrong length");
    useDevice(device_);
    fill(src_, 0, data.Data(), bytes_);
    if (bidirectional_) {
      fill(isrc_, 0, data.Data(), bytes_);
      fill(isrc_, bytes_, data.Data(), bytes_);
    }
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");
  });
}

Napi::Value HostCopy::Contents(Napi::Env env) {
  size_t total = bytes_ + (bidirectional_ ? 2 * bytes_ : 0);
  auto out = Napi::Uint8Array::New(env, total);
  readInto(dst_, out.Data());
  if (bidirectional_) readInto(idst_, out.Data() + bytes_);
  return out;
}

Napi::Value HostCopy::RunChecked(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (released_) fail("runChecked", "case disposed");
    useDevice(device_);
    poison(dst_);
    if (bidirectional_) poison(idst_);
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");
    if (bidirectional_) Enqueue(isrc_, idst_, 2 * bytes_, s1_);
    Enqueue(src_, dst_, bytes_, s0_);
    checkCu(cu.cuStreamSynchronize(s0_), "cuStreamSynchronize");
    checkCu(cu.cuStreamSynchronize(s1_), "cuStreamSynchronize");
    return Contents(info.Env());
  });
}

Napi::Value HostCopy::ReadBack(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (busy_) fail("readBack", "a timed call is still running");
    if (released_) fail("readBack", "case disposed");
    useDevice(device_);
    return Contents(info.Env());
  });
}

double HostCopy::TimeN(int iterations) {
  useDevice(device_);
  // The interfering copies go first, so they are already running when the measured stream starts.
  if (bidirectional_)
    for (int i = 0; i < iterations; i++) Enqueue(isrc_, idst_, 2 * bytes_, s1_);
  checkCu(cu.cuEventRecord(start_, s0_), "cuEventRecord");
  for (int i = 0; i < iterations; i++) Enqueue(src_, dst_, bytes_, s0_);
  checkCu(cu.cuEventRecord(stop_, s0_), "cuEventRecord");
  checkCu(cu.cuEventSynchronize(stop_), "cuEventSynchronize");
  checkCu(cu.cuStreamSynchronize(s1_), "cuStreamSynchronize");
  return elapsed(start_, stop_);
}

Napi::Value HostCopy::Time(const Napi::CallbackInfo& info) {
  return timeSync(info, busy_, [this] { return disposedOr(released_); }, [this](int n) { return TimeN(n); });
}

Napi::Value HostCopy::TimeAsync(const Napi::CallbackInfo& info) {
  return timeOnWorker(info, busy_, [this] { return disposedOr(released_); }, [this](int n) { return TimeN(n); });
}

void HostCopy::Dispose(const Napi::CallbackInfo& info) {
  disposeWhenIdle(info, busy_, [this] { Release(); });
}

// ---- PeerCopy ---------------------------------------------------------------------------

Napi::Function PeerCopy::Init(Napi::Env env) {
  return DefineClass(env, "PeerCopy", {
    InstanceMethod("upload", &PeerCopy::Upload),
    InstanceMethod("runChecked", &PeerCopy::RunChecked),
    InstanceMethod("readBack", &PeerCopy::ReadBack),
    InstanceMethod("time", &PeerCopy::Time),
    InstanceMethod("timeAsync", &PeerCopy::TimeAsync),
    InstanceMethod("dispose", &PeerCopy::Dispose),
  });
}

static void enablePeer(int from, int to) {
  useDevice(from);
  CUresult r = cu.cuCtxEnablePeerAccess(deviceContext(to), 0);
  if (r != CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED) checkCu(r, "cuCtxEnablePeerAccess");
}

PeerCopy::PeerCopy(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PeerCopy>(info) {
  auto o = info[0].As<Napi::Object>();
  src_ = o.Get("src").As<Napi::Number>().Int32Value();
  dst_ = o.Get("dst").As<Napi::Number>().Int32Value();
  bytes_ = static_cast<size_t>(o.Get("bytes").As<Napi::Number>().Int64Value());
  std::string initiator = o.Get("initiator").As<Napi::String>().Utf8Value();
  guard(info.Env(), [&] {
    if (bytes_ == 0 || bytes_ % 4 != 0) fail("PeerCopy", "bytes must be a positive multiple of 4");
    if (src_ == dst_) fail("PeerCopy", "source and destination must be different GPUs");
    if (initiator != "src" && initiator != "dst") fail("PeerCopy", "initiator must be src or dst");
    // read: the destination's context pulls from the peer; write: the source's pushes.
    initiator_ = initiator == "dst" ? dst_ : src_;
    int peer = initiator_ == dst_ ? src_ : dst_;
    CUdevice a, b;
    checkCu(cu.cuDeviceGet(&a, initiator_), "cuDeviceGet");
    checkCu(cu.cuDeviceGet(&b, peer), "cuDeviceGet");
    int can = 0;
    checkCu(cu.cuDeviceCanAccessPeer(&can, a, b), "cuDeviceCanAccessPeer");
    if (!can) fail("PeerCopy", "cuda:" + std::to_string(initiator_) + " cannot access cuda:" + std::to_string(peer) + " as a peer");
    enablePeer(initiator_, peer);
    enablePeer(peer, initiator_);
    useDevice(src_);
    checkCu(cu.cuMemAlloc(&sbuf_, bytes_), "cuMemAlloc(src)");
    useDevice(dst_);
    checkCu(cu.cuMemAlloc(&dbuf_, bytes_), "cuMemAlloc(dst)");
    useDevice(initiator_);
    checkCu(cu.cuStreamCreate(&stream_, CU_STREAM_DEFAULT), "cuStreamCreate");
    checkCu(cu.cuEventCreate(&start_, CU_EVENT_DEFAULT), "cuEventCreate");
    checkCu(cu.cuEventCreate(&stop_, CU_EVENT_DEFAULT), "cuEventCreate");
  });
}

PeerCopy::~PeerCopy() { Release(); }

void PeerCopy::Release() {
  if (released_ || !cudaSlot().handle) return;
  released_ = true;
  try {
    if (sbuf_) { useDevice(src_); cu.cuMemFree(sbuf_); }
    if (dbuf_) { useDevice(dst_); cu.cuMemFree(dbuf_); }
    useDevice(initiator_);
  } catch (...) { return; }
  if (start_) cu.cuEventDestroy(start_);
  if (stop_) cu.cuEventDestroy(stop_);
  if (stream_) cu.cuStreamDestroy(stream_);
}

void PeerCopy::Upload(const Napi::CallbackInfo& info) {
  auto data = info[0].As<Napi::Uint8Array>();
  guard(info.Env(), [&] {
    if (busy_) fail("upload", "a timed call is still running");
    if (released_) fail("upload", "case disposed");
    if (data.ByteLength() != bytes_) fail("upload", "source has the wrong length");
    useDevice(src_);
    checkCu(cu.cuMemcpyHtoD(sbuf_, data.Data(), bytes_), "cuMemcpyHtoD");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");
  });
}

Napi::Value PeerCopy::ReadBack(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (busy_) fail("readBack", "a timed call is still running");
    if (released_) fail("readBack", "case disposed");
    useDevice(dst_);
    auto out = Napi::Uint8Array::New(info.Env(), bytes_);
    checkCu(cu.cuMemcpyDtoH(out.Data(), dbuf_, bytes_), "cuMemcpyDtoH");
    return out;
  });
}

Napi::Value PeerCopy::RunChecked(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (released_) fail("runChecked", "case disposed");
    useDevice(dst_);
    checkCu(cu.cuMemsetD32(dbuf_, kPoison, bytes_ / 4), "cuMemsetD32");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");
    useDevice(initiator_);
    checkCu(cu.cuMemcpyPeerAsync(dbuf_, deviceContext(dst_), sbuf_, deviceContext(src_), bytes_, stream_), "cuMemcpyPeerAsync");
    checkCu(cu.cuStreamSynchronize(stream_), "cuStreamSynchronize");
    return ReadBack(info);
  });
}

double PeerCopy::TimeN(int iterations) {
  useDevice(initiator_);
  CUcontext dc = deviceContext(dst_), sc = deviceContext(src_);
  checkCu(cu.cuEventRecord(start_, stream_), "cuEventRecord");
  for (int i = 0; i < iterations; i++) checkCu(cu.cuMemcpyPeerAsync(dbuf_, dc, sbuf_, sc, bytes_, stream_), "cuMemcpyPeerAsync");
  checkCu(cu.cuEventRecord(stop_, stream_), "cuEventRecord");
  checkCu(cu.cuEventSynchronize(stop_), "cuEventSynchronize");
  return elapsed(start_, stop_);
}

Napi::Value PeerCopy::Time(const Napi::CallbackInfo& info) {
  return timeSync(info, busy_, [this] { return disposedOr(released_); }, [this](int n) { return TimeN(n); });
}

Napi::Value PeerCopy::TimeAsync(const Napi::CallbackInfo& info) {
  return timeOnWorker(info, busy_, [this] { return disposedOr(released_); }, [this](int n) { return TimeN(n); });
}

void PeerCopy::Dispose(const Napi::CallbackInfo& info) {
  disposeWhenIdle(info, busy_, [this] { Release(); });
}

Napi::Value CanAccessPeer(const Napi::CallbackInfo& info) {
  int a = info[0].As<Napi::Number>().Int32Value(), b = info[1].As<Napi::Number>().Int32Value();
  return guard(info.Env(), [&]() -> Napi::Value {
    requireLoaded(cudaSlot());
    CUdevice da, db;
    checkCu(cu.cuDeviceGet(&da, a), "cuDeviceGet");
    checkCu(cu.cuDeviceGet(&db, b), "cuDeviceGet");
    int can = 0;
    checkCu(cu.cuDeviceCanAccessPeer(&can, da, db), "cuDeviceCanAccessPeer");
    return Napi::Boolean::New(info.Env(), can != 0);
  });
}

// ---- Launch -----------------------------------------------------------------------------

Napi::Function Launch::Init(Napi::Env env) {
  return DefineClass(env, "Launch", {
    InstanceMethod("runChecked", &Launch::RunChecked),
    InstanceMethod("timeAsync", &Launch::TimeAsync),
    InstanceMethod("timeHostAsync", &Launch::TimeHostAsync),
    InstanceMethod("timeRoundTripAsync", &Launch::TimeRoundTripAsync),
    InstanceMethod("dispose", &Launch::Dispose),
  });
}

Launch::Launch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Launch>(info) {
  device_ = info[0].As<Napi::Object>().Get("device").As<Napi::Number>().Int32Value();
  guard(info.Env(), [&] {
    useDevice(device_);
    fn_ = acceptFunction(device_, "gb_empty");
    checkCu(cu.cuStreamCreate(&stream_, CU_STREAM_DEFAULT), "cuStreamCreate");
    checkCu(cu.cuEventCreate(&start_, CU_EVENT_DEFAULT), "cuEventCreate");
    checkCu(cu.cuEventCreate(&stop_, CU_EVENT_DEFAULT), "cuEventCreate");
    checkCu(cu.cuMemAlloc(&flag_, 4), "cuMemAlloc(flag)");
  });
}

Launch::~Launch() { Release(); }

void Launch::Release() {
  if (released_ || !cudaSlot().handle) return;
  released_ = true;
  try { useDevice(device_); } catch (...) { return; }
  if (flag_) cu.cuMemFree(flag_);
  if (start_) cu.cuEventDestroy(start_);
  if (stop_) cu.cuEventDestroy(stop_);
  if (stream_) cu.cuStreamDestroy(stream_);
}

void Launch::Fire(CUdeviceptr flag, unsigned value) {
  unsigned long long f = flag;
  void* args[] = {&f, &value};
  checkCu(cu.cuLaunchKernel(fn_, 1, 1, 1, 1, 1, 1, 0, stream_, args, nullptr), "cuLaunchKernel(gb_empty)");
}

Napi::Value Launch::RunChecked(const Napi::CallbackInfo& info) {
  unsigned value = info[0].As<Napi::Number>().Uint32Value();
  return guard(info.Env(), [&]() -> Napi::Value {
    if (released_) fail("runChecked", "case disposed");
    useDevice(device_);
    checkCu(cu.cuMemsetD32(flag_, 0, 1), "cuMemsetD32");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");
    Fire(flag_, value);
    checkCu(cu.cuStreamSynchronize(stream_), "cuStreamSynchronize");
    unsigned got = 0;
    checkCu(cu.cuMemcpyDtoH(&got, flag_, 4), "cuMemcpyDtoH");
    return Napi::Number::New(info.Env(), got);
  });
}

Napi::Value Launch::TimeAsync(const Napi::CallbackInfo& info) {
  return timeOnWorker(info, busy_, [this] { return disposedOr(released_); }, [this](int n) {
    useDevice(device_);
    checkCu(cu.cuEventRecord(start_, stream_), "cuEventRecord");
    for (int i = 0; i < n; i++) Fire(0, 0);
    checkCu(cu.cuEventRecord(stop_, stream_), "cuEventRecord");
    checkCu(cu.cuEventSynchronize(stop_), "cuEventSynchronize");
    return static_cast<double>(elapsed(start_, stop_));
  });
}

Napi::Value Launch::TimeHostAsync(const Napi::CallbackInfo& info) {
  return timeOnWorker(info, busy_, [this] { return disposedOr(released_); }, [this](int n) {
    useDevice(device_);
    checkCu(cu.cuStreamSynchronize(stream_), "cuStreamSynchronize");
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i++) Fire(0, 0);
    double ms = hostMs(t0);  // the submissions only; the queue drains outside the clock
    checkCu(cu.cuStreamSynchronize(stream_), "cuStreamSynchronize");
    return ms;
  });
}

Napi::Value Launch::TimeRoundTripAsync(const Napi::CallbackInfo& info) {
  return timeOnWorker(info, busy_, [this] { return disposedOr(released_); }, [this](int n) {
    useDevice(device_);
    checkCu(cu.cuStreamSynchronize(stream_), "cuStreamSynchronize");
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i++) {
      Fire(0, 0);
      checkCu(cu.cuStreamSynchronize(stream_), "cuStreamSynchronize");
    }
    return hostMs(t0);
  });
}

void Launch::Dispose(const Napi::CallbackInfo& info) {
  disposeWhenIdle(info, busy_, [this] { Release(); });
}

// ---- Burn -------------------------------------------------------------------------------

namespace {

struct BurnType {
  int data;
  int compute;
  size_t bytes;
};

BurnType burnType(const std::string& d) {
  if (d == "f32") return {CUDA_R_32F, CUBLAS_COMPUTE_32F, 4};
  if (d == "tf32") return {CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, 4};
  if (d == "f16") return {CUDA_R_16F, CUBLAS_COMPUTE_32F, 2};
  if (d == "bf16") return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, 2};
  fail("Burn", "unknown dtype \"" + d + "\" (expected f32, tf32, f16 or bf16)");
}

cublasLtHandle_t burnHandle() {
  static cublasLtHandle_t h = nullptr;
  if (!h) checkLt(lt.cublasLtCreate(&h), "cublasLtCreate");
  return h;
}

std::vector<uint8_t> encodeAs(const float* src, size_t count, int type) {
  std::vector<uint8_t> out(count * (type == CUDA_R_32F ? 4 : 2));
  if (type == CUDA_R_32F) {
    std::memcpy(out.data(), src, count * 4);
  } else {
    auto* p = reinterpret_cast<uint16_t*>(out.data());
    for (size_t i = 0; i < count; i++) p[i] = type == CUDA_R_16F ? f32ToF16(src[i]) : f32ToBf16(src[i]);
  }
  return out;
}

}  // namespace

Napi::Function Burn::Init(Napi::Env env) {
  return DefineClass(env, "Burn", {
    InstanceMethod("upload", &Burn::Upload),
    InstanceMethod("runChecked", &Burn::RunChecked),
    InstanceMethod("status", &Burn::Status),
    InstanceMethod("time", &Burn::Time),
    InstanceMethod("timeAsync", &Burn::TimeAsync),
    InstanceMethod("dispose", &Burn::Dispose),
  });
}

Burn::Burn(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Burn>(info) {
  auto o = info[0].As<Napi::Object>();
  auto devs = o.Get("devices").As<Napi::Array>();
  size_ = o.Get("size").As<Napi::Number>().Int64Value();
  dtype_ = o.Get("dtype").As<Napi::String>().Utf8Value();
  wsBytes_ = static_cast<size_t>(o.Get("workspaceBytes").As<Napi::Number>().Int64Value());
  for (uint32_t i = 0; i < devs.Length(); i++) {
    Gpu g;
    g.device = devs.Get(i).As<Napi::Number>().Int32Value();
    gpus_.push_back(g);
  }
  guard(info.Env(), [&] {
    requireLoaded(cublasLtSlot());
    if (gpus_.empty()) fail("Burn", "no devices");
    if (size_ < 16) fail("Burn", "size must be at least 16");
    BurnType t = burnType(dtype_);
    elemBytes_ = t.bytes;
    size_t count = static_cast<size_t>(size_ * size_);
    for (auto& g : gpus_) {
      useDevice(g.device);
      g.smCount = smCountOf(g.device);
      g.compare = acceptFunction(g.device, t.bytes == 4 ? "gb_compare32" : "gb_compare16");
      checkCu(cu.cuStreamCreate(&g.stream, CU_STREAM_DEFAULT), "cuStreamCreate");
      checkCu(cu.cuEventCreate(&g.start, CU_EVENT_DEFAULT), "cuEventCreate");
      checkCu(cu.cuEventCreate(&g.stop, CU_EVENT_DEFAULT), "cuEventCreate");
      for (auto* p : {&g.a, &g.b, &g.ref, &g.work}) checkCu(cu.cuMemAlloc(p, count * t.bytes), "cuMemAlloc");
      checkCu(cu.cuMemAlloc(&g.faults, 8), "cuMemAlloc(faults)");
      if (wsBytes_ > 0) checkCu(cu.cuMemAlloc(&g.ws, wsBytes_), "cuMemAlloc(workspace)");
      checkLt(lt.cublasLtMatmulDescCreate(&g.desc, t.compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
      int op = CUBLAS_OP_N;
      checkLt(lt.cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op, sizeof op), "cublasLtMatmulDescSetAttribute(TRANSA)");
      checkLt(lt.cublasLtMatmulDescSetAttribute(g.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op, sizeof op), "cublasLtMatmulDescSetAttribute(TRANSB)");
      for (auto* l : {&g.la, &g.lb, &g.lc}) checkLt(lt.cublasLtMatrixLayoutCreate(l, t.data, size_, size_, size_), "cublasLtMatrixLayoutCreate");
      cublasLtMatmulPreference_t pref = nullptr;
      checkLt(lt.cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
      uint64_t ws = wsBytes_;
      uint32_t mask = CUBLASLT_REDUCTION_SCHEME_DETERMINISTIC;
      cublasStatus_t st = lt.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
      if (st == 0) st = lt.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &mask, sizeof mask);
      cublasLtMatmulHeuristicResult_t h{};
      int returned = 0;
      if (st == 0) st = lt.cublasLtMatmulAlgoGetHeuristic(burnHandle(), g.desc, g.la, g.lb, g.lc, g.lc, pref, 1, &h, &returned);
      lt.cublasLtMatmulPreferenceDestroy(pref);
      checkLt(st, "cublasLtMatmulAlgoGetHeuristic");
      if (returned == 0) throw LibError{"cublasLt", "cublasLtMatmulAlgoGetHeuristic", 15, "CUBLAS_STATUS_NOT_SUPPORTED", "no algorithm for this problem"};
      g.algo = h.algo;
      g.algoWs = h.workspaceSize;
    }
  });
}

Burn::~Burn() { Release(); }

void Burn::Release() {
  if (released_ || !cudaSlot().handle) return;
  released_ = true;
  for (auto& g : gpus_) {
    try { useDevice(g.device); } catch (...) { continue; }
    if (g.desc) lt.cublasLtMatmulDescDestroy(g.desc);
    for (auto l : {g.la, g.lb, g.lc}) if (l) lt.cublasLtMatrixLayoutDestroy(l);
    for (auto p : {g.a, g.b, g.ref, g.work, g.ws, g.faults}) if (p) cu.cuMemFree(p);
    if (g.start) cu.cuEventDestroy(g.start);
    if (g.stop) cu.cuEventDestroy(g.stop);
    if (g.stream) cu.cuStreamDestroy(g.stream);
  }
}

void Burn::Gemm(Gpu& g, CUdeviceptr out) {
  // Row-major C = A·B as the column-major C^T = B^T·A^T, as gemm.cc does.
  const float alpha = 1.0f, beta = 0.0f;
  checkLt(lt.cublasLtMatmul(burnHandle(), g.desc, &alpha, reinterpret_cast<void*>(g.b), g.la, reinterpret_cast<void*>(g.a), g.lb,
                            &beta, reinterpret_cast<void*>(out), g.lc, reinterpret_cast<void*>(out), g.lc, &g.algo,
                            g.algoWs ? reinterpret_cast<void*>(g.ws) : nullptr, g.algoWs, g.stream),
          "cublasLtMatmul");
}

void Burn::Upload(const Napi::CallbackInfo& info) {
  auto a = info[0].As<Napi::Float32Array>();
  auto b = info[1].As<Napi::Float32Array>();
  guard(info.Env(), [&] {
    if (busy_) fail("upload", "a timed call is still running");
    if (released_) fail("upload", "case disposed");
    size_t count = static_cast<size_t>(size_ * size_);
    if (a.ElementLength() != count || b.ElementLength() != count) fail("upload", "A or B has the wrong length");
    BurnType t = burnType(dtype_);
    auto ea = encodeAs(a.Data(), count, t.data), eb = encodeAs(b.Data(), count, t.data);
    for (auto& g : gpus_) {
      useDevice(g.device);
      checkCu(cu.cuMemcpyHtoD(g.a, ea.data(), ea.size()), "cuMemcpyHtoD(A)");
      checkCu(cu.cuMemcpyHtoD(g.b, eb.data(), eb.size()), "cuMemcpyHtoD(B)");
      checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");
    }
    checked_ = false;
  });
}

Napi::Value Burn::RunChecked(const Napi::CallbackInfo& info) {
  auto rows = info[0].As<Napi::Int32Array>();
  return guard(info.Env(), [&]() -> Napi::Value {
    if (released_) fail("runChecked", "case disposed");
    size_t count = static_cast<size_t>(size_ * size_), n = static_cast<size_t>(size_);
    BurnType t = burnType(dtype_);
    for (size_t r = 0; r < rows.ElementLength(); r++)
      if (rows[r] < 0 || rows[r] >= size_) fail("runChecked", "row out of range");
    auto out = Napi::Float32Array::New(info.Env(), gpus_.size() * rows.ElementLength() * n);
    size_t at = 0;
    std::vector<uint8_t> row(n * t.bytes);
    for (auto& g : gpus_) {
      useDevice(g.device);
      // Poison the reference (NaN) so a GEMM that writes nothing cannot pass, zero the counter.
      if (t.bytes == 4) checkCu(cu.cuMemsetD32(g.ref, kPoison, count), "cuMemsetD32");
      else checkCu(cu.cuMemsetD16(g.ref, t.data == CUDA_R_16F ? 0x7e00 : 0x7fc0, count), "cuMemsetD16");
      checkCu(cu.cuMemsetD32(g.faults, 0, 2), "cuMemsetD32");
      checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");
      Gemm(g, g.ref);
      checkCu(cu.cuStreamSynchronize(g.stream), "cuStreamSynchronize");
      g.gemms = 0;
      for (size_t r = 0; r < rows.ElementLength(); r++) {
        checkCu(cu.cuMemcpyDtoH(row.data(), g.ref + static_cast<size_t>(rows[r]) * n * t.bytes, row.size()), "cuMemcpyDtoH");
        for (size_t c = 0; c < n; c++) {
          float v;
          if (t.bytes == 4) std::memcpy(&v, row.data() + 4 * c, 4);
          else {
            uint16_t hbits;
            std::memcpy(&hbits, row.data() + 2 * c, 2);
            v = t.data == CUDA_R_16F ? f16ToF32(hbits) : bf16ToF32(hbits);
          }
          out[at++] = v;
        }
      }
    }
    checked_ = true;
    return out;
  });
}

double Burn::TimeN(int iterations) {
  size_t count = static_cast<size_t>(size_ * size_);
  unsigned long long n = count;
  // Round robin over the GPUs, one GEMM and one compare each, so a full launch queue on one
  // GPU never leaves the others idle.
  for (int i = 0; i < iterations; i++) {
    for (auto& g : gpus_) {
      useDevice(g.device);
      if (i == 0) checkCu(cu.cuEventRecord(g.start, g.stream), "cuEventRecord");
      Gemm(g, g.work);
      unsigned long long pw = g.work, pr = g.ref, pf = g.faults;
      void* args[] = {&pw, &pr, &n, &pf};
      checkCu(cu.cuLaunchKernel(g.compare, static_cast<unsigned>(4 * g.smCount), 1, 1, 256, 1, 1, 0, g.stream, args, nullptr),
              "cuLaunchKernel(compare)");
      if (i == iterations - 1) checkCu(cu.cuEventRecord(g.stop, g.stream), "cuEventRecord");
    }
  }
  double slowest = 0;
  for (auto& g : gpus_) {
    useDevice(g.device);
    checkCu(cu.cuEventSynchronize(g.stop), "cuEventSynchronize");
    g.lastMs = elapsed(g.start, g.stop);
    g.gemms += iterations;
    slowest = std::max(slowest, g.lastMs);
  }
  return slowest;
}

Napi::Value Burn::Status(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (busy_) fail("status", "a timed call is still running");
    if (released_) fail("status", "case disposed");
    Napi::Array out = Napi::Array::New(env, gpus_.size());
    for (size_t i = 0; i < gpus_.size(); i++) {
      auto& g = gpus_[i];
      useDevice(g.device);
      unsigned long long faults = 0;
      checkCu(cu.cuMemcpyDtoH(&faults, g.faults, 8), "cuMemcpyDtoH(faults)");
      Napi::Object o = Napi::Object::New(env);
      o.Set("device", g.device);
      o.Set("faultyElements", static_cast<double>(faults));
      o.Set("gemms", g.gemms);
      o.Set("lastMs", g.lastMs);
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  });
}

Napi::Value Burn::Time(const Napi::CallbackInfo& info) {
  return timeSync(info, busy_, [this] { return std::string(released_ ? "case disposed" : checked_ ? "" : "call runChecked() first"); },
                  [this](int n) { return TimeN(n); });
}

Napi::Value Burn::TimeAsync(const Napi::CallbackInfo& info) {
  return timeOnWorker(info, busy_, [this] { return std::string(released_ ? "case disposed" : checked_ ? "" : "call runChecked() first"); },
                      [this](int n) { return TimeN(n); });
}

void Burn::Dispose(const Napi::CallbackInfo& info) {
  disposeWhenIdle(info, busy_, [this] { Release(); });
}

}  // namespace gb
