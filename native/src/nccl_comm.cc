// One rank of an NCCL communicator across processes (ncclCommInitRank), one GPU per
// process: gpubench's control plane hands the ncclUniqueId from rank 0 to every rank, and
// each process builds its rank here. Every call that can block on the other ranks (the
// device coming up, ncclCommInitRank, a collective and its stream) runs on a thread of its
// own, which JavaScript polls with a deadline: a rank that never arrives or a collective
// that never completes cannot hold the event loop (heartbeats go on), and `abort()`
// (ncclCommAbort) ends the communicator. A thread stuck in the library is detached, never
// joined: its process exits anyway once the run has failed.
//
// A case is one collective on this communicator: `setup` allocates its buffers, `upload`
// poisons the output (NaN; −2^31+15 for i32) and copies this rank's input in, the checked
// job runs one call and reads this rank's output back, the timed job runs n calls between
// CUDA events on the communicator's stream.
#include "nccl_comm.h"

#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"
#include "nccl.h"

namespace gb {

struct NcclComm::State {
  std::mutex mu;
  int device = 0, nranks = 0, rank = 0;
  ncclComm_t comm = nullptr;
  CUstream stream = nullptr;
  CUevent start = nullptr, stop = nullptr;
  bool opened = false, connected = false, aborted = false, released = false;
  // The case set up now.
  std::string kind;
  NcclTypeInfo type{7, 4};
  int op = 0, root = 0;
  bool inPlace = false;
  size_t sendCount = 0, recvCount = 0;
  CUdeviceptr sendAlloc = 0, recvAlloc = 0, send = 0, recv = 0;
  // The job in flight: `busy` until JavaScript has polled its outcome.
  bool busy = false, done = false, failed = false;
  LibError error{};
  double number = 0;
  std::vector<double> values;
  bool hasValues = false;
};

namespace {
using State = NcclComm::State;

/** Runs `fn` on a detached thread; its outcome waits in the state for `poll()`. */
void startJob(const std::shared_ptr<State>& s, const char* what, std::function<void(State&)> fn) {
  {
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->busy) fail(what, "a call on this communicator is still running");
    if (s->aborted) fail(what, "the communicator was aborted");
    if (s->released) fail(what, "disposed");
    s->busy = true;
    s->done = s->failed = s->hasValues = false;
    s->values.clear();
  }
  std::thread([s, fn = std::move(fn)] {
    LibError err{};
    bool failed = false;
    try {
      fn(*s);
    } catch (const LibError& e) {
      failed = true;
      err = e;
    } catch (const std::exception& e) {
      failed = true;
      err = LibError{"gpubench", "nccl", -1, "GPUBENCH_ERROR", e.what()};
    }
    std::lock_guard<std::mutex> lock(s->mu);
    s->failed = failed;
    s->error = err;
    s->done = true;
  }).detach();
}

/** After a collective: the communicator's own asynchronous error, if any (a peer failed, an abort). */
void checkAsync(State& s, const char* call) {
  ncclResult_t async = 0;
  checkNccl(nccl.ncclCommGetAsyncError(s.comm, &async), "ncclCommGetAsyncError");
  if (async != 0) checkNccl(async, call);
}

void freeCase(State& s) {
  if (s.recvAlloc) cu.cuMemFree(s.recvAlloc);
  if (s.sendAlloc) cu.cuMemFree(s.sendAlloc);
  s.recvAlloc = s.sendAlloc = s.send = s.recv = 0;
  s.kind.clear();
}

void launch(State& s) {
  void* send = reinterpret_cast<void*>(s.send);
  void* recv = reinterpret_cast<void*>(s.recv);
  int t = s.type.nccl;
  if (s.kind == "allreduce") checkNccl(nccl.ncclAllReduce(send, recv, s.sendCount, t, s.op, s.comm, s.stream), "ncclAllReduce");
  else if (s.kind == "allgather") checkNccl(nccl.ncclAllGather(send, recv, s.sendCount, t, s.comm, s.stream), "ncclAllGather");
  else if (s.kind == "reducescatter") checkNccl(nccl.ncclReduceScatter(send, recv, s.recvCount, t, s.op, s.comm, s.stream), "ncclReduceScatter");
  else if (s.kind == "broadcast") checkNccl(nccl.ncclBroadcast(send, recv, s.sendCount, t, s.root, s.comm, s.stream), "ncclBroadcast");
  else if (s.kind == "reduce") checkNccl(nccl.ncclReduce(send, recv, s.sendCount, t, s.op, s.root, s.comm, s.stream), "ncclReduce");
  else if (s.kind == "alltoall") {
    // n point-to-point pairs in one group: block p of the input goes to rank p, block q of
    // the output comes from rank q (nccl-tests' alltoall).
    size_t block = s.sendCount / static_cast<size_t>(s.nranks), bytes = block * s.type.size;
    checkNccl(nccl.ncclGroupStart(), "ncclGroupStart");
    for (int p = 0; p < s.nranks; p++) {
      checkNccl(nccl.ncclSend(reinterpret_cast<void*>(s.send + p * bytes), block, t, p, s.comm, s.stream), "ncclSend");
      checkNccl(nccl.ncclRecv(reinterpret_cast<void*>(s.recv + p * bytes), block, t, p, s.comm, s.stream), "ncclRecv");
    }
    checkNccl(nccl.ncclGroupEnd(), "ncclGroupEnd");
  } else fail("NcclComm", "no case set up");
}

}  // namespace

