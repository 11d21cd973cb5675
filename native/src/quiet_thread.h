// quiet_thread.h — threads that never take a signal, for work the kernel aborts when one is pending.
//
// The BPF verifier gives up with -EINTR/-EAGAIN as soon as a signal is pending for the loading
// thread, and libbpf retries a load only a few times: a profiler's SIGPROF (node --cpu-prof) or a
// burst of SIGCHLD/SIGWINCH during the load made `record` fail with "load BPF programs". A thread
// that blocks every signal is never chosen to take a process-directed signal, and nothing sends
// it one of its own, so its loads run to the end. Signals go to the other threads as before.
#pragma once
#include <functional>
#include <thread>

// Starts fn on a new thread that blocks every signal from its first instruction on.
std::thread StartQuietThread(std::function<void()> fn);

// Runs fn on such a thread and waits for it.
void RunQuietly(std::function<void()> fn);
