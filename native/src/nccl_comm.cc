// One rank of an NCCL communicator across processes (ncclCommInitRank), one GPU per
// process: gpubench's control plane hands the ncclUniqueId from rank 0 to every rank, and
// each process builds its rank here. Every call that can block on the other ranks (the
// device coming up, ncclCommInitRank, a collective and its stream) runs on a thread of its
// own, which JavaScript polls with a deadline: a rank that never arrives or a collective
// that never completes cannot hold the event loop (heartbeats go on), and `abort()`
// (ncclCommAbort) ends the communicator. A thread stuck in the library is detached, never
// joined: its process exits anyway once the run has failed.
//
// A case is one collective on this communicator: `setup` allocates its buffers (laid out
// as the host's: in place, one allocation with the input or output at this rank's block),
// `upload` copies in the bytes JavaScript made (the output already poisoned, the input in
// the case's dtype), the checked job runs one call and reads the checked buffer's bytes
// back, the timed job runs n calls between CUDA events on the communicator's stream.
// Every NCCL dtype and collective nccl-tests measures: all-reduce, all-gather,
// reduce-scatter, broadcast and reduce are NCCL's own calls; all-to-all, gather, scatter
// and send/receive are ncclSend/ncclRecv groups, as nccl-tests issues them.
#include "nccl_comm.h"

#include <algorithm>
#include <cstring>
#include <iterator>
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
  NcclTypeInfo type{7, 4};  // ncclDataType_t and element bytes
  int op = 0, root = 0;
  bool inPlace = false;
  size_t sendCount = 0, recvCount = 0;
  bool readInput = false;  // the checked call reads the input back (a reduce's or gather's non-roots)
  CUdeviceptr sendAlloc = 0, recvAlloc = 0, send = 0, recv = 0;
  // The job in flight: `busy` until JavaScript has polled its outcome.
  bool busy = false, done = false, failed = false;
  LibError error{};
  double number = 0;
  std::vector<uint8_t> bytes;
  bool hasBytes = false;
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
    s->done = s->failed = s->hasBytes = false;
    s->bytes.clear();
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

/**
 * ncclDataType_t and element bytes of a collective dtype (nccl.h: ncclInt8 0, ncclUint8 1,
 * ncclInt32 2, ncclUint32 3, ncclInt64 4, ncclUint64 5, ncclFloat16 6, ncclFloat32 7,
 * ncclFloat64 8, ncclBfloat16 9, ncclFloat8e4m3 10, ncclFloat8e5m2 11 since NCCL 2.24).
 */