Napi::Function NcclComm::Init(Napi::Env env) {
  return DefineClass(env, "NcclComm", {
    InstanceMethod("connect", &NcclComm::Connect),
    InstanceMethod("setup", &NcclComm::Setup),
    InstanceMethod("upload", &NcclComm::Upload),
    InstanceMethod("startChecked", &NcclComm::StartChecked),
    InstanceMethod("startTime", &NcclComm::StartTime),
    InstanceMethod("poll", &NcclComm::Poll),
    InstanceMethod("abort", &NcclComm::Abort),
    InstanceMethod("dispose", &NcclComm::Dispose),
  });
}

// new NcclComm({ device, nranks, rank }): starts bringing the device up (its primary
// context, a stream and two events) on a thread; poll() says when it is ready.
NcclComm::NcclComm(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NcclComm>(info), s_(std::make_shared<State>()) {
  auto o = info[0].As<Napi::Object>();
  s_->device = o.Get("device").As<Napi::Number>().Int32Value();
  s_->nranks = o.Get("nranks").As<Napi::Number>().Int32Value();
  s_->rank = o.Get("rank").As<Napi::Number>().Int32Value();
  guard(info.Env(), [&] {
    requireLoaded(ncclSlot());
    requireLoaded(cudaSlot());
    if (s_->nranks < 1 || s_->rank < 0 || s_->rank >= s_->nranks) fail("NcclComm", "rank must be in 0..nranks-1");
    startJob(s_, "NcclComm", [](State& s) {
      useDevice(s.device);
      checkCu(cu.cuStreamCreate(&s.stream, CU_STREAM_DEFAULT), "cuStreamCreate");
      checkCu(cu.cuEventCreate(&s.start, CU_EVENT_DEFAULT), "cuEventCreate");
      checkCu(cu.cuEventCreate(&s.stop, CU_EVENT_DEFAULT), "cuEventCreate");
      s.opened = true;
    });
  });
}

NcclComm::~NcclComm() {
  // A job still running keeps the state (shared) alive; its thread owns it then.
  std::lock_guard<std::mutex> lock(s_->mu);
  if (s_->busy && !s_->done) return;
  if (!s_->released && cudaSlot().handle) {
    s_->released = true;
    try {
      useDevice(s_->device);
      freeCase(*s_);
      if (s_->comm && nccl.ncclCommDestroy) nccl.ncclCommDestroy(s_->comm);
      if (s_->start) cu.cuEventDestroy(s_->start);
      if (s_->stop) cu.cuEventDestroy(s_->stop);
      if (s_->stream) cu.cuStreamDestroy(s_->stream);
    } catch (...) {
    }
  }
}

// connect(uniqueId: Uint8Array(128)): ncclCommInitRank on a thread (it returns once every
// rank has called it with the same id).
Napi::Value NcclComm::Connect(const Napi::CallbackInfo& info) {
  auto bytes = info[0].As<Napi::Uint8Array>();
  return guard(info.Env(), [&]() -> Napi::Value {
    if (bytes.ElementLength() != sizeof(ncclUniqueId)) fail("connect", "the unique id must be 128 bytes");
    if (!s_->opened) fail("connect", "the device is not up yet");
    if (s_->connected) fail("connect", "already connected");
    ncclUniqueId id;
    std::memcpy(id.internal, bytes.Data(), sizeof id.internal);
    startJob(s_, "connect", [id](State& s) {
      useDevice(s.device);
      ncclComm_t comm = nullptr;
      checkNccl(nccl.ncclCommInitRank(&comm, s.nranks, id, s.rank), "ncclCommInitRank");
      std::lock_guard<std::mutex> lock(s.mu);
      s.comm = comm;
      s.connected = true;
    });
    return info.Env().Undefined();
  });
}

// setup({ kind, count, dtype, op, root, inPlace }): `count` is S in elements as the
// collective workloads define it (the gathered output, the scattered input).
void NcclComm::Setup(const Napi::CallbackInfo& info) {
  auto o = info[0].As<Napi::Object>();
  std::string kind = o.Get("kind").As<Napi::String>().Utf8Value();
  size_t count = static_cast<size_t>(o.Get("count").As<Napi::Number>().Int64Value());
  std::string dtype = o.Get("dtype").As<Napi::String>().Utf8Value();
  std::string op = o.Get("op").As<Napi::String>().Utf8Value();
  int root = o.Has("root") && o.Get("root").IsNumber() ? o.Get("root").As<Napi::Number>().Int32Value() : 0;
  bool inPlace = o.Get("inPlace").As<Napi::Boolean>().Value();
  guard(info.Env(), [&] {
    State& s = *s_;
    if (s.busy) fail("setup", "a call on this communicator is still running");
    if (!s.connected || s.aborted || s.released) fail("setup", "the communicator is not connected");
    size_t n = static_cast<size_t>(s.nranks);
    if (count == 0) fail("setup", "count must be positive");
    bool perRank = kind == "allgather" || kind == "reducescatter" || kind == "alltoall";
    if (perRank && count % n != 0) fail("setup", kind + ": count must be a multiple of the rank count");
    if (kind != "allreduce" && kind != "allgather" && kind != "reducescatter" && kind != "broadcast" && kind != "reduce" && kind != "alltoall")
      fail("setup", "unsupported collective \"" + kind + "\"");
    if (inPlace && kind == "alltoall") fail("setup", "alltoall runs out of place only");
    if ((kind == "broadcast" || kind == "reduce") && (root < 0 || root >= s.nranks)) fail("setup", "root out of range");
    useDevice(s.device);
    freeCase(s);
    s.type = ncclTypeOf(dtype, "setup");
    s.op = ncclOpOf(op, "setup");
    s.kind = kind;
    s.root = root;
    s.inPlace = inPlace;
    s.sendCount = kind == "allgather" ? count / n : count;
    s.recvCount = kind == "reducescatter" ? count / n : count;
    size_t es = s.type.size;
    if (!inPlace) {
      checkCu(cu.cuMemAlloc(&s.sendAlloc, s.sendCount * es), "cuMemAlloc(send)");
      checkCu(cu.cuMemAlloc(&s.recvAlloc, s.recvCount * es), "cuMemAlloc(recv)");
      s.send = s.sendAlloc;
      s.recv = s.recvAlloc;
    } else if (kind == "allgather") {
      // NCCL's in-place all-gather: the input is this rank's block of the output.
      checkCu(cu.cuMemAlloc(&s.recvAlloc, s.recvCount * es), "cuMemAlloc(recv)");
      s.recv = s.recvAlloc;
      s.send = s.recv + static_cast<size_t>(s.rank) * s.sendCount * es;
    } else if (kind == "reducescatter") {
      // In-place reduce-scatter: the output is this rank's block of the input.
      checkCu(cu.cuMemAlloc(&s.sendAlloc, s.sendCount * es), "cuMemAlloc(send)");
      s.send = s.sendAlloc;
      s.recv = s.send + static_cast<size_t>(s.rank) * s.recvCount * es;
    } else {
      checkCu(cu.cuMemAlloc(&s.sendAlloc, s.sendCount * es), "cuMemAlloc(send)");
      s.send = s.recv = s.sendAlloc;
    }
  });
}

// upload(values: Float32Array): this rank's input (send elements, as float32 values),
// after poisoning every output element the call must write.
void NcclComm::Upload(const Napi::CallbackInfo& info) {
  auto data = info[0].As<Napi::Float32Array>();
  guard(info.Env(), [&] {
    State& s = *s_;
    if (s.busy) fail("upload", "a call on this communicator is still running");
    if (s.kind.empty()) fail("upload", "no case set up");
    // A broadcast's non-root ranks have no input: they upload nothing, and their buffers
    // are poisoned (in place, that buffer is the output the broadcast must fill).
    bool none = s.kind == "broadcast" && s.rank != s.root && data.ElementLength() == 0;
    if (!none && data.ElementLength() != s.sendCount) fail("upload", "data has the wrong length");
    useDevice(s.device);
    size_t es = s.type.size;
    int t = s.type.nccl;
    // The poison: NaN (all-ones for f64); for i32 −2^31+15, which no checked input sums,
    // multiplies or picks to. In place the output is the input (all-gather: but for this
    // rank's own block, which the upload then writes).
    auto poison = [&](CUdeviceptr p, size_t n) {
      if (es == 2) checkCu(cu.cuMemsetD16(p, t == 6 ? 0x7e00 : 0x7fc0, n), "cuMemsetD16");
      else checkCu(cu.cuMemsetD32(p, t == 7 ? 0x7fc00000u : t == 8 ? 0xffffffffu : 0x8000000fu, n * es / 4), "cuMemsetD32");
    };
    if (!s.inPlace || s.kind == "allgather") poison(s.recv, s.recvCount);
    if (none) {
      poison(s.send, s.sendCount);
      checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");
      return;
    }
    std::vector<uint8_t> buf(s.sendCount * es);
    const float* src = data.Data();
    for (size_t i = 0; i < s.sendCount; i++) {
      if (t == 7) std::memcpy(&buf[i * 4], &src[i], 4);
      else if (t == 6) { uint16_t h = f32ToF16(src[i]); std::memcpy(&buf[i * 2], &h, 2); }
      else if (t == 9) { uint16_t h = f32ToBf16(src[i]); std::memcpy(&buf[i * 2], &h, 2); }
      else if (t == 8) { double d = src[i]; std::memcpy(&buf[i * 8], &d, 8); }
      else { int32_t v = static_cast<int32_t>(src[i]); std::memcpy(&buf[i * 4], &v, 4); }
    }
    checkCu(cu.cuMemcpyHtoD(s.send, buf.data(), buf.size()), "cuMemcpyHtoD");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");  // poison and upload land before the call
  });
}

// startChecked(): one call, then this rank's output back as float64 values (poll()).
Napi::Value NcclComm::StartChecked(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (s_->kind.empty()) fail("startChecked", "no case set up");
    startJob(s_, "startChecked", [](State& s) {
      useDevice(s.device);
      launch(s);
      checkCu(cu.cuStreamSynchronize(s.stream), "cuStreamSynchronize");
      checkAsync(s, "the collective");
      size_t es = s.type.size;
      int t = s.type.nccl;
      std::vector<uint8_t> buf(s.recvCount * es);
      checkCu(cu.cuMemcpyDtoH(buf.data(), s.recv, buf.size()), "cuMemcpyDtoH");
      std::vector<double> out(s.recvCount);
      for (size_t i = 0; i < s.recvCount; i++) {
        double v;
        if (t == 7) { float f; std::memcpy(&f, &buf[i * 4], 4); v = f; }
        else if (t == 6) { uint16_t h; std::memcpy(&h, &buf[i * 2], 2); v = f16ToF32(h); }
        else if (t == 9) { uint16_t h; std::memcpy(&h, &buf[i * 2], 2); v = bf16ToF32(h); }
        else if (t == 8) std::memcpy(&v, &buf[i * 8], 8);
        else { int32_t x; std::memcpy(&x, &buf[i * 4], 4); v = x; }
        out[i] = v;
      }
      std::lock_guard<std::mutex> lock(s.mu);
      s.values = std::move(out);
      s.hasValues = true;
    });
    return info.Env().Undefined();
  });
}

