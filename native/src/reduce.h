// Host reduction (collectives' CPU path): see reduce.cc.
#pragma once
#include <napi.h>

namespace gb {
/** Adds `reduce(dtype, op, dst, src)` to the addon's exports. */
void registerReduce(Napi::Env env, Napi::Object exports);
}  // namespace gb
