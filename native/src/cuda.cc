// CUDA driver basics: status strings, primary contexts, element conversions.
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include "common.h"

namespace gb {

std::string cuName(CUresult r) {
  const char* s = nullptr;
  if (cu.cuGetErrorName && cu.cuGetErrorName(r, &s) == 0 && s) return s;
  return "CUDA_ERROR_" + std::to_string(r);
}

std::string cuString(CUresult r) {
  const char* s = nullptr;
  if (cu.cuGetErrorString && cu.cuGetErrorString(r, &s) == 0 && s) return s;
  return "unknown CUDA error";
}

std::string cublasName(cublasStatus_t s) {
  if (lt.cublasLtGetStatusName) {
    const char* n = lt.cublasLtGetStatusName(s);
    if (n) return n;
  }
  // cublas_api.h values, for cuBLASLt builds without cublasLtGetStatusName.
  static const std::map<int, const char*> names = {
      {0, "CUBLAS_STATUS_SUCCESS"},          {1, "CUBLAS_STATUS_NOT_INITIALIZED"},
      {3, "CUBLAS_STATUS_ALLOC_FAILED"},     {7, "CUBLAS_STATUS_INVALID_VALUE"},
      {8, "CUBLAS_STATUS_ARCH_MISMATCH"},    {11, "CUBLAS_STATUS_MAPPING_ERROR"},
      {13, "CUBLAS_STATUS_EXECUTION_FAILED"}, {14, "CUBLAS_STATUS_INTERNAL_ERROR"},
      {15, "CUBLAS_STATUS_NOT_SUPPORTED"},   {16, "CUBLAS_STATUS_LICENSE_ERROR"}};
  auto it = names.find(s);
  return it != names.end() ? it->second : "CUBLAS_STATUS_" + std::to_string(s);
}

std::string cublasString(cublasStatus_t s) {
  if (lt.cublasLtGetStatusString) {
    const char* n = lt.cublasLtGetStatusString(s);
    if (n) return n;
  }
  return cublasName(s);
}

void checkCu(CUresult r, const char* call) {
  if (r != 0) throw LibError{"cuda", call, r, cuName(r), cuString(r)};
}

void checkLt(cublasStatus_t s, const char* call) {
  if (s != 0) throw LibError{"cublasLt", call, s, cublasName(s), cublasString(s)};
}

void checkNccl(ncclResult_t r, const char* call) {
  if (r == 0) return;
  static const char* names[] = {"ncclSuccess",       "ncclUnhandledCudaError", "ncclSystemError",
                                "ncclInternalError", "ncclInvalidArgument",    "ncclInvalidUsage",
                                "ncclRemoteError",   "ncclInProgress"};
  std::string name = r >= 0 && r < 8 ? names[r] : "ncclResult_" + std::to_string(r);
  std::string msg = nccl.ncclGetErrorString ? nccl.ncclGetErrorString(r) : "unknown NCCL error";
  if (nccl.ncclGetLastError) {
    const char* last = nccl.ncclGetLastError(nullptr);
    if (last && *last) msg += std::string(" (") + last + ")";
  }
  throw LibError{"nccl", call, r, name, msg};
}

void checkNvml(nvmlReturn_t r, const char* call) {
  if (r == 0) return;
  std::string msg = nvml.nvmlErrorString ? nvml.nvmlErrorString(r) : "unknown NVML error";
  throw LibError{"nvml", call, r, "NVML_ERROR_" + std::to_string(r), msg};
}

void fail(const std::string& call, const std::string& message) {
  throw LibError{"gpubench", call, -1, "GPUBENCH_ERROR", message};
}

Napi::Error toJs(Napi::Env env, const LibError& e) {
  std::string text = e.library + " " + e.call + " failed: " + e.name + ": " + e.message;
  if (e.code >= 0) text += " (code " + std::to_string(e.code) + ")";
  Napi::Error err = Napi::Error::New(env, text);
  err.Set("library", Napi::String::New(env, e.library));
  err.Set("call", Napi::String::New(env, e.call));
  err.Set("code", Napi::Number::New(env, e.code));
  err.Set("statusName", Napi::String::New(env, e.name));
  err.Set("statusMessage", Napi::String::New(env, e.message));
  return err;
}

AsyncCall::AsyncCall(const Napi::Object& receiver, std::atomic<bool>& busy, std::function<double()> work)
    : Napi::AsyncWorker(receiver.Env()), receiver_(Napi::Persistent(receiver)), busy_(busy), work_(std::move(work)),
      deferred_(Napi::Promise::Deferred::New(receiver.Env())) {}

Napi::Value AsyncCall::Start(const Napi::CallbackInfo& info, std::atomic<bool>& busy, std::function<double()> work) {
  if (busy.exchange(true)) throw toJs(info.Env(), LibError{"gpubench", "async", -1, "GPUBENCH_BUSY", "a call on this object is still running"});
  auto* call = new AsyncCall(info.This().As<Napi::Object>(), busy, std::move(work));
  Napi::Promise p = call->deferred_.Promise();
  call->Queue();  // libuv deletes the worker after OnOK/OnError
  return p;
}

Napi::Value timeSync(const Napi::CallbackInfo& info, const std::atomic<bool>& busy,
                     const std::function<std::string()>& notReady, const std::function<double(int)>& timeN) {
  int iterations = info[0].As<Napi::Number>().Int32Value();
  return guard(info.Env(), [&]() -> Napi::Value {
    std::string why = notReady();
    if (!why.empty()) fail("time", why);
    if (busy) fail("time", "a timed call is still running");
    if (iterations < 1) fail("time", "iterations must be positive");
    return Napi::Number::New(info.Env(), timeN(iterations));
  });
}

Napi::Value timeOnWorker(const Napi::CallbackInfo& info, std::atomic<bool>& busy,
                         const std::function<std::string()>& notReady, std::function<double(int)> timeN) {
  int iterations = info[0].As<Napi::Number>().Int32Value();
  return guard(info.Env(), [&]() -> Napi::Value {
    std::string why = notReady();
    if (!why.empty()) fail("time", why);
    if (iterations < 1) fail("time", "iterations must be positive");
    return AsyncCall::Start(info, busy, [timeN = std::move(timeN), iterations] { return timeN(iterations); });
  });
}

void disposeWhenIdle(const Napi::CallbackInfo& info, const std::atomic<bool>& busy, const std::function<void()>& release) {
  if (busy) throw toJs(info.Env(), LibError{"gpubench", "dispose", -1, "GPUBENCH_BUSY", "a timed call is still running"});
  release();
}

void AsyncCall::Execute() {
  try {
    value_ = work_();
  } catch (const LibError& e) {
    failed_ = true;
    error_ = e;
  } catch (const std::exception& e) {
    failed_ = true;
    error_ = LibError{"gpubench", "async", -1, "GPUBENCH_ERROR", e.what()};
  }
}

void AsyncCall::OnOK() {
  busy_ = false;
  if (failed_) deferred_.Reject(toJs(Env(), error_).Value());
  else deferred_.Resolve(Napi::Number::New(Env(), value_));
}

void AsyncCall::OnError(const Napi::Error& e) {
  busy_ = false;
  deferred_.Reject(e.Value());
}

void requireLoaded(LibSlot& slot) {
  if (!slot.handle) fail("load", std::string(slot.id) + " library is not loaded");
}

CUcontext deviceContext(int ordinal) {
  requireLoaded(cudaSlot());
  static std::mutex mu;
  static std::map<int, CUcontext> contexts;
  std::lock_guard<std::mutex> lock(mu);
  auto it = contexts.find(ordinal);
  if (it != contexts.end()) return it->second;
  CUdevice dev;
  checkCu(cu.cuDeviceGet(&dev, ordinal), "cuDeviceGet");
  // The primary context is the one the CUDA runtime, cuBLASLt and NCCL use too.
  CUcontext ctx;
  checkCu(cu.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  contexts[ordinal] = ctx;
  return ctx;
}

void useDevice(int ordinal) {
  checkCu(cu.cuCtxSetCurrent(deviceContext(ordinal)), "cuCtxSetCurrent");
}

// ---- conversions --------------------------------------------------------------------------
static uint32_t bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
static float fromBits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

uint16_t f32ToBf16(float f) {
  uint32_t u = bits(f);
  if ((u & 0x7f800000u) == 0x7f800000u) return static_cast<uint16_t>((u >> 16) | ((u & 0xffff) ? 0x40 : 0));
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float bf16ToF32(uint16_t b) { return fromBits(static_cast<uint32_t>(b) << 16); }

uint16_t f32ToF16(float f) {
  uint32_t u = bits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  float a = std::fabs(f);
  if (std::isnan(f)) return sign | 0x7e00u;
  if (a >= 65520.0f) return sign | 0x7c00u;  // rounds to infinity
  if (a < 6.103515625e-05f) {                // subnormal: quantum 2^-24
    float q = std::nearbyint(a * 16777216.0f);  // default rounding mode is to nearest even
    return sign | static_cast<uint16_t>(q);
  }
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  float quantum = std::ldexp(1.0f, e - 11);
  float r = std::nearbyint(a / quantum) * quantum;
  std::frexp(r, &e);
  int exp = e - 1 + 15;
  uint32_t mant = static_cast<uint32_t>(std::ldexp(r, -(e - 1)) * 1024.0f) - 1024u;
  return sign | static_cast<uint16_t>((exp << 10) | mant);
}

float f16ToF32(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0) return (sign ? -1.0f : 1.0f) * std::ldexp(static_cast<float>(mant), -24);
  if (exp == 31) return fromBits(sign | 0x7f800000u | (mant << 13));
  return fromBits(sign | ((exp + 112) << 23) | (mant << 13));
}

uint8_t f32ToE4m3(float f) {
  // OCP FP8 E4M3 ("fn": no infinities, S.1111.111 is NaN), saturating to ±448 as
  // __nv_cvt_float_to_fp8(..., __NV_SATFINITE, __NV_E4M3) does.
  if (std::isnan(f)) return 0x7f;
  uint8_t sign = std::signbit(f) ? 0x80 : 0;
  float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7e;
  if (a < 0.015625f) {  // below 2^-6: subnormal, quantum 2^-9
    float q = std::nearbyint(a * 512.0f);
    return sign | static_cast<uint8_t>(q);  // q == 8 is the smallest normal, encoded the same way
  }
  int e;
  std::frexp(a, &e);
  float quantum = std::ldexp(1.0f, e - 4);
  float r = std::nearbyint(a / quantum) * quantum;
  if (r > 448.0f) r = 448.0f;
  std::frexp(r, &e);
  int exp = e - 1 + 7;
  uint32_t mant = static_cast<uint32_t>(std::ldexp(r, -(e - 1)) * 8.0f) - 8u;
  return sign | static_cast<uint8_t>((exp << 3) | mant);
}

float e4m3ToF32(uint8_t v) {
  float s = (v & 0x80) ? -1.0f : 1.0f;
  int exp = (v >> 3) & 0xf;
  int mant = v & 7;
  if (exp == 15 && mant == 7) return NAN;
  if (exp == 0) return s * std::ldexp(static_cast<float>(mant), -9);
  return s * std::ldexp(1.0f + mant / 8.0f, exp - 7);
}

}  // namespace gb
