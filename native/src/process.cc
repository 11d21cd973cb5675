// process.cc — see process.h.
#include "process.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "errors.h"

namespace {

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

// watchExit(pid, callback): calls callback() on the JS thread once `pid` has exited (it may
// already be reaped by someone else: node-pty reaps its child itself).
Napi::Value WatchExit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "watchExit(pid, callback)");
  int pid = info[0].As<Napi::Number>().Int32Value();
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) throw ErrnoError(env, errno, "pidfd_open");
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "er-shell-exit", 0, 1);
  std::thread([pidfd, tsfn]() mutable {
    struct pollfd p = {pidfd, POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    close(pidfd);
    tsfn.BlockingCall();
    tsfn.Release();
  }).detach();
  return env.Undefined();
}

// pendingBytes(fd): bytes that a read(2) of the terminal fd would return now.
Napi::Value PendingBytes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "pendingBytes(fd)");
  int n = 0;
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), FIONREAD, &n) < 0) throw ErrnoError(env, errno, "FIONREAD");
  return Napi::Number::New(env, n);
}

}  // namespace

bool ReleaseInBackground(const std::vector<int> &fds) {
  pid_t child = fork();
  if (child < 0) return false;
  if (child == 0) {
    // Child: only async-signal-safe calls from here on (the parent is multithreaded).
    pid_t grandchild = fork();
    if (grandchild != 0) _exit(0);
    // Grandchild, reparented to init: keep only `fds` (so that no pipe or terminal stays open
    // on the caller's behalf), then close them and exit.
    struct rlimit rl;
    int max = (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536) ? static_cast<int>(rl.rlim_cur) : 65536;
    for (int fd = 0; fd < max; fd++) {
      if (std::find(fds.begin(), fds.end(), fd) == fds.end()) close(fd);
    }
    for (int fd : fds) close(fd);
    _exit(0);
  }
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return true;
}

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("watchExit", Napi::Function::New(env, WatchExit, "watchExit"));
  exports.Set("pendingBytes", Napi::Function::New(env, PendingBytes, "pendingBytes"));
}
