// The Gemm class exposed to JavaScript (see gemm.cc).
#pragma once
#include <napi.h>

#include <atomic>
#include <cstring>
#include <string>

#include "api.h"

namespace gb {

class Gemm : public Napi::ObjectWrap<Gemm> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Gemm(const Napi::CallbackInfo& info);
  ~Gemm() override;

 private:
  void Create();
  void Release();
  void Launch(const cublasLtMatmulAlgo_t* algo, size_t ws);
  float TimeWith(const cublasLtMatmulAlgo_t* algo, size_t ws, int iterations);
  // The tuned algorithm, n times, on this thread's context (sync or worker).
  double TimedRun(int iterations);
  void Upload(const Napi::CallbackInfo& info);
  Napi::Value Tune(const Napi::CallbackInfo& info);
  Napi::Value RunChecked(const Napi::CallbackInfo& info);
  Napi::Value Time(const Napi::CallbackInfo& info);
  Napi::Value TimeAsync(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);

  std::atomic<bool> busy_{false};
  int device_ = 0;
  int64_t m_ = 0, n_ = 0, k_ = 0, batch_ = 1;
  std::string dtype_;
  size_t wsBytes_ = 0;
  CUstream stream_ = nullptr;
  CUevent start_ = nullptr, stop_ = nullptr;
  CUdeviceptr a_ = 0, b_ = 0, d_ = 0, ws_ = 0;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, lc_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  size_t algoWs_ = 0;
  bool tuned_ = false;
  bool released_ = false;
};

/** Device-to-device copy of `bytes`: the memory ceiling of a roofline. */
class Copy : public Napi::ObjectWrap<Copy> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Copy(const Napi::CallbackInfo& info);
  ~Copy() override;

 private:
  void Release();
  void Upload(const Napi::CallbackInfo& info);
  Napi::Value RunChecked(const Napi::CallbackInfo& info);
  Napi::Value Time(const Napi::CallbackInfo& info);
  Napi::Value TimeAsync(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  double TimeN(int iterations);

  std::atomic<bool> busy_{false};
  int device_ = 0;
  size_t bytes_ = 0;
  CUstream stream_ = nullptr;
  CUevent start_ = nullptr, stop_ = nullptr;
  CUdeviceptr src_ = 0, dst_ = 0;
  bool released_ = false;
};

}  // namespace gb
