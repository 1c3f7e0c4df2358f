// Host reduction for the collectives' CPU path: dst[i] = dst[i] op src[i] over typed
// arrays of every collective dtype (f32, f64, f16, bf16, fp8 e4m3/e5m2, i8, u8, i32, u32,
// i64, u64), bit for bit what src/collectives/ops.ts computes (every rank must end with the
// same bits whichever path it took), but in loops the compiler vectorises: the JS loops
// run at 2–4 ns an element, which on a loaded host is most of a ring's time.
// Nothing here touches CUDA.
#include "reduce.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace gb {
namespace {

enum class Op { Sum, Prod, Min, Max };

Op parseOp(Napi::Env env, const std::string& s) {
  // avg reduces as a sum; the division by the rank count happens once, in JS.
  if (s == "sum" || s == "avg") return Op::Sum;
  if (s == "prod") return Op::Prod;
  if (s == "min") return Op::Min;
  if (s == "max") return Op::Max;
  throw Napi::TypeError::New(env, "reduce: unknown op \"" + s + "\"");
}

// JS: min = a < b || a !== a ? a : b (NaN in dst wins, as the JS loop has it).
template <typename T>
inline T jsMin(T a, T b) { return (a < b || a != a) ? a : b; }
template <typename T>
inline T jsMax(T a, T b) { return (a > b || a != a) ? a : b; }

// d = a ⊕ s, where a is d itself (in place) or another buffer (out of place, which
// spares a ring its copy of the input). No __restrict: a may be d; GCC versions the loop.
template <typename T, Op O>
void reduceFloat(T* d, const T* a, const T* s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if constexpr (O == Op::Sum) d[i] = a[i] + s[i];
    else if constexpr (O == Op::Prod) d[i] = a[i] * s[i];
    else if constexpr (O == Op::Min) d[i] = jsMin(a[i], s[i]);
    else d[i] = jsMax(a[i], s[i]);
  }
}

template <Op O>
void reduceI32(int32_t* d, const int32_t* a, const int32_t* s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    // Two's-complement wrap, as JS's `| 0` and Math.imul.
    if constexpr (O == Op::Sum) d[i] = static_cast<int32_t>(static_cast<uint32_t>(a[i]) + static_cast<uint32_t>(s[i]));
    else if constexpr (O == Op::Prod) d[i] = static_cast<int32_t>(static_cast<uint32_t>(a[i]) * static_cast<uint32_t>(s[i]));
    else if constexpr (O == Op::Min) d[i] = a[i] < s[i] ? a[i] : s[i];
    else d[i] = a[i] > s[i] ? a[i] : s[i];
  }
}

// The other integers: sum and product in the unsigned type of the width (wrapping, as the
// JS typed-array stores and BigInt64Array stores do), min/max in T's own order. U is at
// least unsigned int so that 8-bit products promote to no signed overflow.
template <typename T, Op O>
void reduceInt(T* d, const T* a, const T* s, size_t n) {
  using U = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
  for (size_t i = 0; i < n; i++) {
    if constexpr (O == Op::Sum) d[i] = static_cast<T>(static_cast<U>(a[i]) + static_cast<U>(s[i]));
    else if constexpr (O == Op::Prod) d[i] = static_cast<T>(static_cast<U>(a[i]) * static_cast<U>(s[i]));
    else if constexpr (O == Op::Min) d[i] = a[i] < s[i] ? a[i] : s[i];
    else d[i] = a[i] > s[i] ? a[i] : s[i];
  }
}

