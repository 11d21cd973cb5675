// process.cc — see process.h.
#include "process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "errors.h"

extern char **environ;

namespace {

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

// watchExit(pid, callback): calls callback() on the JS thread once `pid` has exited (it may
// already be reaped by someone else: node-pty reaps its child itself).
Napi::Value WatchExit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "watchExit(pid, callback)");
  int pid = info[0].As<Napi::Number>().Int32Value();
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  // ESRCH: it has exited and been reaped already (a short command can be gone before we ask).
  if (pidfd < 0 && errno != ESRCH) throw ErrnoError(env, errno, "pidfd_open");
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "er-shell-exit", 0, 1);
  std::thread([pidfd, tsfn]() mutable {
    if (pidfd >= 0) {
      struct pollfd p = {pidfd, POLLIN, 0};
      while (poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      close(pidfd);
    }
    tsfn.BlockingCall();
    tsfn.Release();
  }).detach();
  return env.Undefined();
}

// exitNow(code): ends the process at once with `code` (_exit): no exit handlers, no teardown of
// Node's environment and threads (~4 ms here). For a caller that has closed and synced its files
// and written its output synchronously.
Napi::Value ExitNow(const Napi::CallbackInfo &info) {
  int code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  _exit(code);
}

}  // namespace

BackgroundRelease::BackgroundRelease(const std::vector<int> &fds) {
  if (fds.empty()) return;
  // The gate: the grandchild waits for EOF on it, i.e. until the caller has closed its copies
  // (then the grandchild's are the last, and the kernel's wait happens there).
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) != 0) return;
  std::vector<int> kept(fds);  // what the grandchild keeps: sorted, allocated before fork
  kept.push_back(gate[0]);
  std::sort(kept.begin(), kept.end());
  pid_t child = fork();
  if (child < 0) {
    close(gate[0]);
    close(gate[1]);
    return;
  }
  if (child == 0) {
    // Child: only async-signal-safe calls from here on (the parent is multithreaded).
    pid_t grandchild = fork();
    if (grandchild != 0) _exit(0);
    // Grandchild, reparented to init: keep only `fds` and the gate (so that no pipe or terminal
    // stays open on the caller's behalf). close_range (Linux 5.9) closes the gaps between them
    // in a few calls; one close per possible fd (65536 of them) burned ~20 ms of CPU that the
    // next session's start-up competed with.
    unsigned first = 0;
    bool ranges = true;
    for (size_t i = 0; i < kept.size() && ranges; i++) {
      unsigned fd = static_cast<unsigned>(kept[i]);
      if (fd > first) ranges = syscall(SYS_close_range, first, fd - 1, 0) == 0;
      first = fd + 1;
    }
    if (ranges) ranges = syscall(SYS_close_range, first, ~0u, 0) == 0;
    if (!ranges) {
      struct rlimit rl;
      int max = (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536) ? static_cast<int>(rl.rlim_cur) : 65536;
      for (int fd = 0; fd < max; fd++) {
        if (!std::binary_search(kept.begin(), kept.end(), fd)) close(fd);
      }
    }
    char byte;
    while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {
    }
    for (int fd : fds) close(fd);
    _exit(0);
  }
  close(gate[0]);
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  gate_ = gate[1];
}

BackgroundRelease::~BackgroundRelease() {
  if (gate_ >= 0) close(gate_);
}

int SpawnHelper(const std::vector<std::string> &argv, HelperRun *run, std::string *what) {
  std::vector<char *> args;
  for (const std::string &a : argv) args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    *what = "pipe";
    return errno;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
  int err = posix_spawn(&run->pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  if (err) {
    close(pipefd[0]);
    run->pid = -1;
    *what = "run " + argv[0];
    return err;
  }
  run->name = argv[0];
  run->stderr_fd = pipefd[0];
  return 0;
}

int WaitHelper(HelperRun *run, std::string *what) {
  int err = 0;
  while (waitpid(run->pid, &run->status, 0) < 0) {
    if (errno != EINTR) {
      err = errno;
      *what = "wait for " + run->name;
      break;
    }
  }
  // The helper has exited and said what it had to (one line on failure); a process it left behind
  // may still hold the pipe, so do not wait for the end of it.
  char said[512];
  ssize_t n = 0;
  int fl = fcntl(run->stderr_fd, F_GETFL);
  if (!err && fl >= 0 && fcntl(run->stderr_fd, F_SETFL, fl | O_NONBLOCK) == 0)
    n = read(run->stderr_fd, said, sizeof(said) - 1);
  close(run->stderr_fd);
  run->stderr_fd = -1;
  run->said = n > 0 ? std::string(said, static_cast<size_t>(n)) : "";
  while (!run->said.empty() && (run->said.back() == '\n' || run->said.back() == ' ')) run->said.pop_back();
  return err;
}

int RunHelper(const std::vector<std::string> &argv, HelperRun *run, std::string *what) {
  int err = SpawnHelper(argv, run, what);
  return err ? err : WaitHelper(run, what);
}

Napi::Error HelperFailed(Napi::Env env, const std::string &helper, const HelperRun &run) {
  int status = run.status;
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  Napi::Error e = Napi::Error::New(env, helper + " " + how + (run.said.empty() ? "" : ": " + run.said));
  e.Set("code", Napi::String::New(env, "EHELPER"));
  return e;
}

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("watchExit", Napi::Function::New(env, WatchExit, "watchExit"));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow, "exitNow"));
}