// startTime(n): n calls between CUDA events on the stream; poll() gives milliseconds.
Napi::Value NcclComm::StartTime(const Napi::CallbackInfo& info) {
  int iterations = info[0].As<Napi::Number>().Int32Value();
  return guard(info.Env(), [&]() -> Napi::Value {
    if (s_->kind.empty()) fail("startTime", "no case set up");
    if (iterations < 1) fail("startTime", "iterations must be positive");
    startJob(s_, "startTime", [iterations](State& s) {
      useDevice(s.device);
      checkCu(cu.cuEventRecord(s.start, s.stream), "cuEventRecord");
      for (int i = 0; i < iterations; i++) launch(s);
      checkCu(cu.cuEventRecord(s.stop, s.stream), "cuEventRecord");
      checkCu(cu.cuEventSynchronize(s.stop), "cuEventSynchronize");
      checkAsync(s, "the collective");
      float ms = 0;
      checkCu(cu.cuEventElapsedTime(&ms, s.start, s.stop), "cuEventElapsedTime");
      std::lock_guard<std::mutex> lock(s.mu);
      s.number = ms;
    });
    return info.Env().Undefined();
  });
}

// poll(): undefined while the job runs; then its outcome once (a number, a Float64Array,
// or true), or the job's error thrown.
Napi::Value NcclComm::Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(s_->mu);
  if (!s_->busy) throw toJs(env, LibError{"gpubench", "poll", -1, "GPUBENCH_IDLE", "no call is running"});
  if (!s_->done) return env.Undefined();
  s_->busy = false;
  if (s_->failed) throw toJs(env, s_->error);
  if (s_->hasValues) {
    auto a = Napi::Float64Array::New(env, s_->values.size());
    std::memcpy(a.Data(), s_->values.data(), s_->values.size() * sizeof(double));
    s_->values.clear();
    s_->hasValues = false;
    return a;
  }
  if (s_->kind.empty() || !s_->connected) return Napi::Boolean::New(env, true);
  return Napi::Number::New(env, s_->number);
}

