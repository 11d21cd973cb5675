// engine.h — the capture engine: loads the BPF skeleton, polls the ring buffers, hands JS batches.
#pragma once
#include <napi.h>

void InitEngine(Napi::Env env, Napi::Object exports);

// probe.captureObject(params) for check-kernel: loads, attaches and releases the real object.
Napi::Value CaptureObject(const Napi::CallbackInfo &info);
