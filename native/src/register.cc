// register.cc — see addon.h.
#include "addon.h"

#include "engine.h"
#include "layout.h"
#include "preload.h"
#include "probe.h"
#include "process.h"
#include "pump.h"

Instance::Instance(const AddonOptions &options) : options(options) {}

Instance::~Instance() = default;  // a preload no engine took: waits for it, then releases it

Instance &InstanceOf(Napi::Env env) { return *env.GetInstanceData<Instance>(); }

void RegisterAddon(Napi::Env env, Napi::Object exports, const AddonOptions &options) {
  env.SetInstanceData<Instance>(new Instance(options));
  InitEngine(env, exports);
  InitPreload(env, exports);
  exports.Set("layout", Napi::Function::New(env, Layout, "layout"));
  InitProbe(env, exports);
  InitProcess(env, exports);
  InitPump(env, exports);
}