// abort(): ncclCommAbort, which also ends a call another thread is blocked in; returns
// the communicator's last error text (ncclGetLastError), "" when NCCL has none.
Napi::Value NcclComm::Abort(const Napi::CallbackInfo& info) {
  std::string last;
  ncclComm_t comm;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (s_->aborted || s_->released) return Napi::String::New(info.Env(), "");
    s_->aborted = true;
    comm = s_->comm;
  }
  if (comm) {
    if (nccl.ncclGetLastError) {
      const char* e = nccl.ncclGetLastError(comm);
      if (e) last = e;
    }
    nccl.ncclCommAbort(comm);
  }
  return Napi::String::New(info.Env(), last);
}

// dispose(): frees the case, destroys the communicator and the stream. While a job is
// still running (a stuck rank), the communicator is aborted instead and the rest left to
// the process's exit.
void NcclComm::Dispose(const Napi::CallbackInfo& info) {
  bool running;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    running = s_->busy && !s_->done;
  }
  if (running) {
    Abort(info);
    return;
  }
  std::lock_guard<std::mutex> lock(s_->mu);
  if (s_->released) return;
  s_->released = true;
  guard(info.Env(), [&] {
    useDevice(s_->device);
    freeCase(*s_);
    if (s_->comm) {
      if (s_->aborted) {
        // ncclCommAbort already freed it.
      } else {
        checkNccl(nccl.ncclCommDestroy(s_->comm), "ncclCommDestroy");
      }
      s_->comm = nullptr;
    }
    if (s_->start) cu.cuEventDestroy(s_->start);
    if (s_->stop) cu.cuEventDestroy(s_->stop);
    if (s_->stream) cu.cuStreamDestroy(s_->stream);
    s_->start = s_->stop = nullptr;
    s_->stream = nullptr;
  });
}

