// The NcclAllReduce class exposed to JavaScript (see nccl.cc).
#pragma once
#include <napi.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "api.h"

namespace gb {

/** An NCCL element type: its ncclDataType_t and bytes per element. */
struct NcclTypeInfo { int nccl; size_t size; };
/** ncclDataType_t of a contract dtype name; `who` names the caller in the error. */
NcclTypeInfo ncclTypeOf(const std::string& d, const char* who);
/** ncclRedOp_t of a contract op name. */
int ncclOpOf(const std::string& o, const char* who);

class NcclAllReduce : public Napi::ObjectWrap<NcclAllReduce> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit NcclAllReduce(const Napi::CallbackInfo& info);
  ~NcclAllReduce() override;

 private:
  struct Rank {
    ncclComm_t comm = nullptr;
    CUstream stream = nullptr;
    CUevent start = nullptr, stop = nullptr;
    CUdeviceptr send = 0, recv = 0;
  };
  void Release();
  void Launch();
  void Upload(const Napi::CallbackInfo& info);
  Napi::Value RunChecked(const Napi::CallbackInfo& info);
  Napi::Value Time(const Napi::CallbackInfo& info);
  Napi::Value TimeAsync(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);
  double TimeN(int iterations);

  std::atomic<bool> busy_{false};

  std::vector<int> devices_;
  std::vector<Rank> ranks_;
  size_t count_ = 0;
  std::string dtype_, op_;
  bool inPlace_ = false;
  bool released_ = false;
};

}  // namespace gb
