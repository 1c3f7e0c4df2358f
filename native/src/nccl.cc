// NCCL all-reduce in one process over several local GPUs (ncclCommInitAll): one rank per
// GPU, each with its own stream, buffers and events; one iteration is a group of one
// ncclAllReduce per rank. Time is the slowest rank's, as nccl-tests reports.
#include "nccl.h"

#include <algorithm>
#include <vector>

#include "common.h"

namespace gb {

NcclTypeInfo ncclTypeOf(const std::string& d, const char* who) {
  if (d == "f32") return {7, 4};
  if (d == "f16") return {6, 2};
  if (d == "bf16") return {9, 2};
  if (d == "f64") return {8, 8};
  if (d == "i32") return {2, 4};
  fail(who, "unsupported dtype \"" + d + "\" (f32, f16, bf16, f64, i32)");
}

int ncclOpOf(const std::string& o, const char* who) {
  if (o == "sum") return 0;
  if (o == "prod") return 1;
  if (o == "max") return 2;
  if (o == "min") return 3;
  if (o == "avg") return 4;
  fail(who, "unsupported op \"" + o + "\" (sum, prod, max, min, avg)");
}

namespace {
using TypeInfo = NcclTypeInfo;
TypeInfo ncclType(const std::string& d) { return ncclTypeOf(d, "NcclAllReduce"); }
int ncclOp(const std::string& o) { return ncclOpOf(o, "NcclAllReduce"); }
}  // namespace

Napi::Function NcclAllReduce::Init(Napi::Env env) {
  return DefineClass(env, "NcclAllReduce", {
    InstanceMethod("upload", &NcclAllReduce::Upload),
    InstanceMethod("runChecked", &NcclAllReduce::RunChecked),
    InstanceMethod("time", &NcclAllReduce::Time),
    InstanceMethod("timeAsync", &NcclAllReduce::TimeAsync),
    InstanceMethod("dispose", &NcclAllReduce::Dispose),
  });
}

NcclAllReduce::NcclAllReduce(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NcclAllReduce>(info) {
  auto o = info[0].As<Napi::Object>();
  auto devs = o.Get("devices").As<Napi::Array>();
  for (uint32_t i = 0; i < devs.Length(); i++) devices_.push_back(devs.Get(i).As<Napi::Number>().Int32Value());
  count_ = static_cast<size_t>(o.Get("count").As<Napi::Number>().Int64Value());
  dtype_ = o.Get("dtype").As<Napi::String>().Utf8Value();
  op_ = o.Get("op").As<Napi::String>().Utf8Value();
  inPlace_ = o.Get("inPlace").As<Napi::Boolean>().Value();
  guard(info.Env(), [&] {
    requireLoaded(ncclSlot());
    requireLoaded(cudaSlot());
    if (devices_.empty()) fail("NcclAllReduce", "no devices");
    if (count_ == 0) fail("NcclAllReduce", "count must be positive");
    TypeInfo t = ncclType(dtype_);
    ncclOp(op_);
    ranks_.resize(devices_.size());
    for (size_t r = 0; r < devices_.size(); r++) {
      Rank& k = ranks_[r];
      useDevice(devices_[r]);
      checkCu(cu.cuStreamCreate(&k.stream, CU_STREAM_DEFAULT), "cuStreamCreate");
      checkCu(cu.cuEventCreate(&k.start, CU_EVENT_DEFAULT), "cuEventCreate");
      checkCu(cu.cuEventCreate(&k.stop, CU_EVENT_DEFAULT), "cuEventCreate");
      checkCu(cu.cuMemAlloc(&k.send, count_ * t.size), "cuMemAlloc(send)");
      k.recv = k.send;
      if (!inPlace_) checkCu(cu.cuMemAlloc(&k.recv, count_ * t.size), "cuMemAlloc(recv)");
    }
    std::vector<ncclComm_t> comms(devices_.size());
    checkNccl(nccl.ncclCommInitAll(comms.data(), static_cast<int>(devices_.size()), devices_.data()), "ncclCommInitAll");
    for (size_t r = 0; r < devices_.size(); r++) ranks_[r].comm = comms[r];
  });
}

NcclAllReduce::~NcclAllReduce() { Release(); }

void NcclAllReduce::Release() {
  if (released_ || !cudaSlot().handle) return;
  released_ = true;
  for (size_t r = 0; r < ranks_.size(); r++) {
    Rank& k = ranks_[r];
    try { useDevice(devices_[r]); } catch (...) { continue; }
    if (k.comm && nccl.ncclCommDestroy) nccl.ncclCommDestroy(k.comm);
    if (k.recv && k.recv != k.send) cu.cuMemFree(k.recv);
    if (k.send) cu.cuMemFree(k.send);
    if (k.start) cu.cuEventDestroy(k.start);
    if (k.stop) cu.cuEventDestroy(k.stop);
    if (k.stream) cu.cuStreamDestroy(k.stream);
  }
}

void NcclAllReduce::Upload(const Napi::CallbackInfo& info) {
  int rank = info[0].As<Napi::Number>().Int32Value();
  auto data = info[1].As<Napi::Float32Array>();
  guard(info.Env(), [&] {
    if (busy_) fail("upload", "a timed call is still running");
    if (released_) fail("upload", "disposed");
    if (rank < 0 || static_cast<size_t>(rank) >= ranks_.size()) fail("upload", "rank out of range");
    if (data.ElementLength() != count_) fail("upload", "data has the wrong length");
    useDevice(devices_[static_cast<size_t>(rank)]);
    TypeInfo t = ncclType(dtype_);
    std::vector<uint8_t> buf(count_ * t.size);
    const float* src = data.Data();
    for (size_t i = 0; i < count_; i++) {
      if (t.nccl == 7) std::memcpy(&buf[i * 4], &src[i], 4);
      else if (t.nccl == 6) { uint16_t h = f32ToF16(src[i]); std::memcpy(&buf[i * 2], &h, 2); }
      else if (t.nccl == 9) { uint16_t h = f32ToBf16(src[i]); std::memcpy(&buf[i * 2], &h, 2); }
      else if (t.nccl == 8) { double d = src[i]; std::memcpy(&buf[i * 8], &d, 8); }
      else { int32_t v = static_cast<int32_t>(src[i]); std::memcpy(&buf[i * 4], &v, 4); }
    }
    checkCu(cu.cuMemcpyHtoD(ranks_[static_cast<size_t>(rank)].send, buf.data(), buf.size()), "cuMemcpyHtoD");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");  // uploads and poison done before any kernel
  });
}

void NcclAllReduce::Launch() {
  TypeInfo t = ncclType(dtype_);
  int op = ncclOp(op_);
  checkNccl(nccl.ncclGroupStart(), "ncclGroupStart");
  for (auto& k : ranks_)
    checkNccl(nccl.ncclAllReduce(reinterpret_cast<void*>(k.send), reinterpret_cast<void*>(k.recv), count_, t.nccl, op, k.comm, k.stream), "ncclAllReduce");
  checkNccl(nccl.ncclGroupEnd(), "ncclGroupEnd");
}

Napi::Value NcclAllReduce::RunChecked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (released_) fail("runChecked", "disposed");
    TypeInfo t = ncclType(dtype_);
    if (!inPlace_)
      for (size_t r = 0; r < ranks_.size(); r++) {
        useDevice(devices_[r]);
        // NaN in the receive buffer (all-ones is a NaN for f64); for i32 −2^31+15, the JS
        // poison, which no checked input can sum, multiply or pick to (−1 could be an
        // answer), so an untouched rank cannot pass.
        if (t.size == 2) checkCu(cu.cuMemsetD16(ranks_[r].recv, t.nccl == 6 ? 0x7e00 : 0x7fc0, count_), "cuMemsetD16");
        else checkCu(cu.cuMemsetD32(ranks_[r].recv, t.nccl == 7 ? 0x7fc00000u : t.nccl == 8 ? 0xffffffffu : 0x8000000fu, count_ * t.size / 4), "cuMemsetD32");
        checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");  // uploads and poison done before any kernel
      }
    Launch();
    Napi::Array out = Napi::Array::New(env, ranks_.size());
    for (size_t r = 0; r < ranks_.size(); r++) {
      useDevice(devices_[r]);
      checkCu(cu.cuStreamSynchronize(ranks_[r].stream), "cuStreamSynchronize");
      std::vector<uint8_t> buf(count_ * t.size);
      checkCu(cu.cuMemcpyDtoH(buf.data(), ranks_[r].recv, buf.size()), "cuMemcpyDtoH");
      auto a = Napi::Float64Array::New(env, count_);
      for (size_t i = 0; i < count_; i++) {
        double v;
        if (t.nccl == 7) { float f; std::memcpy(&f, &buf[i * 4], 4); v = f; }
        else if (t.nccl == 6) { uint16_t h; std::memcpy(&h, &buf[i * 2], 2); v = f16ToF32(h); }
        else if (t.nccl == 9) { uint16_t h; std::memcpy(&h, &buf[i * 2], 2); v = bf16ToF32(h); }
        else if (t.nccl == 8) std::memcpy(&v, &buf[i * 8], 8);
        else { int32_t x; std::memcpy(&x, &buf[i * 4], 4); v = x; }
        a[i] = v;
      }
      out.Set(static_cast<uint32_t>(r), a);
    }
    return out;
  });
}

