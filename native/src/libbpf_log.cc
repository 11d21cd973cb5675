// libbpf_log.cc — see libbpf_log.h.
#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <vector>

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

namespace {

std::string Unprefixed(std::string line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ' || line.back() == '\r')) line.pop_back();
  size_t start = line.find_first_not_of(' ');
  line = start == std::string::npos ? "" : line.substr(start);
  if (line.rfind("libbpf: ", 0) == 0) line = line.substr(8);
  return line;
}

// Verifier lines that are not its verdict: statistics, instructions, register states, source.
bool VerifierNoise(const std::string &line) {
  if (line.empty() || line[0] == ';' || line.rfind("processed ", 0) == 0 || line.rfind("verification time", 0) == 0 ||
      line.rfind("stack depth", 0) == 0 || line.rfind("-- ", 0) == 0 ||
      line.find("-- BEGIN PROG LOAD LOG --") != std::string::npos)
    return true;
  size_t digits = line.find_first_not_of("0123456789");
  return digits > 0 && digits != std::string::npos && line[digits] == ':';  // "12: (85) call ..." or "12: R1=..."
}

}  // namespace

std::string LibbpfReason(const std::string &log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) lines.push_back(Unprefixed(line));
  std::string failed;
  size_t begin = std::string::npos, end = std::string::npos;
  for (size_t i = 0; i < lines.size(); i++) {
    if (failed.empty() && lines[i].find("BPF program load failed") != std::string::npos) failed = lines[i];
    if (lines[i].find("-- BEGIN PROG LOAD LOG --") != std::string::npos && begin == std::string::npos) begin = i;
    if (lines[i].find("-- END PROG LOAD LOG --") != std::string::npos && begin != std::string::npos &&
        end == std::string::npos)
      end = i;
  }
  if (!failed.empty()) {
    std::string verdict;
    for (size_t i = end == std::string::npos ? lines.size() : end; begin != std::string::npos && i > begin + 1; i--) {
      if (!VerifierNoise(lines[i - 1])) {
        verdict = lines[i - 1];
        break;
      }
    }
    return verdict.empty() ? failed : failed + ": " + verdict;
  }
  for (const std::string &line : lines)
    if (!line.empty()) return line;
  return "";
}
