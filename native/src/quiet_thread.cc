// quiet_thread.cc — see quiet_thread.h.
#include "quiet_thread.h"

#include <pthread.h>
#include <signal.h>

#include <utility>

std::thread StartQuietThread(std::function<void()> fn) {
  // A new thread inherits its creator's signal mask: block everything around its creation so
  // that no signal can reach it before it runs, then restore ours.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  std::thread thread;
  try {
    thread = std::thread(std::move(fn));
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return thread;
}

void RunQuietly(std::function<void()> fn) { StartQuietThread(std::move(fn)).join(); }