Napi::Value NcclUniqueIdBytes(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    requireLoaded(ncclSlot());
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    checkNccl(nccl.ncclGetUniqueId(&id), "ncclGetUniqueId");
    auto out = Napi::Uint8Array::New(info.Env(), sizeof id.internal);
    std::memcpy(out.Data(), id.internal, sizeof id.internal);
    return out;
  });
}

}  // namespace gb

// ---- Several ranks in one process (--gpus-per-process): group calls from one thread ----
//
// NCCL's rule for one thread driving several GPUs: their ncclCommInitRank calls, and each
// collective on them, go between one ncclGroupStart and ncclGroupEnd, else the first call
// waits for ranks the same thread has not issued yet. These functions take the process's
// NcclComm ranks (each already up on its device, see the constructor) and run one such
// group on a thread of their own; every rank is marked busy meanwhile, so no other call
// and no dispose interleaves (an abort still ends it). The case's buffers and upload are
// each rank's own (setup/upload above); the checked call returns each rank's output bytes.
namespace gb {
namespace {

struct GroupJob {
  std::mutex mu;
  bool done = false, failed = false, taken = false;
  LibError error{};
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<double> numbers;
  bool connect = false;
};

std::vector<std::shared_ptr<State>> statesOf(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) fail(what, "expects an array of NcclComm ranks");
  auto a = v.As<Napi::Array>();
  std::vector<std::shared_ptr<State>> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsObject()) fail(what, "expects an array of NcclComm ranks");
    out.push_back(NcclComm::Unwrap(e.As<Napi::Object>())->state());
  }
  if (out.empty()) fail(what, "no ranks given");
  return out;
}