inline uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline float floatOf(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// f16 bits → float, exact (dtypes.ts F16_TO_F32), by a table built once.
float f16Value(uint16_t h) {
  const float s = (h & 0x8000) ? -1.0f : 1.0f;
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  if (e == 0) return s * static_cast<float>(m) * 0x1p-24f;
  if (e == 31) return m ? NAN : s * INFINITY;
  return s * std::ldexp(1.0f + static_cast<float>(m) / 1024.0f, e - 15);
}

const float* f16Table() {
  static const float* table = [] {
    static float t[65536];
    for (uint32_t h = 0; h < 65536; h++) t[h] = f16Value(static_cast<uint16_t>(h));
    return t;
  }();
  return table;
}

// float → f16 bits, round to nearest even: dtypes.ts toF16 line for line.
inline uint16_t f32ToF16(float x) {
  const uint32_t b = bitsOf(x);
  const uint32_t sign = (b >> 16) & 0x8000;
  const int e = (b >> 23) & 0xff;
  uint32_t m = b & 0x7fffff;
  if (e == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (m ? 0x200 : 0));
  int he = e - 127 + 15;
  if (he >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  if (he <= 0) {
    if (he < -10) return static_cast<uint16_t>(sign);
    m |= 0x800000;
    const int shift = 14 - he;
    uint32_t hm = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (hm & 1))) hm++;
    return static_cast<uint16_t>(sign | hm);
  }
  uint32_t hm = m >> 13;
  const uint32_t rem = m & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (hm & 1))) {
    hm++;
    if (hm == 0x400) {
      hm = 0;
      he++;
      if (he >= 31) return static_cast<uint16_t>(sign | 0x7c00);
    }
  }
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(he) << 10) | hm);
}

inline float bf16ToF32(uint16_t h) { return floatOf(static_cast<uint32_t>(h) << 16); }

// float → bf16 bits, round to nearest even (dtypes.ts toBf16).
inline uint16_t f32ToBf16(float x) {
  const uint32_t b = bitsOf(x);
  if ((b & 0x7f800000) == 0x7f800000 && (b & 0x7fffff)) return static_cast<uint16_t>((b >> 16) | 0x40);
  return static_cast<uint16_t>(((b + 0x7fff + ((b >> 16) & 1)) >> 16) & 0xffff);
}

// JS computes the 16-bit ops in double, then stores through a Float32Array before
// rounding to 16 bits: the same double → float → half steps here.
template <Op O>
inline double apply(double a, double b) {
  if constexpr (O == Op::Sum) return a + b;
  else if constexpr (O == Op::Prod) return a * b;
  else if constexpr (O == Op::Min) return jsMin(a, b);
  else return jsMax(a, b);
}

template <Op O, bool Bf16>
void reduce16(uint16_t* d, const uint16_t* a, const uint16_t* s, size_t n) {
  const float* f16 = f16Table();
  for (size_t i = 0; i < n; i++) {
    const double x = Bf16 ? bf16ToF32(a[i]) : f16[a[i]];
    const double y = Bf16 ? bf16ToF32(s[i]) : f16[s[i]];
    const float r = static_cast<float>(apply<O>(x, y));
    d[i] = Bf16 ? f32ToBf16(r) : f32ToF16(r);
  }
}

// fp8 (dtypes.ts toFp8, ops.ts fp8Step): both operands widened to f16, the op rounded
// once to f16, stored to fp8 rounding to nearest even and saturating to ±max (±Inf too),
// NaN → 0x7f, as NCCL's __nv_fp8_e4m3(__hadd(__half(x), __half(y))) with CUDA's
// __NV_SATFINITE constructors. Every (a, b) pair of one format and op is tabled once.
struct Fp8Format {
  int mbits, bias;
  double max;
  uint8_t maxCode;
  bool ieee;
};
constexpr Fp8Format kE4M3{3, 7, 448.0, 0x7e, false};
constexpr Fp8Format kE5M2{2, 15, 57344.0, 0x7b, true};

// x rounded once to mbits stored mantissa bits, smallest normal exponent emin, to nearest even.
double roundToFormat(double x, int mbits, int emin) {
  if (x == 0 || !std::isfinite(x)) return x;
  const double a = std::fabs(x);
  const double ulp = std::ldexp(1.0, std::max(std::ilogb(a), emin) - mbits);
  const double q = a / ulp;
  double r = std::floor(q);
  const double d = q - r;
  if (d > 0.5 || (d == 0.5 && std::fmod(r, 2.0) == 1.0)) r += 1;
  const double v = r * ulp;
  return x < 0 ? -v : v;
}

