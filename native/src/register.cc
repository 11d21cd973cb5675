// register.cc — see addon.h.
#include "addon.h"

#include "engine.h"
#include "layout.h"
#include "lines.h"
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
  // normalizePath(path) / resolvePath(base, rel): the line formatter's path.posix (tests).
  exports.Set("normalizePath", Napi::Function::New(env, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Buffer<uint8_t> p = info[0].As<Napi::Buffer<uint8_t>>();
    std::string out = NormalizeAbsolute(p.Data(), p.Length());
    return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
  }, "normalizePath"));
  exports.Set("resolvePath", Napi::Function::New(env, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
    Napi::Buffer<uint8_t> r = info[1].As<Napi::Buffer<uint8_t>>();
    std::string out = ResolveRelative(b.Data(), b.Length(), r.Data(), r.Length());
    return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
  }, "resolvePath"));
  // jsonText(buffer): the JSON string contents the line formatter writes for these bytes (tests).
  exports.Set("jsonText", Napi::Function::New(env, [](const Napi::CallbackInfo &info) -> Napi::Value {
    Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
    std::string out;
    AppendJsonText(&out, b.Data(), b.Length());
    return Napi::String::New(info.Env(), out);
  }, "jsonText"));
}