/** Marks every rank busy and runs `fn` on one thread; returns { poll() } for JavaScript. */
Napi::Value startGroup(Napi::Env env, const char* what, std::vector<std::shared_ptr<State>> states,
                       std::function<void(std::vector<std::shared_ptr<State>>&, GroupJob&)> fn) {
  for (size_t i = 0; i < states.size(); i++) {
    std::lock_guard<std::mutex> lock(states[i]->mu);
    const char* why = states[i]->busy ? "a call on this communicator is still running"
                      : states[i]->aborted ? "the communicator was aborted"
                      : states[i]->released ? "disposed" : nullptr;
    if (why) {
      for (size_t k = 0; k < i; k++) {
        std::lock_guard<std::mutex> l2(states[k]->mu);
        states[k]->busy = false;
      }
      fail(what, why);
    }
    states[i]->busy = true;
    states[i]->done = false;
  }
  auto job = std::make_shared<GroupJob>();
  std::thread([states, job, fn = std::move(fn)]() mutable {
    LibError err{};
    bool failed = false;
    try {
      fn(states, *job);
    } catch (const LibError& e) {
      failed = true;
      err = e;
    } catch (const std::exception& e) {
      failed = true;
      err = LibError{"gpubench", "nccl", -1, "GPUBENCH_ERROR", e.what()};
    }
    for (auto& s : states) {
      std::lock_guard<std::mutex> lock(s->mu);
      s->busy = false;
    }
    std::lock_guard<std::mutex> lock(job->mu);
    job->failed = failed;
    job->error = err;
    job->done = true;
  }).detach();
  auto handle = Napi::Object::New(env);
  handle.Set("poll", Napi::Function::New(env, [job](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env e = info.Env();
    std::lock_guard<std::mutex> lock(job->mu);
    if (!job->done) return e.Undefined();
    if (job->taken) throw toJs(e, LibError{"gpubench", "poll", -1, "GPUBENCH_IDLE", "the group call's outcome was taken already"});
    job->taken = true;
    if (job->failed) throw toJs(e, job->error);
    if (job->connect) return Napi::Boolean::New(e, true);
    auto out = Napi::Array::New(e);
    if (!job->bytes.empty()) {
      for (size_t i = 0; i < job->bytes.size(); i++) {
        auto a = Napi::Uint8Array::New(e, job->bytes[i].size());
        std::memcpy(a.Data(), job->bytes[i].data(), job->bytes[i].size());
        out.Set(static_cast<uint32_t>(i), a);
      }
    } else
      for (size_t i = 0; i < job->numbers.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(e, job->numbers[i]));
    return out;
  }, "poll"));
  return handle;
}