double roundToF16(double x) {
  const double v = roundToFormat(x, 10, -14);
  return std::fabs(v) > 65504.0 ? (v > 0 ? INFINITY : -INFINITY) : v;
}

double fp8Value(const Fp8Format& f, uint8_t b) {
  const double s = (b & 0x80) ? -1.0 : 1.0;
  const int emax = (1 << (7 - f.mbits)) - 1;
  const int e = (b & 0x7f) >> f.mbits;
  const int m = b & ((1 << f.mbits) - 1);
  if (f.ieee && e == emax) return m ? NAN : s * INFINITY;
  if (!f.ieee && (b & 0x7f) == 0x7f) return NAN;
  if (e == 0) return s * m * std::ldexp(1.0, 1 - f.bias - f.mbits);
  return s * (1.0 + static_cast<double>(m) / (1 << f.mbits)) * std::ldexp(1.0, e - f.bias);
}

uint8_t toFp8(const Fp8Format& f, double x) {
  if (x != x) return 0x7f;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const double v = std::fabs(roundToFormat(x, f.mbits, 1 - f.bias));
  if (v > f.max) return sign | f.maxCode;
  if (v == 0) return sign;
  const int e = std::ilogb(v);
  if (e < 1 - f.bias) return sign | static_cast<uint8_t>(v / std::ldexp(1.0, 1 - f.bias - f.mbits));
  return sign | static_cast<uint8_t>((e + f.bias) << f.mbits) | static_cast<uint8_t>((v / std::ldexp(1.0, e) - 1.0) * (1 << f.mbits));
}

template <bool E5M2, Op O>
const uint8_t* fp8Table() {
  static const uint8_t* table = [] {
    static uint8_t t[65536];
    const Fp8Format& f = E5M2 ? kE5M2 : kE4M3;
    double v[256];
    for (int b = 0; b < 256; b++) v[b] = fp8Value(f, static_cast<uint8_t>(b));
    for (int a = 0; a < 256; a++)
      for (int b = 0; b < 256; b++) t[(a << 8) | b] = toFp8(f, roundToF16(apply<O>(v[a], v[b])));
    return t;
  }();
  return table;
}

template <bool E5M2, Op O>
void reduceFp8(uint8_t* d, const uint8_t* a, const uint8_t* s, size_t n) {
  const uint8_t* t = fp8Table<E5M2, O>();
  for (size_t i = 0; i < n; i++) d[i] = t[(static_cast<unsigned>(a[i]) << 8) | s[i]];
}

struct Span {
  uint8_t* data;
  size_t bytes;
};

template <typename T>
using Loop = void (*)(T*, const T*, const T*, size_t);

template <typename T>
void dispatch(Op op, uint8_t* d, const uint8_t* a, const uint8_t* s, size_t n, Loop<T> sum, Loop<T> prod, Loop<T> mn, Loop<T> mx) {
  const Loop<T> loop = op == Op::Sum ? sum : op == Op::Prod ? prod : op == Op::Min ? mn : mx;
  loop(reinterpret_cast<T*>(d), reinterpret_cast<const T*>(a), reinterpret_cast<const T*>(s), n);
}

bool overlap(const Span& x, const Span& y) { return x.data < y.data + y.bytes && y.data < x.data + x.bytes; }

Span spanOf(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, std::string("reduce: ") + what + " must be a typed array");
  auto t = v.As<Napi::TypedArray>();
  return {static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset(), t.ByteLength()};
}

