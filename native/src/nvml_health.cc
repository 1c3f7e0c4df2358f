// NVML health counters of one GPU, read before and after the burn: temperature, clocks,
// throttle reasons, ECC mode and error counts (volatile and aggregate), retired pages and
// remapped rows. Every reading is optional: one the GPU does not support is left out and
// named in `unsupported`. Kept apart from nvml.cc (telemetry) and the topology queries.
#include <string>

#include "accept.h"
#include "common.h"

namespace gb {

Napi::Value NvmlHealth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string uuid = info[0].As<Napi::String>().Utf8Value();
  return guard(env, [&]() -> Napi::Value {
    requireLoaded(nvmlSlot());
    nvmlDevice_t dev;
    checkNvml(nvml.nvmlDeviceGetHandleByUUID(uuid.c_str(), &dev), "nvmlDeviceGetHandleByUUID");
    Napi::Object o = Napi::Object::New(env);
    Napi::Array unsupported = Napi::Array::New(env);
    auto missing = [&](const char* what) { unsupported.Set(unsupported.Length(), what); };
    unsigned v = 0;
    if (nvml.nvmlDeviceGetTemperature(dev, NVML_TEMPERATURE_GPU, &v) == 0) o.Set("temperatureC", v); else missing("temperature");
    if (nvml.nvmlDeviceGetClockInfo(dev, NVML_CLOCK_SM, &v) == 0) o.Set("smClockMHz", v); else missing("smClock");
    if (nvml.nvmlDeviceGetClockInfo(dev, NVML_CLOCK_MEM, &v) == 0) o.Set("memClockMHz", v); else missing("memClock");
    if (nvml.nvmlDeviceGetPowerUsage(dev, &v) == 0) o.Set("powerW", v / 1000.0); else missing("power");
    unsigned long long reasons = 0;
    if (nvml.nvmlDeviceGetCurrentClocksThrottleReasons && nvml.nvmlDeviceGetCurrentClocksThrottleReasons(dev, &reasons) == 0)
      o.Set("throttleMask", static_cast<double>(reasons));
    else missing("throttleReasons");

    int cur = 0, pend = 0;
    if (nvmlHealth.nvmlDeviceGetEccMode && nvmlHealth.nvmlDeviceGetEccMode(dev, &cur, &pend) == 0) o.Set("eccEnabled", cur != 0);
    else missing("eccMode");
    if (nvmlHealth.nvmlDeviceGetTotalEccErrors) {
      struct { const char* name; int type; int counter; } ecc[] = {
          {"eccCorrectedVolatile", NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC},
          {"eccUncorrectedVolatile", NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC},
          {"eccCorrectedAggregate", NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_AGGREGATE_ECC},
          {"eccUncorrectedAggregate", NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_AGGREGATE_ECC},
      };
      for (auto& e : ecc) {
        unsigned long long n = 0;
        if (nvmlHealth.nvmlDeviceGetTotalEccErrors(dev, e.type, e.counter, &n) == 0) o.Set(e.name, static_cast<double>(n));
        else missing(e.name);
      }
    } else {
      missing("eccErrors");
    }
    if (nvmlHealth.nvmlDeviceGetRetiredPages) {
      unsigned sbe = 0, dbe = 0;  // a count of 0 with no buffer asks for the count only
      bool ok = nvmlHealth.nvmlDeviceGetRetiredPages(dev, NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS, &sbe, nullptr) == 0 &&
                nvmlHealth.nvmlDeviceGetRetiredPages(dev, NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR, &dbe, nullptr) == 0;
      if (ok) {
        o.Set("retiredPagesSingleBit", sbe);
        o.Set("retiredPagesDoubleBit", dbe);
      } else {
        missing("retiredPages");
      }
    } else {
      missing("retiredPages");
    }
    int pendingRetire = 0;
    if (nvmlHealth.nvmlDeviceGetRetiredPagesPendingStatus && nvmlHealth.nvmlDeviceGetRetiredPagesPendingStatus(dev, &pendingRetire) == 0)
      o.Set("retiredPagesPending", pendingRetire != 0);
    else missing("retiredPagesPending");
    unsigned corr = 0, unc = 0, pendingRemap = 0, failure = 0;
    if (nvmlHealth.nvmlDeviceGetRemappedRows && nvmlHealth.nvmlDeviceGetRemappedRows(dev, &corr, &unc, &pendingRemap, &failure) == 0) {
      o.Set("remappedRowsCorrectable", corr);
      o.Set("remappedRowsUncorrectable", unc);
      o.Set("remappedRowsPending", pendingRemap != 0);
      o.Set("remappedRowsFailure", failure != 0);
    } else {
      missing("remappedRows");
    }
    o.Set("unsupported", unsupported);
    return o;
  });
}

}  // namespace gb
