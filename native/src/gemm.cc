// One GEMM case on cuBLASLt: C = A·B (row-major, optionally strided-batched), computed as
// the column-major C^T = B^T·A^T so no data is rearranged for f32/tf32/f16/bf16. FP8 needs
// cuBLASLt's "TN" layout, so B is uploaded transposed for it. The algorithm is chosen by
// timing several heuristic candidates, as NVIDIA's LtSgemmSimpleAutoTuning sample does.
#include <cmath>
#include <limits>
#include <vector>

#include "common.h"
#include "gemm.h"

namespace gb {

namespace {

struct DtypeInfo {
  int in;        // cudaDataType of A and B
  int out;       // cudaDataType of C and D
  int compute;   // cublasComputeType
  size_t inSize;
  size_t outSize;
  bool transposeB;
};

DtypeInfo dtypeInfo(const std::string& d) {
  if (d == "f32") return {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, 4, 4, false};
  if (d == "tf32") return {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, 4, 4, false};
  if (d == "f16") return {CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F, 2, 2, false};
  if (d == "bf16") return {CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, 2, 2, false};
  // FP8 e4m3 inputs, bf16 output (what torch._scaled_mm returns), scale factors left at 1.
  if (d == "fp8") return {CUDA_R_8F_E4M3, CUDA_R_16BF, CUBLAS_COMPUTE_32F, 1, 2, true};
  fail("Gemm", "unknown dtype \"" + d + "\" (expected f32, tf32, f16, bf16 or fp8)");
}

std::vector<uint8_t> encode(const float* src, size_t count, int type) {
  std::vector<uint8_t> out;
  if (type == CUDA_R_32F) {
    out.resize(count * 4);
    std::memcpy(out.data(), src, count * 4);
  } else if (type == CUDA_R_16F || type == CUDA_R_16BF) {
    out.resize(count * 2);
    auto* p = reinterpret_cast<uint16_t*>(out.data());
    for (size_t i = 0; i < count; i++) p[i] = type == CUDA_R_16F ? f32ToF16(src[i]) : f32ToBf16(src[i]);
  } else {
    out.resize(count);
    for (size_t i = 0; i < count; i++) out[i] = f32ToE4m3(src[i]);
  }
  return out;
}

int configInt(const cublasLtMatmulAlgo_t& a, int attr) {
  // Attributes are 16- or 32-bit; a zeroed 64-bit buffer reads either correctly on little-endian.
  uint64_t v = 0;
  size_t written = 0;
  if (lt.cublasLtMatmulAlgoConfigGetAttribute(&a, attr, &v, sizeof(uint32_t), &written) != 0) {
    v = 0;
    if (lt.cublasLtMatmulAlgoConfigGetAttribute(&a, attr, &v, sizeof(uint16_t), &written) != 0) return -1;
  }
  return static_cast<int>(v);
}

cublasLtHandle_t ltHandle() {
  static cublasLtHandle_t h = nullptr;
  if (!h) checkLt(lt.cublasLtCreate(&h), "cublasLtCreate");
  return h;
}

}  // namespace

Napi::Function Gemm::Init(Napi::Env env) {
  return DefineClass(env, "Gemm", {
    InstanceMethod("upload", &Gemm::Upload),
    InstanceMethod("tune", &Gemm::Tune),
    InstanceMethod("runChecked", &Gemm::RunChecked),
    InstanceMethod("time", &Gemm::Time),
    InstanceMethod("timeAsync", &Gemm::TimeAsync),
    InstanceMethod("dispose", &Gemm::Dispose),
  });
}

Gemm::Gemm(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Gemm>(info) {
  Napi::Env env = info.Env();
  auto o = info[0].As<Napi::Object>();
  device_ = o.Get("device").As<Napi::Number>().Int32Value();
  m_ = o.Get("m").As<Napi::Number>().Int64Value();
  n_ = o.Get("n").As<Napi::Number>().Int64Value();
  k_ = o.Get("k").As<Napi::Number>().Int64Value();
  batch_ = o.Get("batch").As<Napi::Number>().Int64Value();
  dtype_ = o.Get("dtype").As<Napi::String>().Utf8Value();
  wsBytes_ = static_cast<size_t>(o.Get("workspaceBytes").As<Napi::Number>().Int64Value());
  guard(env, [&] { Create(); });
}

Gemm::~Gemm() { Release(); }

void Gemm::Create() {
  requireLoaded(cublasLtSlot());
  if (m_ < 1 || n_ < 1 || k_ < 1 || batch_ < 1) fail("Gemm", "m, n, k and batch must be positive");
  DtypeInfo t = dtypeInfo(dtype_);
  useDevice(device_);
  size_t aBytes = static_cast<size_t>(batch_ * m_ * k_) * t.inSize;
  size_t bBytes = static_cast<size_t>(batch_ * k_ * n_) * t.inSize;
  size_t dBytes = static_cast<size_t>(batch_ * m_ * n_) * t.outSize;
  checkCu(cu.cuStreamCreate(&stream_, CU_STREAM_DEFAULT), "cuStreamCreate");
  checkCu(cu.cuEventCreate(&start_, CU_EVENT_DEFAULT), "cuEventCreate");
  checkCu(cu.cuEventCreate(&stop_, CU_EVENT_DEFAULT), "cuEventCreate");
  checkCu(cu.cuMemAlloc(&a_, aBytes), "cuMemAlloc(A)");
  checkCu(cu.cuMemAlloc(&b_, bBytes), "cuMemAlloc(B)");
  checkCu(cu.cuMemAlloc(&d_, dBytes), "cuMemAlloc(D)");
  if (wsBytes_ > 0) checkCu(cu.cuMemAlloc(&ws_, wsBytes_), "cuMemAlloc(workspace)");

  checkLt(lt.cublasLtMatmulDescCreate(&desc_, t.compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
  // cuBLASLt's "A" is our B (n×k column-major, or k×n transposed for FP8), its "B" is our A.
  int opA = t.transposeB ? CUBLAS_OP_T : CUBLAS_OP_N, opB = CUBLAS_OP_N;
  checkLt(lt.cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof opA), "cublasLtMatmulDescSetAttribute(TRANSA)");
  checkLt(lt.cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof opB), "cublasLtMatmulDescSetAttribute(TRANSB)");
  if (t.transposeB) checkLt(lt.cublasLtMatrixLayoutCreate(&la_, t.in, k_, n_, k_), "cublasLtMatrixLayoutCreate(A)");
  else checkLt(lt.cublasLtMatrixLayoutCreate(&la_, t.in, n_, k_, n_), "cublasLtMatrixLayoutCreate(A)");
  checkLt(lt.cublasLtMatrixLayoutCreate(&lb_, t.in, k_, m_, k_), "cublasLtMatrixLayoutCreate(B)");
  checkLt(lt.cublasLtMatrixLayoutCreate(&lc_, t.out, n_, m_, n_), "cublasLtMatrixLayoutCreate(C)");
  if (batch_ > 1) {
    int32_t count = static_cast<int32_t>(batch_);
    int64_t sa = n_ * k_, sb = k_ * m_, sc = n_ * m_;
    struct { cublasLtMatrixLayout_t l; int64_t stride; } ls[] = {{la_, sa}, {lb_, sb}, {lc_, sc}};
    for (auto& x : ls) {
      checkLt(lt.cublasLtMatrixLayoutSetAttribute(x.l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count), "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)");
      checkLt(lt.cublasLtMatrixLayoutSetAttribute(x.l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &x.stride, sizeof x.stride), "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)");
    }
  }
}

void Gemm::Release() {
  if (released_ || !cudaSlot().handle) return;
  released_ = true;
  try { useDevice(device_); } catch (...) { return; }
  if (desc_) lt.cublasLtMatmulDescDestroy(desc_);
  for (auto l : {la_, lb_, lc_}) if (l) lt.cublasLtMatrixLayoutDestroy(l);
  for (auto p : {a_, b_, d_, ws_}) if (p) cu.cuMemFree(p);
  if (start_) cu.cuEventDestroy(start_);
  if (stop_) cu.cuEventDestroy(stop_);
  if (stream_) cu.cuStreamDestroy(stream_);
}

void Gemm::Upload(const Napi::CallbackInfo& info) {
  auto a = info[0].As<Napi::Float32Array>();
  auto b = info[1].As<Napi::Float32Array>();
  guard(info.Env(), [&] {
    if (busy_) fail("upload", "a timed call is still running");
    if (released_) fail("upload", "case disposed");
    DtypeInfo t = dtypeInfo(dtype_);
    size_t na = static_cast<size_t>(batch_ * m_ * k_), nb = static_cast<size_t>(batch_ * k_ * n_);
    if (a.ElementLength() != na || b.ElementLength() != nb) fail("upload", "A or B has the wrong length");
    useDevice(device_);
    auto ea = encode(a.Data(), na, t.in);
    std::vector<float> bt;
    const float* bsrc = b.Data();
    if (t.transposeB) {  // row-major k×n → row-major n×k per batch
      bt.resize(nb);
      for (int64_t s = 0; s < batch_; s++)
        for (int64_t r = 0; r < k_; r++)
          for (int64_t c = 0; c < n_; c++) bt[s * k_ * n_ + c * k_ + r] = bsrc[s * k_ * n_ + r * n_ + c];
      bsrc = bt.data();
    }
    auto eb = encode(bsrc, nb, t.in);
    checkCu(cu.cuMemcpyHtoD(a_, ea.data(), ea.size()), "cuMemcpyHtoD(A)");
    checkCu(cu.cuMemcpyHtoD(b_, eb.data(), eb.size()), "cuMemcpyHtoD(B)");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");  // uploads and poison done before any kernel
  });
}

void Gemm::Launch(const cublasLtMatmulAlgo_t* algo, size_t ws) {
  const float alpha = 1.0f, beta = 0.0f;
  checkLt(lt.cublasLtMatmul(ltHandle(), desc_, &alpha, reinterpret_cast<void*>(b_), la_, reinterpret_cast<void*>(a_), lb_, &beta,
                            reinterpret_cast<void*>(d_), lc_, reinterpret_cast<void*>(d_), lc_, algo,
                            ws ? reinterpret_cast<void*>(ws_) : nullptr, ws, stream_),
          "cublasLtMatmul");
}

float Gemm::TimeWith(const cublasLtMatmulAlgo_t* algo, size_t ws, int iterations) {
  checkCu(cu.cuEventRecord(start_, stream_), "cuEventRecord");
  for (int i = 0; i < iterations; i++) Launch(algo, ws);
  checkCu(cu.cuEventRecord(stop_, stream_), "cuEventRecord");
  checkCu(cu.cuEventSynchronize(stop_), "cuEventSynchronize");
  float ms = 0;
  checkCu(cu.cuEventElapsedTime(&ms, start_, stop_), "cuEventElapsedTime");
  return ms;
}

Napi::Value Gemm::Tune(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int requested = info[0].As<Napi::Number>().Int32Value();
  int reps = info[1].As<Napi::Number>().Int32Value();
  return guard(env, [&]() -> Napi::Value {
    if (released_) fail("tune", "case disposed");
    useDevice(device_);
    cublasLtMatmulPreference_t pref = nullptr;
    checkLt(lt.cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
    uint64_t wsLimit = wsBytes_;
    cublasStatus_t st = lt.cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsLimit, sizeof wsLimit);
    std::vector<cublasLtMatmulHeuristicResult_t> heur(static_cast<size_t>(std::max(1, requested)));
    int returned = 0;
    if (st == 0)
      st = lt.cublasLtMatmulAlgoGetHeuristic(ltHandle(), desc_, la_, lb_, lc_, lc_, pref, static_cast<int>(heur.size()), heur.data(), &returned);
    lt.cublasLtMatmulPreferenceDestroy(pref);
    checkLt(st, "cublasLtMatmulAlgoGetHeuristic");
    if (returned == 0) throw LibError{"cublasLt", "cublasLtMatmulAlgoGetHeuristic", 15, "CUBLAS_STATUS_NOT_SUPPORTED", "no algorithm for this problem"};

    Napi::Array list = Napi::Array::New(env);
    float best = std::numeric_limits<float>::infinity();
    int bestIdx = -1;
    std::string lastError;
    for (int i = 0; i < returned; i++) {
      const auto& h = heur[static_cast<size_t>(i)];
      Napi::Object c = Napi::Object::New(env);
      c.Set("index", i);
      c.Set("algoId", configInt(h.algo, CUBLASLT_ALGO_CONFIG_ID));
      c.Set("tile", configInt(h.algo, CUBLASLT_ALGO_CONFIG_TILE_ID));
      c.Set("stages", configInt(h.algo, CUBLASLT_ALGO_CONFIG_STAGES_ID));
      c.Set("splitK", configInt(h.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM));
      c.Set("reduction", configInt(h.algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME));
      c.Set("swizzle", configInt(h.algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING));
      c.Set("customOption", configInt(h.algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION));
      c.Set("cluster", configInt(h.algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID));
      c.Set("workspaceBytes", static_cast<double>(h.workspaceSize));
      c.Set("waves", h.wavesCount);
      if (h.state != 0 || h.workspaceSize > wsBytes_) {
        c.Set("error", cublasName(h.state != 0 ? h.state : 15));
      } else {
        try {
          TimeWith(&h.algo, h.workspaceSize, 2);  // warm-up: first launches load kernels
          float ms = TimeWith(&h.algo, h.workspaceSize, reps) / static_cast<float>(reps);
          c.Set("ms", ms);
          if (ms < best) { best = ms; bestIdx = i; }
        } catch (const LibError& e) {
          lastError = e.name + ": " + e.message;
          c.Set("error", lastError);
        }
      }
      list.Set(static_cast<uint32_t>(i), c);
    }
    if (bestIdx < 0) fail("tune", "no heuristic candidate ran (" + lastError + ")");
    algo_ = heur[static_cast<size_t>(bestIdx)].algo;
    algoWs_ = heur[static_cast<size_t>(bestIdx)].workspaceSize;
    tuned_ = true;
    Napi::Object r = Napi::Object::New(env);
    r.Set("chosen", bestIdx);
    r.Set("candidates", list);
    return r;
  });
}

Napi::Value Gemm::RunChecked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    if (!tuned_) fail("runChecked", "call tune() first");
    useDevice(device_);
    DtypeInfo t = dtypeInfo(dtype_);
    size_t count = static_cast<size_t>(batch_ * m_ * n_);
    // Poison D with NaN so a kernel that writes nothing cannot pass.
    if (t.outSize == 4) checkCu(cu.cuMemsetD32(d_, 0x7fc00000u, count), "cuMemsetD32");
    else checkCu(cu.cuMemsetD16(d_, t.out == CUDA_R_16F ? 0x7e00 : 0x7fc0, count), "cuMemsetD16");
    checkCu(cu.cuStreamSynchronize(nullptr), "cuStreamSynchronize(legacy)");  // uploads and poison done before any kernel
    Launch(&algo_, algoWs_);
    checkCu(cu.cuStreamSynchronize(stream_), "cuStreamSynchronize");
    auto out = Napi::Float32Array::New(env, count);
    if (t.outSize == 4) {
      checkCu(cu.cuMemcpyDtoH(out.Data(), d_, count * 4), "cuMemcpyDtoH");
    } else {
      std::vector<uint16_t> h(count);
      checkCu(cu.cuMemcpyDtoH(h.data(), d_, count * 2), "cuMemcpyDtoH");
      for (size_t i = 0; i < count; i++) out[i] = t.out == CUDA_R_16F ? f16ToF32(h[i]) : bf16ToF32(h[i]);
    }
    return out;
  });
}

Napi::Value Gemm::Time(const Napi::CallbackInfo& info) {
  return timeSync(info, busy_, [this] { return std::string(tuned_ ? "" : "call tune() first"); },
                  [this](int n) { return TimedRun(n); });
}

Napi::Value Gemm::TimeAsync(const Napi::CallbackInfo& info) {
  return timeOnWorker(info, busy_, [this] { return std::string(tuned_ ? "" : "call tune() first"); },
                      [this](int n) { return TimedRun(n); });
}

double Gemm::TimedRun(int iterations) {
  useDevice(device_);  // contexts are current per thread, and this may run on a worker
  return static_cast<double>(TimeWith(&algo_, algoWs_, iterations));
}

void Gemm::Dispose(const Napi::CallbackInfo& info) {
  disposeWhenIdle(info, busy_, [this] { Release(); });
}

}  // namespace gb
