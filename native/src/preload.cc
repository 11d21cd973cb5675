// preload.cc — see preload.h.
#include "preload.h"

#include <utility>

#include "addon.h"
#include "quiet_thread.h"

// The thread is joined, never detached: Take() and the destructor (discardPreload(), a preload
// replaced or not adopted, the environment's teardown: ~Instance) wait for the load, so the thread
// never outlives what it writes to. Node-API does not need it detached: the thread never calls into
// JS. When the process ends in exit() (process.exit) instead, the instance data is not destroyed: a
// load still running then writes only to memory nothing frees, and the kernel releases what it
// loaded.
PendingLoad::PendingLoad(const LoadParams &params) : params_(params) {
  thread_ = StartQuietThread([this] { result_ = OpenAndLoad(params_); });
}

PendingLoad::~PendingLoad() {
  if (thread_.joinable()) thread_.join();
  result_.Dispose();
}

Loaded PendingLoad::Take() {
  if (thread_.joinable()) thread_.join();
  Loaded out = std::move(result_);
  result_ = Loaded();
  return out;
}

std::unique_ptr<PendingLoad> TakePreload(Napi::Env env) { return std::move(InstanceOf(env).preload); }

namespace {

// discardPreload(): discards a preload no engine took (record exits before starting one): its
// links would otherwise make the exit wait for the kernel to detach them.
Napi::Value DiscardPreload(const Napi::CallbackInfo &info) {
  TakePreload(info.Env()).reset();  // waits for the load, then releases it
  return info.Env().Undefined();
}

// preload(options): starts loading the BPF object for these kinds and ring sizes now, on a quiet
// thread; the next engine started with the same ones adopts it instead of loading its own.
Napi::Value Preload(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "preload(options)");
  LoadParams params = LoadParamsFrom(env, info[0].As<Napi::Object>());
  std::unique_ptr<PendingLoad> earlier = TakePreload(env);
  auto pending = std::make_unique<PendingLoad>(params);
  earlier.reset();  // discarded while ours loads
  InstanceOf(env).preload = std::move(pending);
  return env.Undefined();
}

}  // namespace

void InitPreload(Napi::Env env, Napi::Object exports) {
  exports.Set("preload", Napi::Function::New(env, Preload, "preload"));
  exports.Set("discardPreload", Napi::Function::New(env, DiscardPreload, "discardPreload"));
}
