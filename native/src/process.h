// process.h — small process/terminal primitives Node lacks: wait for a pid's exit with a pidfd, bytes
// waiting to be read on a terminal fd (FIONREAD), and a detached release of file descriptors.
#pragma once
#include <napi.h>

#include <string>
#include <sys/types.h>
#include <vector>

void InitProcess(Napi::Env env, Napi::Object exports);

// Closes `fds` in a detached grandchild instead of here: the kernel work that closing them
// triggers (tearing down tracepoint links: ~35-70 ms each) happens off the caller's path. The
// caller must close its own copies afterwards. Returns false when fork failed (then nothing
// happened and the caller should close them the slow way).
bool ReleaseInBackground(const std::vector<int> &fds);

// A helper program run to completion: its pid, wait status and what it wrote on stderr.
struct HelperRun {
  pid_t pid = -1;
  int status = 0;
  std::string said;
};

// Runs argv[0] with `argv` (posix_spawn, the environment inherited, stderr captured through a
// pipe) and waits for it. Returns 0, or the errno of what failed (`*what` names it).
int RunHelper(const std::vector<std::string> &argv, HelperRun *run, std::string *what);

// The Error for a helper that did not exit with status 0: code EHELPER, its one line of stderr.
Napi::Error HelperFailed(Napi::Env env, const std::string &helper, const HelperRun &run);