// reduce(dtype, op, dst, src[, a]): dst = dst ⊕ src, or dst = a ⊕ src, element-wise.
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string dtype = info[0].As<Napi::String>().Utf8Value();
  const Op op = parseOp(env, info[1].As<Napi::String>().Utf8Value());
  const Span d = spanOf(env, info[2], "dst");
  const Span s = spanOf(env, info[3], "src");
  const Span a = info.Length() > 4 && !info[4].IsUndefined() ? spanOf(env, info[4], "a") : d;
  if (d.bytes != s.bytes || a.bytes != d.bytes)
    throw Napi::RangeError::New(env, "reduce: " + std::to_string(s.bytes) + " bytes into " + std::to_string(d.bytes));
  // dst may be src itself or a itself (element i is read before it is written), never a
  // part-overlap of either.
  const auto partly = [](const Span& x, const Span& y) { return x.data != y.data && overlap(x, y); };
  if (partly(d, s) || partly(a, s) || partly(a, d)) throw Napi::RangeError::New(env, "reduce: dst and src overlap");
  size_t es = 0;
  if (dtype == "i8" || dtype == "u8" || dtype == "fp8e4m3" || dtype == "fp8e5m2") es = 1;
  else if (dtype == "f16" || dtype == "bf16") es = 2;
  else if (dtype == "f32" || dtype == "i32" || dtype == "u32") es = 4;
  else if (dtype == "f64" || dtype == "i64" || dtype == "u64") es = 8;
  else throw Napi::TypeError::New(env, "reduce: unknown dtype \"" + dtype + "\"");
  if (reinterpret_cast<uintptr_t>(d.data) % es || reinterpret_cast<uintptr_t>(s.data) % es || reinterpret_cast<uintptr_t>(a.data) % es)
    throw Napi::RangeError::New(env, "reduce: buffers must be aligned to the element size");
  const size_t n = d.bytes / es;
#define GB_INT(T) dispatch<T>(op, d.data, a.data, s.data, n, reduceInt<T, Op::Sum>, reduceInt<T, Op::Prod>, reduceInt<T, Op::Min>, reduceInt<T, Op::Max>)
#define GB_FP8(E) dispatch<uint8_t>(op, d.data, a.data, s.data, n, reduceFp8<E, Op::Sum>, reduceFp8<E, Op::Prod>, reduceFp8<E, Op::Min>, reduceFp8<E, Op::Max>)
  if (dtype == "f32")
    dispatch<float>(op, d.data, a.data, s.data, n, reduceFloat<float, Op::Sum>, reduceFloat<float, Op::Prod>, reduceFloat<float, Op::Min>,
                    reduceFloat<float, Op::Max>);
  else if (dtype == "f64")
    dispatch<double>(op, d.data, a.data, s.data, n, reduceFloat<double, Op::Sum>, reduceFloat<double, Op::Prod>, reduceFloat<double, Op::Min>,
                     reduceFloat<double, Op::Max>);
  else if (dtype == "i32")
    dispatch<int32_t>(op, d.data, a.data, s.data, n, reduceI32<Op::Sum>, reduceI32<Op::Prod>, reduceI32<Op::Min>, reduceI32<Op::Max>);
  else if (dtype == "u32") GB_INT(uint32_t);
  else if (dtype == "i8") GB_INT(int8_t);
  else if (dtype == "u8") GB_INT(uint8_t);
  else if (dtype == "i64") GB_INT(int64_t);
  else if (dtype == "u64") GB_INT(uint64_t);
  else if (dtype == "fp8e4m3") GB_FP8(false);
  else if (dtype == "fp8e5m2") GB_FP8(true);
  else if (dtype == "f16")
    dispatch<uint16_t>(op, d.data, a.data, s.data, n, reduce16<Op::Sum, false>, reduce16<Op::Prod, false>, reduce16<Op::Min, false>,
                       reduce16<Op::Max, false>);
  else
    dispatch<uint16_t>(op, d.data, a.data, s.data, n, reduce16<Op::Sum, true>, reduce16<Op::Prod, true>, reduce16<Op::Min, true>,
                       reduce16<Op::Max, true>);
#undef GB_INT
#undef GB_FP8
  return env.Undefined();
}

}  // namespace

void registerReduce(Napi::Env env, Napi::Object exports) { exports.Set("reduce", Napi::Function::New(env, Reduce)); }

}  // namespace gb
