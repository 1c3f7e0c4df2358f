// The node-acceptance classes (see accept.cc): host<->device copies (copy engine and SM),
// peer copies between local GPUs, kernel-launch latency and the GEMM burn.
#pragma once
#include <napi.h>

#include <atomic>
#include <string>
#include <vector>

#include "api.h"

namespace gb {

/** One end of a copy: pinned host memory (with its device-mapped address) or device memory. */
struct CopyBuffer {
  bool host = false;
  void* h = nullptr;
  CUdeviceptr d = 0;
  size_t bytes = 0;
};

/**
 * Host<->device copies as nvbandwidth's host_to_device_* / device_to_host_* testcases:
 * pinned host memory, the copy engine (cuMemcpy*Async) or an SM copy kernel, one direction,
 * or the measured direction with an interfering copy of twice the size the other way.
 */
class HostCopy : public Napi::ObjectWrap<HostCopy> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit HostCopy(const Napi::CallbackInfo& info);
  ~HostCopy() override;

 private:
  void Release();
  void Enqueue(const CopyBuffer& src, const CopyBuffer& dst, size_t bytes, CUstream s);
  void Upload(const Napi::CallbackInfo& info);
  Napi::Value RunChecked(const Napi::CallbackInfo& info);
  Napi::Value ReadBack(const Napi::CallbackInfo& info);
  Napi::Value Time(const Napi::CallbackInfo& info);
  Napi::Value TimeAsync(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  double TimeN(int iterations);
  Napi::Value Contents(Napi::Env env);

  std::atomic<bool> busy_{false};
  int device_ = 0;
  size_t bytes_ = 0;
  bool toDevice_ = true, bidirectional_ = false, sm_ = false;
  int smCount_ = 1;
  CUfunction copyFn_ = nullptr;  // gb_copy, for the SM engine
  CUstream s0_ = nullptr, s1_ = nullptr;
  CUevent start_ = nullptr, stop_ = nullptr;
  CopyBuffer src_, dst_, isrc_, idst_;  // measured, and the interfering copy (bidirectional)
  bool released_ = false;
};

/** A copy between two local GPUs as nvbandwidth's device_to_device_memcpy_{read,write}_ce. */
class PeerCopy : public Napi::ObjectWrap<PeerCopy> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit PeerCopy(const Napi::CallbackInfo& info);
  ~PeerCopy() override;

 private:
  void Release();
  void Upload(const Napi::CallbackInfo& info);
  Napi::Value RunChecked(const Napi::CallbackInfo& info);
  Napi::Value ReadBack(const Napi::CallbackInfo& info);
  Napi::Value Time(const Napi::CallbackInfo& info);
  Napi::Value TimeAsync(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  double TimeN(int iterations);

  std::atomic<bool> busy_{false};
  int src_ = 0, dst_ = 0, initiator_ = 0;
  size_t bytes_ = 0;
  CUstream stream_ = nullptr;
  CUevent start_ = nullptr, stop_ = nullptr;
  CUdeviceptr sbuf_ = 0, dbuf_ = 0;
  bool released_ = false;
};

/** Launch latency of an empty kernel: device time of back-to-back launches, and host time. */
class Launch : public Napi::ObjectWrap<Launch> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Launch(const Napi::CallbackInfo& info);
  ~Launch() override;

 private:
  void Release();
  void Fire(CUdeviceptr flag, unsigned value);
  Napi::Value RunChecked(const Napi::CallbackInfo& info);
  Napi::Value TimeAsync(const Napi::CallbackInfo& info);
  Napi::Value TimeHostAsync(const Napi::CallbackInfo& info);
  Napi::Value TimeRoundTripAsync(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);

  std::atomic<bool> busy_{false};
  int device_ = 0;
  CUfunction fn_ = nullptr;
  CUstream stream_ = nullptr;
  CUevent start_ = nullptr, stop_ = nullptr;
  CUdeviceptr flag_ = 0;
  bool released_ = false;
};

/**
 * gpu-burn's test on cuBLASLt: one GEMM per GPU gives the reference result; every later
 * GEMM (same inputs, same algorithm) is compared with it bit for bit on the GPU, faulty
 * elements counted per GPU. Every GPU of the set runs at once.
 */
class Burn : public Napi::ObjectWrap<Burn> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Burn(const Napi::CallbackInfo& info);
  ~Burn() override;

 private:
  struct Gpu {
    int device = 0;
    int smCount = 1;
    CUstream stream = nullptr;
    CUevent start = nullptr, stop = nullptr;
    CUdeviceptr a = 0, b = 0, ref = 0, work = 0, ws = 0, faults = 0;
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    cublasLtMatmulAlgo_t algo{};
    size_t algoWs = 0;
    CUfunction compare = nullptr;
    double gemms = 0, lastMs = 0;
  };
  void Release();
  void Gemm(Gpu& g, CUdeviceptr out);
  void Upload(const Napi::CallbackInfo& info);
  Napi::Value RunChecked(const Napi::CallbackInfo& info);
  Napi::Value Status(const Napi::CallbackInfo& info);
  Napi::Value Time(const Napi::CallbackInfo& info);
  Napi::Value TimeAsync(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  double TimeN(int iterations);

  std::atomic<bool> busy_{false};
  std::vector<Gpu> gpus_;
  int64_t size_ = 0;
  std::string dtype_;
  size_t elemBytes_ = 4;
  size_t wsBytes_ = 0;
  bool checked_ = false;
  bool released_ = false;
};

/** cuDeviceCanAccessPeer(a, b). */
Napi::Value CanAccessPeer(const Napi::CallbackInfo& info);
/** NVML health counters of one GPU (nvml_health.cc). */
Napi::Value NvmlHealth(const Napi::CallbackInfo& info);

}  // namespace gb
