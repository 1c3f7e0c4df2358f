// Status checking shared by every binding: each failed call becomes a JS Error carrying the
// library's own name and string for the status, plus `library`, `call` and `code` fields.
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <string>

#include "api.h"

namespace gb {

/** A failed library call, thrown in C++ and turned into a JS Error at the binding edge. */
struct LibError {
  std::string library;  // cuda, cublasLt, nccl, nvml, gpubench
  std::string call;
  int code;
  std::string name;     // e.g. CUDA_ERROR_NO_DEVICE
  std::string message;  // the library's string for the status
};

std::string cuName(CUresult r);
std::string cuString(CUresult r);
std::string cublasName(cublasStatus_t s);
std::string cublasString(cublasStatus_t s);

void checkCu(CUresult r, const char* call);
void checkLt(cublasStatus_t s, const char* call);
void checkNccl(ncclResult_t r, const char* call);
void checkNvml(nvmlReturn_t r, const char* call);
/** Throws a gpubench-level LibError (bad argument, library not loaded). */
[[noreturn]] void fail(const std::string& call, const std::string& message);

/** Converts a LibError into a JS Error with its fields. */
Napi::Error toJs(Napi::Env env, const LibError& e);

/** Runs `fn`, rethrowing LibError as a JS exception. */
template <typename F>
auto guard(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const LibError& e) {
    throw toJs(env, e);
  }
}

/**
 * Runs `work` on a libuv worker thread and settles a Promise with its number, or rejects
 * it with the LibError's JS form; keeps `receiver` (the wrapped object) alive meanwhile and
 * holds `busy` so the object cannot be disposed or used concurrently.
 */
class AsyncCall : public Napi::AsyncWorker {
 public:
  static Napi::Value Start(const Napi::CallbackInfo& info, std::atomic<bool>& busy, std::function<double()> work);

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  AsyncCall(const Napi::Object& receiver, std::atomic<bool>& busy, std::function<double()> work);
  Napi::ObjectReference receiver_;  // keeps the wrapped object (and its buffers) alive
  std::atomic<bool>& busy_;
  std::function<double()> work_;
  Napi::Promise::Deferred deferred_;
  double value_ = 0;
  bool failed_ = false;
  LibError error_{};
};

/**
 * The `time(n)`, `timeAsync(n)` and `dispose()` entry points every timed class shares.
 * `notReady` says why the object cannot time now ("" when it can); `timeN` runs n
 * iterations and returns milliseconds, on the caller's thread or on a libuv worker.
 */
Napi::Value timeSync(const Napi::CallbackInfo& info, const std::atomic<bool>& busy,
                     const std::function<std::string()>& notReady, const std::function<double(int)>& timeN);
Napi::Value timeOnWorker(const Napi::CallbackInfo& info, std::atomic<bool>& busy,
                         const std::function<std::string()>& notReady, std::function<double(int)> timeN);
/** Releases the object's resources, refusing while a timed call is still running. */
void disposeWhenIdle(const Napi::CallbackInfo& info, const std::atomic<bool>& busy, const std::function<void()>& release);

/** Makes the device's primary context current on this thread (retained once per device). */
void useDevice(int ordinal);
/** The device's primary context (retained once per device), for calls that name two contexts. */
CUcontext deviceContext(int ordinal);
void requireLoaded(LibSlot& slot);

// Element conversions between float and the storage types (round to nearest even).
uint16_t f32ToF16(float f);
float f16ToF32(uint16_t h);
uint16_t f32ToBf16(float f);
float bf16ToF32(uint16_t b);
uint8_t f32ToE4m3(float f);
float e4m3ToF32(uint8_t v);

}  // namespace gb
