// engine.cc — capture engine (in progress: layout only).
#include "engine.h"

#include "layout.h"

void InitEngine(Napi::Env env, Napi::Object exports) {
  exports.Set("layout", Napi::Function::New(env, Layout, "layout"));
}