double NcclAllReduce::TimeN(int iterations) {
  for (size_t r = 0; r < ranks_.size(); r++) {
    useDevice(devices_[r]);
    checkCu(cu.cuEventRecord(ranks_[r].start, ranks_[r].stream), "cuEventRecord");
  }
  for (int i = 0; i < iterations; i++) Launch();
  float slowest = 0;
  for (size_t r = 0; r < ranks_.size(); r++) {
    useDevice(devices_[r]);
    checkCu(cu.cuEventRecord(ranks_[r].stop, ranks_[r].stream), "cuEventRecord");
    checkCu(cu.cuEventSynchronize(ranks_[r].stop), "cuEventSynchronize");
    float ms = 0;
    checkCu(cu.cuEventElapsedTime(&ms, ranks_[r].start, ranks_[r].stop), "cuEventElapsedTime");
    slowest = std::max(slowest, ms);
  }
  return slowest;
}

Napi::Value NcclAllReduce::Time(const Napi::CallbackInfo& info) {
  return timeSync(info, busy_, [this] { return std::string(released_ ? "disposed" : ""); },
                  [this](int n) { return TimeN(n); });
}

Napi::Value NcclAllReduce::TimeAsync(const Napi::CallbackInfo& info) {
  return timeOnWorker(info, busy_, [this] { return std::string(released_ ? "disposed" : ""); },
                      [this](int n) { return TimeN(n); });
}

void NcclAllReduce::Dispose(const Napi::CallbackInfo& info) {
  disposeWhenIdle(info, busy_, [this] { Release(); });
}

}  // namespace gb
