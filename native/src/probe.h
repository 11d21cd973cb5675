// probe.h — kernel capability probes used by `er-shell check-kernel`.
#pragma once
#include <napi.h>

void InitProbe(Napi::Env env, Napi::Object exports);