/** Every rank's call in one group; a failed call still closes the group before the error goes on. */
void launchGroup(std::vector<std::shared_ptr<State>>& states) {
  checkNccl(nccl.ncclGroupStart(), "ncclGroupStart");
  try {
    for (auto& s : states) {
      useDevice(s->device);
      launch(*s);
    }
  } catch (...) {
    nccl.ncclGroupEnd();
    throw;
  }
  checkNccl(nccl.ncclGroupEnd(), "ncclGroupEnd");
}

}  // namespace

Napi::Value NcclGroupConnect(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto states = statesOf(info[0], "ncclGroupConnect");
    auto bytes = info[1].As<Napi::Uint8Array>();
    if (bytes.ElementLength() != sizeof(ncclUniqueId)) fail("ncclGroupConnect", "the unique id must be 128 bytes");
    for (auto& s : states) {
      if (!s->opened) fail("ncclGroupConnect", "a rank's device is not up yet");
      if (s->connected) fail("ncclGroupConnect", "already connected");
    }
    ncclUniqueId id;
    std::memcpy(id.internal, bytes.Data(), sizeof id.internal);
    return startGroup(info.Env(), "ncclGroupConnect", states, [id](std::vector<std::shared_ptr<State>>& ss, GroupJob& job) {
      job.connect = true;
      std::vector<ncclComm_t> comms(ss.size(), nullptr);
      checkNccl(nccl.ncclGroupStart(), "ncclGroupStart");
      try {
        for (size_t i = 0; i < ss.size(); i++) {
          useDevice(ss[i]->device);
          checkNccl(nccl.ncclCommInitRank(&comms[i], ss[i]->nranks, id, ss[i]->rank), "ncclCommInitRank");
        }
      } catch (...) {
        nccl.ncclGroupEnd();
        throw;
      }
      checkNccl(nccl.ncclGroupEnd(), "ncclGroupEnd");
      for (size_t i = 0; i < ss.size(); i++) {
        std::lock_guard<std::mutex> lock(ss[i]->mu);
        ss[i]->comm = comms[i];
        ss[i]->connected = true;
      }
    });
  });
}

Napi::Value NcclGroupChecked(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto states = statesOf(info[0], "ncclGroupChecked");
    for (auto& s : states)
      if (s->kind.empty()) fail("ncclGroupChecked", "no case set up");
    return startGroup(info.Env(), "ncclGroupChecked", states, [](std::vector<std::shared_ptr<State>>& ss, GroupJob& job) {
      launchGroup(ss);
      for (auto& s : ss) {
        useDevice(s->device);
        checkCu(cu.cuStreamSynchronize(s->stream), "cuStreamSynchronize");
        checkAsync(*s, "the collective");
        std::vector<uint8_t> buf(s->recvCount * s->type.size);
        checkCu(cu.cuMemcpyDtoH(buf.data(), s->recv, buf.size()), "cuMemcpyDtoH");
        job.bytes.push_back(std::move(buf));
      }
    });
  });
}

Napi::Value NcclGroupTime(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto states = statesOf(info[0], "ncclGroupTime");
    int iterations = info[1].As<Napi::Number>().Int32Value();
    if (iterations < 1) fail("ncclGroupTime", "iterations must be positive");
    for (auto& s : states)
      if (s->kind.empty()) fail("ncclGroupTime", "no case set up");
    return startGroup(info.Env(), "ncclGroupTime", states, [iterations](std::vector<std::shared_ptr<State>>& ss, GroupJob& job) {
      for (auto& s : ss) {
        useDevice(s->device);
        checkCu(cu.cuEventRecord(s->start, s->stream), "cuEventRecord");
      }
      for (int i = 0; i < iterations; i++) launchGroup(ss);
      for (auto& s : ss) {
        useDevice(s->device);
        checkCu(cu.cuEventRecord(s->stop, s->stream), "cuEventRecord");
      }
      for (auto& s : ss) {
        useDevice(s->device);
        checkCu(cu.cuEventSynchronize(s->stop), "cuEventSynchronize");
        checkAsync(*s, "the collective");
        float ms = 0;
        checkCu(cu.cuEventElapsedTime(&ms, s->start, s->stop), "cuEventElapsedTime");
        job.numbers.push_back(ms);
      }
    });
  });
}

}  // namespace gb
