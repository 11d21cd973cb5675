// er_shell.node — entry point: registers the capture engine, the wire layout, the kernel probes and the terminal pump.
#include <napi.h>

#include "engine.h"
#include "probe.h"
#include "process.h"
#include "pump.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitEngine(env, exports);
  InitProbe(env, exports);
  InitProcess(env, exports);
  InitPump(env, exports);
  return exports;
}

NODE_API_MODULE(er_shell, Init)
