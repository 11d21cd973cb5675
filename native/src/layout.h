// layout.h — exports sizeof/offsetof of the wire structs and the header's constants to JS, made from
// the field lists in bpf/er_shell.h, so the TypeScript decoder is checked against the C header
// instead of mirroring it by hand.
#pragma once
#include <napi.h>

Napi::Value Layout(const Napi::CallbackInfo &info);
