// process.h — small process primitives Node lacks: wait for a pid's exit with a pidfd, run a helper
// program, and a detached release of file descriptors.
#pragma once
#include <napi.h>

#include <sys/types.h>
#include <string>
#include <vector>

void InitProcess(Napi::Env env, Napi::Object exports);

// Hands copies of `fds` to a detached grandchild that closes them once this object is destroyed:
// the kernel work that closing them triggers (tearing down tracepoint links: ~35-70 ms each)
// then happens there, off the caller's path, provided the caller has closed its own copies
// before (the grandchild's must be the last). ok() is false when that could not be arranged
// (fork failed): then nothing happened and the caller should close them the slow way.
class BackgroundRelease {
 public:
  explicit BackgroundRelease(const std::vector<int> &fds);
  ~BackgroundRelease();
  BackgroundRelease(const BackgroundRelease &) = delete;
  BackgroundRelease &operator=(const BackgroundRelease &) = delete;
  bool ok() const { return gate_ >= 0; }

 private:
  int gate_ = -1;  // write end of the pipe the grandchild waits on
};

// A helper program: its pid, wait status and what it wrote on stderr.
struct HelperRun {
  pid_t pid = -1;
  int status = 0;
  std::string said;
  std::string name;    // argv[0]
  int stderr_fd = -1;  // read end of its stderr until WaitHelper
};

// Starts argv[0] with `argv` (posix_spawn, the environment inherited, stderr captured through a
// pipe). Returns 0, or the errno of what failed (`*what` names it).
int SpawnHelper(const std::vector<std::string> &argv, HelperRun *run, std::string *what);

// Waits for a helper SpawnHelper started and collects its status and stderr line.
int WaitHelper(HelperRun *run, std::string *what);

// SpawnHelper, then WaitHelper.
int RunHelper(const std::vector<std::string> &argv, HelperRun *run, std::string *what);

// The Error for a helper that did not exit with status 0: code EHELPER, its one line of stderr.
Napi::Error HelperFailed(Napi::Env env, const std::string &helper, const HelperRun &run);
