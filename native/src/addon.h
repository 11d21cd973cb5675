// addon.h — what the addon keeps per Node environment, and the registration of its exports, shared
// by the production addon (addon.cc) and the test addon (native/test/test_addon.cc).
#pragma once
#include <napi.h>

#include <memory>

#include "load.h"

class PendingLoad;

// What distinguishes one build of the addon from the other: the production addon passes none.
struct AddonOptions {
  BeforeLoad before_load = nullptr;  // the test addon's verifier-rejection hook (native/test/)
};

// The addon's state in one Node environment (the main thread's or a worker's): Node-API instance
// data, made by RegisterAddon and destroyed with the environment, used on its JS thread only.
// Besides it the addon keeps no process globals but libbpf's print callback, which libbpf has one
// of per process (libbpf_log.h).
struct Instance {
  explicit Instance(const AddonOptions &options);
  ~Instance();

  const AddonOptions options;
  std::unique_ptr<PendingLoad> preload;  // preload(), until an engine takes it (preload.h)
};

// This environment's Instance (RegisterAddon made it).
Instance &InstanceOf(Napi::Env env);

// Makes the environment's Instance and sets every export of the production addon on `exports`:
// Engine, preload, discardPreload, layout, probe.*, watchExit, exitNow, Pump.
void RegisterAddon(Napi::Env env, Napi::Object exports, const AddonOptions &options);
