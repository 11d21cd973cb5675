// er_shell.node — the production addon's entry point: registers the capture engine and its preload,
// the wire layout, the kernel probes, the process primitives and the terminal pump (addon.h). The
// test addon (native/test/test_addon.cc) registers the same and its test-only functions.
#include <napi.h>

#include "addon.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterAddon(env, exports, AddonOptions());
  return exports;
}

NODE_API_MODULE(er_shell, Init)
