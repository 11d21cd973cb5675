// er_shell.node — entry point: registers the capture engine, the wire layout and the kernel probes.
#include <napi.h>

#include "engine.h"
#include "probe.h"
#include "process.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitEngine(env, exports);
  InitProbe(env, exports);
  InitProcess(env, exports);
  return exports;
}

NODE_API_MODULE(er_shell, Init)
