// preload.h — `record` starts loading the BPF object while the rest of er-shell is still starting
// (preload()); the engine started next adopts that load when it was made for the same LoadParams.
//
//   preload(params)     start loading for these parameters on a quiet thread (one at a time: an
//                       earlier preload is discarded)
//   discardPreload()    discard a preload no engine took (record exits before starting one)
//
// The preload belongs to the Node environment that made it (Instance::preload, addon.h), not to
// the process.
#pragma once
#include <napi.h>

#include <memory>
#include <thread>

#include "load.h"

// A load running on its own quiet thread (quiet_thread.h), which it owns and joins: Take() waits
// for the load and hands its result over; a PendingLoad destroyed before that waits for the load
// and destroys what it loaded (nothing of it stays attached, we hold none of its programs or maps).
class PendingLoad {
 public:
  explicit PendingLoad(const LoadParams &params);
  ~PendingLoad();
  PendingLoad(const PendingLoad &) = delete;
  PendingLoad &operator=(const PendingLoad &) = delete;

  const LoadParams &params() const { return params_; }

  // Waits for the load and takes its result (once).
  Loaded Take();

 private:
  const LoadParams params_;
  Loaded result_;       // written by the thread, read after joining it
  std::thread thread_;  // started last: it reads params_ and writes result_
};

// Takes this environment's preload out of its slot: nullptr when there is none.
std::unique_ptr<PendingLoad> TakePreload(Napi::Env env);

// Registers preload() and discardPreload().
void InitPreload(Napi::Env env, Napi::Object exports);
