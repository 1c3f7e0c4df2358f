// NVML telemetry (see nvml.cc).
#pragma once
#include <napi.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "api.h"

namespace gb {

/** Power, clocks, temperature and throttle reasons of one GPU, sampled on a native thread
 *  while resumed, so the readings continue while JavaScript waits in a blocking call. */
class Sampler : public Napi::ObjectWrap<Sampler> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Sampler(const Napi::CallbackInfo& info);
  ~Sampler() override;

 private:
  void Loop();
  void SampleOnce();
  double EnergyJ();
  void Resume(const Napi::CallbackInfo& info);
  void Pause(const Napi::CallbackInfo& info);
  Napi::Value Summary(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  void Stop();

  nvmlDevice_t dev_ = nullptr;
  int periodMs_ = 20;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> active_{false};
  std::mutex mu_;
  // Accumulated over resumed windows.
  int samples_ = 0;
  double activeS_ = 0, powerSumW_ = 0, maxW_ = 0, smSum_ = 0, memSum_ = 0, maxTemp_ = 0;
  double integratedJ_ = 0, counterJ_ = 0;
  bool counterOk_ = true;
  unsigned long long throttle_ = 0;
  double windowStart_ = 0, lastSampleT_ = 0, lastW_ = -1, energyAtStart_ = -1;
};

}  // namespace gb