NcclTypeInfo commTypeOf(const std::string& d) {
  static const struct { const char* name; NcclTypeInfo t; } types[] = {
    {"i8", {0, 1}}, {"u8", {1, 1}}, {"i32", {2, 4}}, {"u32", {3, 4}}, {"i64", {4, 8}}, {"u64", {5, 8}},
    {"f16", {6, 2}}, {"f32", {7, 4}}, {"f64", {8, 8}}, {"bf16", {9, 2}}, {"fp8e4m3", {10, 1}}, {"fp8e5m2", {11, 1}},
  };
  for (const auto& t : types)
    if (d == t.name) return t.t;
  fail("setup", "unsupported dtype \"" + d + "\" (i8, u8, i32, u32, i64, u64, f16, f32, f64, bf16, fp8e4m3, fp8e5m2)");
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
  } else if (s.kind == "gather") {
    // nccl-tests' gather: every rank sends its block to the root, which receives block q
    // from rank q (itself included), in one group.
    size_t bytes = s.sendCount * s.type.size;
    checkNccl(nccl.ncclGroupStart(), "ncclGroupStart");
    checkNccl(nccl.ncclSend(send, s.sendCount, t, s.root, s.comm, s.stream), "ncclSend");
    if (s.rank == s.root)
      for (int q = 0; q < s.nranks; q++)
        checkNccl(nccl.ncclRecv(reinterpret_cast<void*>(s.recv + q * bytes), s.sendCount, t, q, s.comm, s.stream), "ncclRecv");
    checkNccl(nccl.ncclGroupEnd(), "ncclGroupEnd");
  } else if (s.kind == "scatter") {
    // nccl-tests' scatter: the root sends block q to rank q (itself included), every rank
    // receives its block from the root, in one group.
    size_t bytes = s.recvCount * s.type.size;
    checkNccl(nccl.ncclGroupStart(), "ncclGroupStart");
    if (s.rank == s.root)
      for (int q = 0; q < s.nranks; q++)
        checkNccl(nccl.ncclSend(reinterpret_cast<void*>(s.send + q * bytes), s.recvCount, t, q, s.comm, s.stream), "ncclSend");
    checkNccl(nccl.ncclRecv(recv, s.recvCount, t, s.root, s.comm, s.stream), "ncclRecv");
    checkNccl(nccl.ncclGroupEnd(), "ncclGroupEnd");
  } else if (s.kind == "sendrecv") {
    // nccl-tests' sendrecv: a ring shift, to rank r+1 and from rank r−1, in one group.
    checkNccl(nccl.ncclGroupStart(), "ncclGroupStart");
    checkNccl(nccl.ncclSend(send, s.sendCount, t, (s.rank + 1) % s.nranks, s.comm, s.stream), "ncclSend");
    checkNccl(nccl.ncclRecv(recv, s.recvCount, t, (s.rank + s.nranks - 1) % s.nranks, s.comm, s.stream), "ncclRecv");
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

// setup({ kind, count, dtype, op, root, inPlace, read }): `count` is S in elements as the
// collective workloads define it (the gathered output, the scattered input). The buffers
// are laid out as src/collectives/algorithms/*.ts allocate them on the host: in place, one
// allocation, with the input at this rank's block of the output (all-gather, gather) or
// the output at this rank's block of the input (reduce-scatter, scatter), else the same.
// `read` ("output" or "input") is the buffer the checked call reads back.
void NcclComm::Setup(const Napi::CallbackInfo& info) {
  auto o = info[0].As<Napi::Object>();
  std::string kind = o.Get("kind").As<Napi::String>().Utf8Value();
  size_t count = static_cast<size_t>(o.Get("count").As<Napi::Number>().Int64Value());
  std::string dtype = o.Get("dtype").As<Napi::String>().Utf8Value();
  std::string op = o.Get("op").As<Napi::String>().Utf8Value();
  int root = o.Has("root") && o.Get("root").IsNumber() ? o.Get("root").As<Napi::Number>().Int32Value() : 0;
  bool inPlace = o.Get("inPlace").As<Napi::Boolean>().Value();
  bool readInput = o.Has("read") && o.Get("read").IsString() && o.Get("read").As<Napi::String>().Utf8Value() == "input";
  guard(info.Env(), [&] {
    State& s = *s_;
    if (s.busy) fail("setup", "a call on this communicator is still running");
    if (!s.connected || s.aborted || s.released) fail("setup", "the communicator is not connected");
    size_t n = static_cast<size_t>(s.nranks);
    if (count == 0) fail("setup", "count must be positive");
    static const char* kinds[] = {"allreduce", "allgather", "reducescatter", "broadcast", "reduce", "alltoall", "gather", "scatter", "sendrecv"};
    if (std::none_of(std::begin(kinds), std::end(kinds), [&](const char* k) { return kind == k; })) fail("setup", "unsupported collective \"" + kind + "\"");
    bool gathers = kind == "allgather" || kind == "gather";     // a block in, S out
    bool scatters = kind == "reducescatter" || kind == "scatter";  // S in, a block out
    if ((gathers || scatters || kind == "alltoall") && count % n != 0) fail("setup", kind + ": count must be a multiple of the rank count");
    if (inPlace && (kind == "alltoall" || kind == "sendrecv")) fail("setup", kind + " runs out of place only");
    bool rooted = kind == "broadcast" || kind == "reduce" || kind == "gather" || kind == "scatter";
    if (rooted && (root < 0 || root >= s.nranks)) fail("setup", "root out of range");
    NcclTypeInfo type = commTypeOf(dtype);
    int redop = ncclOpOf(op, "setup");
    useDevice(s.device);
    freeCase(s);
    s.type = type;
    s.op = redop;
    s.kind = kind;
    s.root = root;
    s.inPlace = inPlace;
    s.readInput = readInput;
    s.sendCount = gathers ? count / n : count;
    s.recvCount = scatters ? count / n : count;
    size_t es = s.type.size;
    if (!inPlace) {
      checkCu(cu.cuMemAlloc(&s.sendAlloc, s.sendCount * es), "cuMemAlloc(send)");
      checkCu(cu.cuMemAlloc(&s.recvAlloc, s.recvCount * es), "cuMemAlloc(recv)");
      s.send = s.sendAlloc;
      s.recv = s.recvAlloc;
    } else if (gathers) {
      // NCCL's in-place gathers: sendbuff == recvbuff + rank·sendcount.
      checkCu(cu.cuMemAlloc(&s.recvAlloc, s.recvCount * es), "cuMemAlloc(recv)");
      s.recv = s.recvAlloc;
      s.send = s.recv + static_cast<size_t>(s.rank) * s.sendCount * es;
    } else if (scatters) {
      // In-place scatters: recvbuff == sendbuff + rank·recvcount.
      checkCu(cu.cuMemAlloc(&s.sendAlloc, s.sendCount * es), "cuMemAlloc(send)");
      s.send = s.sendAlloc;
      s.recv = s.send + static_cast<size_t>(s.rank) * s.recvCount * es;
    } else {
      checkCu(cu.cuMemAlloc(&s.sendAlloc, s.sendCount * es), "cuMemAlloc(send)");
      s.send = s.recv = s.sendAlloc;
    }
  });
}

// upload(input: Uint8Array, output: Uint8Array): this rank's buffers as the host made them
// (prepareRank: the input in the case's dtype, poisoned where the rank has none; the output
// poisoned around any input inside it). The output goes first: in place the input lies in
// it (or it in the input) and the host's bytes agree where they overlap.
void NcclComm::Upload(const Napi::CallbackInfo& info) {
  auto input = info[0].As<Napi::Uint8Array>();
  auto output = info[1].As<Napi::Uint8Array>();
  guard(info.Env(), [&] {
    State& s = *s_;
    if (s.busy) fail("upload", "a call on this communicator is still running");
    if (s.kind.empty()) fail("upload", "no case set up");
    size_t es = s.type.size;
    if (input.ByteLength() != s.sendCount * es) fail("upload", "the input has " + std::to_string(input.ByteLength()) + " bytes, not " + std::to_string(s.sendCount * es));
    if (output.ByteLength() != s.recvCount * es) fail("upload", "the output has " + std::to_string(output.ByteLength()) + " bytes, not " + std::to_string(s.recvCount * es));
    useDevice(s.device);
    checkCu(cu.cuMemcpyHtoD(s.recv, output.Data(), output.ByteLength()), "cuMemcpyHtoD(output)");
    checkCu(cu.cuMemcpyHtoD(s.send, input.Data(), input.ByteLength()), "cuMemcpyHtoD(input)");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");  // both land before the call
  });
}

/** The bytes of the buffer the check reads, after a call: the output, or the input (`readInput`). */
static std::vector<uint8_t> checkedBytes(State& s) {
  std::vector<uint8_t> buf((s.readInput ? s.sendCount : s.recvCount) * s.type.size);
  checkCu(cu.cuMemcpyDtoH(buf.data(), s.readInput ? s.send : s.recv, buf.size()), "cuMemcpyDtoH");
  return buf;
}

// startChecked(): one call, then the bytes of the buffer the check reads (poll()): the
// output, or where NCCL defines no output on this rank (a reduce's or gather's non-roots)
// the input, which must be unchanged (setup's `read`).
Napi::Value NcclComm::StartChecked(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (s_->kind.empty()) fail("startChecked", "no case set up");
    startJob(s_, "startChecked", [](State& s) {
      useDevice(s.device);
      launch(s);
      checkCu(cu.cuStreamSynchronize(s.stream), "cuStreamSynchronize");
      checkAsync(s, "the collective");
      std::vector<uint8_t> buf = checkedBytes(s);
      std::lock_guard<std::mutex> lock(s.mu);
      s.bytes = std::move(buf);
      s.hasBytes = true;
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

// poll(): undefined while the job runs; then its outcome once (a number, a Uint8Array,
// or true), or the job's error thrown.
Napi::Value NcclComm::Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(s_->mu);
  if (!s_->busy) throw toJs(env, LibError{"gpubench", "poll", -1, "GPUBENCH_IDLE", "no call is running"});
  if (!s_->done) return env.Undefined();
  s_->busy = false;
  if (s_->failed) throw toJs(env, s_->error);
  if (s_->hasBytes) {
    auto a = Napi::Uint8Array::New(env, s_->bytes.size());
    if (!s_->bytes.empty()) std::memcpy(a.Data(), s_->bytes.data(), s_->bytes.size());
    s_->bytes.clear();
    s_->hasBytes = false;
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
// each rank's own (setup/upload above); the checked call returns the bytes each rank's check reads.
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
        job.bytes.push_back(checkedBytes(*s));
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
