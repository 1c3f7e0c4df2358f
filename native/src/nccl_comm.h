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
  /** This rank's state, for the group calls below (several ranks driven by one thread). */
  std::shared_ptr<State> state() const { return s_; }

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

// One call over several NcclComm ranks of this process, issued by one thread inside one
// ncclGroupStart/ncclGroupEnd (NCCL requires a group when one thread drives several GPUs).
// Each starts the call on a thread of its own and returns { poll() }: undefined while it
// runs, then its outcome once, or its error thrown.

/** ncclGroupConnect(comms, uniqueId): every rank's ncclCommInitRank in one group. */
Napi::Value NcclGroupConnect(const Napi::CallbackInfo& info);
/** ncclGroupChecked(comms): one call per rank in one group; poll() gives the bytes each rank's check reads (setup's `read`). */
Napi::Value NcclGroupChecked(const Napi::CallbackInfo& info);
/** ncclGroupTime(comms, n): n grouped calls between CUDA events; poll() gives each rank's ms. */
Napi::Value NcclGroupTime(const Napi::CallbackInfo& info);

}  // namespace gb
