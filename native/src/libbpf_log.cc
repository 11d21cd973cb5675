// libbpf_log.cc — see libbpf_log.h.
#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace {

thread_local std::string *sink = nullptr;

int Print(enum libbpf_print_level level, const char *format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  // One call can carry a whole verifier log: size it first.
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n < 0) return 0;
  std::string line(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(line.data(), line.size(), format, args);
  line.resize(static_cast<size_t>(n));
  if (sink) sink->append(line);
  const char *debug = getenv("ER_SHELL_DEBUG");
  if (debug && *debug && *debug != '0') fputs(line.c_str(), stderr);
  return n;
}

void InstallOnce() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(Print); });
}

}  // namespace

LibbpfLogCapture::LibbpfLogCapture() : previous_(sink) {
  InstallOnce();
  sink = &text_;
}

LibbpfLogCapture::~LibbpfLogCapture() { sink = previous_; }

std::string LibbpfLogCapture::Tail(size_t max) const {
  std::string t = text_;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  if (t.size() > max) t = "..." + t.substr(t.size() - max);
  return t;
}
