// engine.h — the capture engine: one Engine object owns the loaded BPF skeleton (load.h), its
// links, the ring-buffer poll thread and the thread-safe function that hands JS *batches* of the
// audit event lines of lines.h when begin() was given a format, else of the raw records.
//
//   new Engine(options, onBatch(buffer), onError(error))
//     .start()    take the preload (preload.h) or load, attach (matching nothing yet), start the
//                 cgroup id check's helper
//     .begin([lines])  finish the check, write the session cgroup to .bss, start the poll thread
//     .lost() / .pause() / .resume()
//     .stop()     drain, deliver, detach every link, join the poll thread (a Promise)
//
// Until the session cgroup is written the attached programs match nothing. Errors never abort the
// process: start() and begin() throw an Error with `code` (errors.h); a poll failure reaches JS
// through onError.
#pragma once
#include <napi.h>

#include "lines.h"

// A line format from JavaScript (NativeLineFormat in src/native/types.ts) without the session
// cgroup id, which is the engine's own (or the test's, native/test/test_addon.cc).
LineFormatter::Config LineConfigFrom(Napi::Object o);

// Registers the Engine class.
void InitEngine(Napi::Env env, Napi::Object exports);
