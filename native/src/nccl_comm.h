// The NcclComm class exposed to JavaScript (see nccl_comm.cc): one rank of an NCCL
// communicator that spans processes, one GPU per process.
#pragma once
#include <napi.h>

#include <memory>

#include "api.h"

namespace gb {

class NcclComm : public Napi::ObjectWrap<NcclComm> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit NcclComm(const Napi::CallbackInfo& info);
  ~NcclComm() override;
  struct State;

 private:
  Napi::Value Connect(const Napi::CallbackInfo& info);
  void Setup(const Napi::CallbackInfo& info);
  void Upload(const Napi::CallbackInfo& info);
  Napi::Value StartChecked(const Napi::CallbackInfo& info);
  Napi::Value StartTime(const Napi::CallbackInfo& info);
  Napi::Value Poll(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<State> s_;
};

/** ncclGetUniqueId's 128 bytes (rank 0 calls it and hands them to every rank). */
Napi::Value NcclUniqueIdBytes(const Napi::CallbackInfo& info);

}  // namespace gb
