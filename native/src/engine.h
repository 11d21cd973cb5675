// engine.h — the capture engine: loads the BPF skeleton, polls the ring buffers, hands JS batches.
#pragma once
#include <napi.h>

void InitEngine(Napi::Env env, Napi::Object exports);
