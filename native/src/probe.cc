// probe.cc — kernel capability probes for check-kernel (in progress).
#include "probe.h"

void InitProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Object::New(env));
}
