// Device-to-device copy bandwidth: cuMemcpyDtoDAsync between two allocations, timed with
// CUDA events; bytes read + written per copy is 2 × size.
#include "common.h"
#include "gemm.h"

namespace gb {

Napi::Function Copy::Init(Napi::Env env) {
  return DefineClass(env, "Copy", {
    InstanceMethod("upload", &Copy::Upload),
    InstanceMethod("runChecked", &Copy::RunChecked),
    InstanceMethod("time", &Copy::Time),
    InstanceMethod("timeAsync", &Copy::TimeAsync),
    InstanceMethod("dispose", &Copy::Dispose),
  });
}

Copy::Copy(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Copy>(info) {
  auto o = info[0].As<Napi::Object>();
  device_ = o.Get("device").As<Napi::Number>().Int32Value();
  bytes_ = static_cast<size_t>(o.Get("bytes").As<Napi::Number>().Int64Value());
  guard(info.Env(), [&] {
    if (bytes_ == 0 || bytes_ % 4 != 0) fail("Copy", "bytes must be a positive multiple of 4");
    useDevice(device_);
    checkCu(cu.cuStreamCreate(&stream_, CU_STREAM_DEFAULT), "cuStreamCreate");
    checkCu(cu.cuEventCreate(&start_, CU_EVENT_DEFAULT), "cuEventCreate");
    checkCu(cu.cuEventCreate(&stop_, CU_EVENT_DEFAULT), "cuEventCreate");
    checkCu(cu.cuMemAlloc(&src_, bytes_), "cuMemAlloc(src)");
    checkCu(cu.cuMemAlloc(&dst_, bytes_), "cuMemAlloc(dst)");
  });
}

Copy::~Copy() { Release(); }

void Copy::Release() {
  if (released_ || !cudaSlot().handle) return;
  released_ = true;
  try { useDevice(device_); } catch (...) { return; }
  for (auto p : {src_, dst_}) if (p) cu.cuMemFree(p);
  if (start_) cu.cuEventDestroy(start_);
  if (stop_) cu.cuEventDestroy(stop_);
  if (stream_) cu.cuStreamDestroy(stream_);
}

void Copy::Upload(const Napi::CallbackInfo& info) {
  auto src = info[0].As<Napi::Float32Array>();
  guard(info.Env(), [&] {
    if (busy_) fail("upload", "a timed call is still running");
    if (released_) fail("upload", "case disposed");
    if (src.ByteLength() != bytes_) fail("upload", "source has the wrong length");
    useDevice(device_);
    checkCu(cu.cuMemcpyHtoD(src_, src.Data(), bytes_), "cuMemcpyHtoD");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");  // uploads and poison done before any kernel
  });
}

Napi::Value Copy::RunChecked(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (released_) fail("runChecked", "case disposed");
    useDevice(device_);
    checkCu(cu.cuMemsetD32(dst_, 0x7fc00000u, bytes_ / 4), "cuMemsetD32");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");  // uploads and poison done before any kernel
    checkCu(cu.cuMemcpyDtoDAsync(dst_, src_, bytes_, stream_), "cuMemcpyDtoDAsync");
    checkCu(cu.cuStreamSynchronize(stream_), "cuStreamSynchronize");
    auto out = Napi::Float32Array::New(info.Env(), bytes_ / 4);
    checkCu(cu.cuMemcpyDtoH(out.Data(), dst_, bytes_), "cuMemcpyDtoH");
    return out;
  });
}

double Copy::TimeN(int iterations) {
  useDevice(device_);
  checkCu(cu.cuEventRecord(start_, stream_), "cuEventRecord");
  for (int i = 0; i < iterations; i++) checkCu(cu.cuMemcpyDtoDAsync(dst_, src_, bytes_, stream_), "cuMemcpyDtoDAsync");
  checkCu(cu.cuEventRecord(stop_, stream_), "cuEventRecord");
  checkCu(cu.cuEventSynchronize(stop_), "cuEventSynchronize");
  float ms = 0;
  checkCu(cu.cuEventElapsedTime(&ms, start_, stop_), "cuEventElapsedTime");
  return ms;
}

Napi::Value Copy::Time(const Napi::CallbackInfo& info) {
  return timeSync(info, busy_, [this] { return std::string(released_ ? "case disposed" : ""); },
                  [this](int n) { return TimeN(n); });
}

Napi::Value Copy::TimeAsync(const Napi::CallbackInfo& info) {
  return timeOnWorker(info, busy_, [this] { return std::string(released_ ? "case disposed" : ""); },
                      [this](int n) { return TimeN(n); });
}

void Copy::Dispose(const Napi::CallbackInfo& info) {
  disposeWhenIdle(info, busy_, [this] { Release(); });
}

}  // namespace gb
