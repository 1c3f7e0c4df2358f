// NVML: device facts and a telemetry sampler (>= 10 Hz; 50 Hz by default). Energy comes from
// the board's energy counter where the GPU has one (Volta and newer), else from integrating
// the sampled power over time.
#include "nvml.h"

#include <chrono>

#include "common.h"

namespace gb {

static double nowS() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Napi::Function Sampler::Init(Napi::Env env) {
  return DefineClass(env, "Sampler", {
    InstanceMethod("resume", &Sampler::Resume),
    InstanceMethod("pause", &Sampler::Pause),
    InstanceMethod("summary", &Sampler::Summary),
    InstanceMethod("close", &Sampler::Close),
  });
}

Sampler::Sampler(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Sampler>(info) {
  std::string uuid = info[0].As<Napi::String>().Utf8Value();
  double hz = info[1].As<Napi::Number>().DoubleValue();
  guard(info.Env(), [&] {
    requireLoaded(nvmlSlot());
    if (!(hz >= 10 && hz <= 1000)) fail("Sampler", "rate must be 10..1000 Hz");
    periodMs_ = static_cast<int>(1000.0 / hz);
    checkNvml(nvml.nvmlDeviceGetHandleByUUID(uuid.c_str(), &dev_), "nvmlDeviceGetHandleByUUID");
    unsigned mw = 0;
    checkNvml(nvml.nvmlDeviceGetPowerUsage(dev_, &mw), "nvmlDeviceGetPowerUsage");  // fail early, not in the thread
    counterOk_ = EnergyJ() >= 0;
    running_ = true;
    thread_ = std::thread([this] { Loop(); });
  });
}

Sampler::~Sampler() { Stop(); }

void Sampler::Stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
}

double Sampler::EnergyJ() {
  unsigned long long mj = 0;
  if (!nvml.nvmlDeviceGetTotalEnergyConsumption || nvml.nvmlDeviceGetTotalEnergyConsumption(dev_, &mj) != 0) return -1;
  return static_cast<double>(mj) / 1000.0;
}

void Sampler::SampleOnce() {
  unsigned mw = 0, sm = 0, mem = 0, temp = 0;
  unsigned long long reasons = 0;
  double t = nowS();
  bool havePower = nvml.nvmlDeviceGetPowerUsage(dev_, &mw) == 0;
  nvml.nvmlDeviceGetClockInfo(dev_, NVML_CLOCK_SM, &sm);
  nvml.nvmlDeviceGetClockInfo(dev_, NVML_CLOCK_MEM, &mem);
  nvml.nvmlDeviceGetTemperature(dev_, NVML_TEMPERATURE_GPU, &temp);
  if (nvml.nvmlDeviceGetCurrentClocksThrottleReasons) nvml.nvmlDeviceGetCurrentClocksThrottleReasons(dev_, &reasons);
  std::lock_guard<std::mutex> lock(mu_);
  if (!active_) return;
  samples_++;
  double w = havePower ? mw / 1000.0 : 0;
  powerSumW_ += w;
  if (w > maxW_) maxW_ = w;
  smSum_ += sm;
  memSum_ += mem;
  if (temp > maxTemp_) maxTemp_ = temp;
  throttle_ |= reasons;
  // Trapezoids between samples; the window's edges use the nearest sample.
  double from = lastW_ < 0 ? windowStart_ : lastSampleT_;
  integratedJ_ += (lastW_ < 0 ? w : (w + lastW_) / 2) * (t - from);
  lastW_ = w;
  lastSampleT_ = t;
}

void Sampler::Loop() {
  while (running_) {
    if (active_) SampleOnce();
    std::this_thread::sleep_for(std::chrono::milliseconds(periodMs_));
  }
}

void Sampler::Resume(const Napi::CallbackInfo&) {
  double e = counterOk_ ? EnergyJ() : -1;
  std::lock_guard<std::mutex> lock(mu_);
  windowStart_ = nowS();
  energyAtStart_ = e;
  lastW_ = -1;
  active_ = true;
}

void Sampler::Pause(const Napi::CallbackInfo&) {
  if (!active_) return;
  SampleOnce();  // every window ends with a reading, however short it was
  double e = counterOk_ ? EnergyJ() : -1;
  std::lock_guard<std::mutex> lock(mu_);
  active_ = false;
  double t = nowS();
  activeS_ += t - windowStart_;
  if (lastW_ >= 0) integratedJ_ += lastW_ * (t - lastSampleT_);
  if (e >= 0 && energyAtStart_ >= 0) counterJ_ += e - energyAtStart_;
  else counterOk_ = false;
}

Napi::Value Sampler::Summary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(mu_);
  Napi::Object o = Napi::Object::New(env);
  o.Set("samples", samples_);
  o.Set("activeSeconds", activeS_);
  o.Set("hz", activeS_ > 0 ? samples_ / activeS_ : 0);
  if (samples_ > 0) {
    bool counter = counterOk_ && counterJ_ > 0;
    double energy = counter ? counterJ_ : integratedJ_;
    o.Set("energyJ", energy);
    o.Set("energySource", counter ? "nvml-energy-counter" : "integrated-power");
    o.Set("avgWatts", activeS_ > 0 ? energy / activeS_ : powerSumW_ / samples_);
    o.Set("maxWatts", maxW_);
    o.Set("avgSmClockMHz", smSum_ / samples_);
    o.Set("avgMemClockMHz", memSum_ / samples_);
    o.Set("maxTemperatureC", maxTemp_);
    o.Set("throttleMask", static_cast<double>(throttle_));
  }
  return o;
}

void Sampler::Close(const Napi::CallbackInfo&) { Stop(); }

}  // namespace gb
