// libbpf_log.h — libbpf's log goes to a per-thread capture buffer (so a failed load can say why
// in its Error) instead of the process's stderr. ER_SHELL_DEBUG=1 also echoes it to stderr.
#pragma once
#include <string>

class LibbpfLogCapture {
 public:
  LibbpfLogCapture();
  ~LibbpfLogCapture();
  LibbpfLogCapture(const LibbpfLogCapture &) = delete;
  LibbpfLogCapture &operator=(const LibbpfLogCapture &) = delete;

  // The last lines of what libbpf printed (warnings and errors), at most `max` bytes.
  std::string Tail(size_t max = 1500) const;

  // Everything captured so far, and adding what another thread's capture collected (work done on
  // a quiet thread, for instance).
  const std::string &Text() const { return text_; }
  void Add(const std::string &text) { text_ += text; }

 private:
  std::string text_;
  std::string *previous_;
};

// The meaningful lines of a libbpf log after a failed load, as one line: for a program the verifier
// refused, libbpf's "prog '...': BPF program load failed: ..." and the verifier's last words before
// its statistics; otherwise libbpf's first line (the cause; later lines repeat the failure upward).
// Empty when the log is.
std::string LibbpfReason(const std::string &log);
