// process.h — small process/terminal primitives Node lacks: wait for a pid's exit with a pidfd, bytes
// waiting to be read on a terminal fd (FIONREAD), and a detached release of file descriptors.
#pragma once
#include <napi.h>

#include <vector>

void InitProcess(Napi::Env env, Napi::Object exports);

// Closes `fds` in a detached grandchild instead of here: the kernel work that closing them
// triggers (tearing down tracepoint links: ~35-70 ms each) happens off the caller's path. The
// caller must close its own copies afterwards. Returns false when fork failed (then nothing
// happened and the caller should close them the slow way).
bool ReleaseInBackground(const std::vector<int> &fds);
